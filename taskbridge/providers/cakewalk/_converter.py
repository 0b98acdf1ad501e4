"""The cattrs converters for Cakewalk answers."""

from __future__ import annotations

from typing import Any

import cattrs

from ..._decode.convert import make_converter
from ..._decode.deep import json_object
from ._models import CakewalkProblemDetails

__all__ = ["make_cakewalk_converter", "parse_problem_details"]


def make_cakewalk_converter(*, detailed_validation: bool = False) -> cattrs.Converter:
    """Return a new converter for Cakewalk models (never the global converter)."""
    return make_converter(detailed_validation=detailed_validation)


_PROBLEM_FIELDS: dict[str, type[Any]] = {
    "type": str,
    "title": str,
    "status": int,
    "detail": str,
    "instance": str,
}


def parse_problem_details(body: bytes) -> CakewalkProblemDetails | None:
    """Read a ProblemDetails body leniently: a field of the wrong type is dropped."""
    data = json_object(body)
    if data is None:
        return None
    known: dict[str, Any] = {}
    for key, kind in _PROBLEM_FIELDS.items():
        value = data.get(key)
        if type(value) is kind:
            known[key] = value
    extensions = {k: v for k, v in data.items() if k not in _PROBLEM_FIELDS}
    return CakewalkProblemDetails(**known, extensions=extensions)
