"""Reading a public key from whatever Cakewalk's ``/api/Keys`` answers.

Its shape is not documented, so each plausible form is read: PEM text (of a
``PUBLIC KEY`` or an ``RSA PUBLIC KEY``), base64 of DER (either structure), raw DER,
or JSON holding one of these as a string, under any field (``publicKey``, ``key``,
``pem``, ... first), in an object, an array, or nested one level in ``data``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from typing import TYPE_CHECKING, Any

import orjson

from ._errors import WebhookKeyError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = ["load_public_key", "need_cryptography"]

# Fields tried first, in this order, before any other string of the JSON.
_FIELDS = ("publicKey", "public_key", "key", "pem", "value", "publicKeyPem", "data")
_MAX_DEPTH = 4


def need_cryptography() -> Any:
    """The ``cryptography`` package, or a `WebhookKeyError` saying how to install it."""
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError as exc:
        raise WebhookKeyError(
            'taskbridge.webhooks needs the webhooks extra: pip install "aiotaskbridge[webhooks]"'
        ) from exc
    return serialization


def load_public_key(data: bytes | str) -> RSAPublicKey:
    """Return the RSA public key in ``data`` (any form above), or raise `WebhookKeyError`."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    for candidate in _candidates(raw.strip(), 0):
        key = _try_load(candidate)
        if key is not None:
            return key
    raise WebhookKeyError(
        f"no RSA public key found in the key data ({len(raw)} bytes): expected PEM, "
        "base64 DER, or JSON with the key under a field such as 'publicKey'"
    )


def _candidates(raw: bytes, depth: int) -> list[bytes]:
    if depth > _MAX_DEPTH or not raw:
        return []
    found = [raw]
    if raw[:1] in (b"{", b"[", b'"'):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return found
        for text in _strings(parsed, 0):
            found.extend(_candidates(text.strip().encode(), depth + 1))
    return found


def _strings(value: object, depth: int) -> list[str]:
    if depth > _MAX_DEPTH:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item, depth + 1)]
    if isinstance(value, dict):
        named = [value[f] for f in _FIELDS if f in value]
        others = [v for k, v in value.items() if k not in _FIELDS]
        return [s for item in (*named, *others) for s in _strings(item, depth + 1)]
    return []


def _try_load(raw: bytes) -> RSAPublicKey | None:
    serialization = need_cryptography()
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    ders: list[bytes] = []
    if b"-----BEGIN" in raw:
        # A PEM pasted into JSON may carry literal "\n" sequences instead of newlines.
        pem = raw.replace(b"\\n", b"\n")
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            return None
        return key if isinstance(key, RSAPublicKey) else None
    with contextlib.suppress(binascii.Error, ValueError):
        ders.append(base64.b64decode(b"".join(raw.split()), validate=True))
    ders.append(raw)
    for der in ders:
        for load in (serialization.load_der_public_key, _load_pkcs1_der):
            try:
                key = load(der)
            except (ValueError, TypeError):
                continue
            if isinstance(key, RSAPublicKey):
                return key
    return None


def _load_pkcs1_der(der: bytes) -> object:
    """An ``RSA PUBLIC KEY`` (PKCS#1) DER, which ``load_der_public_key`` does not read."""
    from cryptography.hazmat.primitives import serialization

    body = base64.encodebytes(der).decode()
    pem = f"-----BEGIN RSA PUBLIC KEY-----\n{body}-----END RSA PUBLIC KEY-----\n"
    return serialization.load_pem_public_key(pem.encode())
