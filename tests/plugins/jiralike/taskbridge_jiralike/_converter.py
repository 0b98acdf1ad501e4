"""The cattrs converter of jiralike bodies: the provider kit's, plus the error body."""

from __future__ import annotations

import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, override

from taskbridge.providers import make_converter

from ._models import JiralikeError

__all__ = ["decode_error", "make_jiralike_converter"]


def make_jiralike_converter(*, detailed_validation: bool = False) -> cattrs.Converter:
    """The converter of `JiralikeIssue` (and back, for ``to_dict``): the kit's rules
    (camelCase wire names, open enums, UTC timestamps, strict types)."""
    converter = make_converter(detailed_validation=detailed_validation)
    converter.register_structure_hook(
        JiralikeError,
        make_dict_structure_fn(
            JiralikeError, converter, error_messages=override(rename="errorMessages")
        ),
    )
    return converter


_CONVERTER = make_jiralike_converter()


def decode_error(body: bytes) -> JiralikeError | None:
    """Read an error body leniently: ``None`` when it is not one."""
    try:
        return _CONVERTER.structure(orjson.loads(body), JiralikeError)
    except Exception:
        return None
