"""The cattrs converter of jiralike bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, override

from taskbridge.providers import SchemaError

from ._models import JiralikeError, JiralikeIssue

__all__ = ["decode_error", "decode_issue", "make_jiralike_converter"]


def _datetime(value: Any, _: type) -> datetime:
    if not isinstance(value, str):
        raise TypeError("expected an ISO 8601 string")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a timestamp needs an offset")
    return moment


def make_jiralike_converter(*, detailed_validation: bool = False) -> cattrs.Converter:
    """The converter of `JiralikeIssue` (and back, for ``to_dict``)."""
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed_validation)
    converter.register_structure_hook(datetime, _datetime)
    converter.register_unstructure_hook(datetime, lambda d: d.isoformat())
    converter.register_structure_hook(
        JiralikeError,
        make_dict_structure_fn(
            JiralikeError, converter, error_messages=override(rename="errorMessages")
        ),
    )
    return converter


_CONVERTER = make_jiralike_converter(detailed_validation=True)


def decode_issue(body: bytes) -> JiralikeIssue:
    """Decode a 200 body; `SchemaError` naming the field when it does not fit."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SchemaError("not JSON") from None
    try:
        return _CONVERTER.structure(data, JiralikeIssue)
    except Exception as exc:
        fields = (
            [str(e) for e in cattrs.transform_error(exc)]
            if isinstance(exc, cattrs.BaseValidationError)
            else [type(exc).__name__]
        )
        raise SchemaError("; ".join(fields)) from None


def decode_error(body: bytes) -> JiralikeError | None:
    """Read an error body leniently: ``None`` when it is not one."""
    try:
        return _CONVERTER.structure(orjson.loads(body), JiralikeError)
    except Exception:
        return None
