"""The id a decoding test asks for: the one its body holds, since an answer for another
task is refused (`TaskAdapter.same_id`)."""

from __future__ import annotations

from typing import Any

import orjson

# Where each provider's task and its id sit in a 200 body.
_WHERE = {"cakewalk": ("data", "id"), "alumio": ("object", "identifier")}


def asked_for(provider: str, body: bytes | Any, default: str) -> str:
    """The id of the task in ``body`` (last value of a duplicate key, as the decoders
    read it), or ``default`` when the body names none."""
    try:
        doc = orjson.loads(body) if isinstance(body, (bytes, str)) else body
    except orjson.JSONDecodeError:
        return default
    task_key, id_key = _WHERE[provider]
    task = doc.get(task_key) if isinstance(doc, dict) else None
    found = task.get(id_key) if isinstance(task, dict) else None
    return found if isinstance(found, str) else default
