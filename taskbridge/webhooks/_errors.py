"""The errors of `taskbridge.webhooks`, each a `TaskBridgeError`.

```
TaskBridgeError
├── InvalidSignatureError    missing, malformed or wrong signature (receivers: 401)
├── WebhookBodyTooLargeError the body is over max_body_bytes (receivers: 413)
├── WebhookPayloadError      also a ValueError; verified, but not events (receivers: 400)
└── WebhookKeyError          the public key cannot be read (or the webhooks extra is absent)
```

Failures of the key fetch itself (401, 5xx, timeouts) are the bridge's own
`ProviderError` subclasses (`AuthenticationError`, `ServerError`, `RequestTimeoutError`).
Messages never quote the signature, the secret or the body.
"""

from __future__ import annotations

from .._base.errors import TaskBridgeError

__all__ = [
    "InvalidSignatureError",
    "WebhookBodyTooLargeError",
    "WebhookKeyError",
    "WebhookPayloadError",
]


class InvalidSignatureError(TaskBridgeError):
    """The request is not signed right: no signature, not base64, or not over this body
    with the key (or secret) configured. Raised before the body is parsed."""


class WebhookBodyTooLargeError(TaskBridgeError):
    """The body is larger than ``max_body_bytes``; nothing was verified."""


class WebhookPayloadError(TaskBridgeError, ValueError):
    """The body is signed right but is not one event envelope or an array of them."""


class WebhookKeyError(TaskBridgeError):
    """The public key could not be read from what it was given (or fetched)."""
