"""The cattrs converters for Alumio answers."""

from __future__ import annotations

from typing import Any

import cattrs

from ..._decode.convert import make_converter
from ..._decode.deep import json_object
from ._models import AlumioError, AlumioViolation

__all__ = ["make_alumio_converter", "parse_error"]


def make_alumio_converter(*, detailed_validation: bool = False) -> cattrs.Converter:
    """Return a new converter for Alumio models (never the global converter)."""
    return make_converter(detailed_validation=detailed_validation)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_error(body: bytes) -> AlumioError | None:
    """Read an ``Error`` body leniently: a field of the wrong type is dropped.

    ``status`` is a string in the spec; a number is accepted and kept as its text.
    """
    data = json_object(body)
    if data is None:
        return None
    status = data.get("status")
    if isinstance(status, int) and not isinstance(status, bool):
        status = str(status)
    violations: list[AlumioViolation] | None = None
    raw_violations = data.get("violations")
    if isinstance(raw_violations, list):
        violations = [
            AlumioViolation(
                title=_text(v.get("title")),
                property_path=_text(v.get("propertyPath")),
                type=_text(v.get("type")),
            )
            for v in raw_violations
            if isinstance(v, dict)
        ]
    context: Any = data.get("context")
    return AlumioError(
        status=_text(status),
        context=context if isinstance(context, dict) else None,
        type=_text(data.get("type")),
        title=_text(data.get("title")),
        detail=_text(data.get("detail")),
        violations=violations,
    )
