"""The decoding error, apart from the decoders: raising or catching it loads no cattrs."""

from __future__ import annotations

__all__ = ["SchemaError"]


class SchemaError(ValueError):
    """A document that is not JSON or does not fit the model; the message names the fields."""
