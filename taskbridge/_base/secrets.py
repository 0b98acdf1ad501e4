"""Keeping credentials out of what errors carry: bodies, causes and their attributes.

A provider may echo a credential back (an error body that quotes the key it got);
aiohttp's own errors carry the request's headers. Before either reaches an error a
user can see, log, pickle or send to an error tracker, it passes through here.
"""

from __future__ import annotations

import contextlib
from typing import Any

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["MASK", "Redactor", "sanitize_cause"]

MASK = "***"

# Headers whose value is a credential whatever it looks like.
_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-api-secret"}
)


class Redactor:
    """Removes known secrets from text a provider sends back (an echoed key, say)."""

    __slots__ = ("_raw", "_secrets")

    def __init__(self, secrets: list[str]) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._raw = [s.encode() for s in self._secrets]

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._secrets)} secrets>"

    def body(self, data: bytes) -> bytes:
        """Mask secrets in a raw body before it is parsed into an error's ``.body``."""
        for secret in self._raw:
            if secret in data:
                data = data.replace(secret, MASK.encode())
        return data

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def text(self, text: str) -> str:
        """`__call__` for a string that is never ``None``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def parsed(self, value: Any) -> Any:
        """Mask secrets in a freshly parsed error body, in place, at any depth.

        The raw bytes were masked already, but JSON can spell a secret many ways
        (``\\/``, ``\\u0041``) that only parsing reveals. Walks dicts, lists and attrs
        instances without recursion (a body may nest a thousand levels); returns the
        value, or its masked copy when it is itself a string.
        """
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        stack = [value]
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if id(node) not in seen:
                seen.add(id(node))
                stack.extend(self._mask_children(node))
        return value

    def _mask_children(self, node: object) -> list[object]:
        """Mask the strings directly inside ``node``; return its containers to visit."""
        pending: list[object] = []

        def visit(item: object) -> object:
            if isinstance(item, str):
                return self.text(item)
            if isinstance(item, (dict, list)) or attrs.has(type(item)):
                pending.append(item)
            return item

        if isinstance(node, dict):
            for key, item in list(node.items()):
                masked_key = self.text(key) if isinstance(key, str) else key
                if masked_key != key:
                    del node[key]
                node[masked_key] = visit(item)
        elif isinstance(node, list):
            node[:] = [visit(item) for item in node]
        elif attrs.has(type(node)):
            for field in attrs.fields(type(node)):  # type: ignore[arg-type]  # attrs.has above
                # The models are frozen; this instance was built a moment ago from
                # the body and nobody else holds it yet.
                object.__setattr__(node, field.name, visit(getattr(node, field.name)))
        return pending


def _masked_info(info: aiohttp.RequestInfo, redact: Redactor) -> aiohttp.RequestInfo:
    headers = CIMultiDict(
        (name, MASK if name.lower() in _CREDENTIAL_HEADERS else redact.text(value))
        for name, value in info.headers.items()
    )
    return aiohttp.RequestInfo(info.url, info.method, CIMultiDictProxy(headers), info.real_url)


def sanitize_cause(exc: BaseException, redact: Redactor) -> BaseException:
    """Make ``exc`` safe to chain as a ``__cause__``, in place, and return it.

    Drops its traceback (whose frames hold aiohttp's locals, request headers
    included), its own cause and context, and any history of responses; masks
    credential headers in its ``request_info`` and secrets in its string arguments
    and attributes. What it says (type and message) stays, for debugging.
    """
    exc.__traceback__ = None
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True
    state = getattr(exc, "__dict__", {})
    for name, value in list(state.items()):
        if isinstance(value, aiohttp.RequestInfo):
            state[name] = _masked_info(value, redact)
        elif isinstance(value, str):
            state[name] = redact.text(value)
        elif name == "history":
            state[name] = ()
        elif isinstance(value, BaseException):
            state[name] = sanitize_cause(value, redact)
    args: list[object] = []
    for arg in exc.args:
        if isinstance(arg, aiohttp.RequestInfo):
            args.append(_masked_info(arg, redact))
        elif isinstance(arg, str):
            args.append(redact.text(arg))
        elif isinstance(arg, tuple) and any(isinstance(a, aiohttp.ClientResponse) for a in arg):
            args.append(())
        else:
            args.append(arg)
    with contextlib.suppress(AttributeError, TypeError):  # a type that fixes its args
        exc.args = tuple(args)
    return exc
