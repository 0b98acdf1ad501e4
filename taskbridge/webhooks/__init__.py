"""Cakewalk's webhooks, verified and typed (``pip install "aiotaskbridge[webhooks]"``).

```python
from taskbridge.webhooks import CakewalkWebhooks

hooks = CakewalkWebhooks(public_key=pem_bytes)  # no I/O; or CakewalkWebhooks.from_config(config)
events = await hooks.verify(body, headers)       # list[WebhookEvent]
```

`verify` checks the ``X-SIGNATURE`` header (RSA PKCS#1 v1.5 over SHA-256 by default;
PSS, SHA-1/384/512 and an HMAC-SHA256 mode for the other readings of Cakewalk's
documentation) before it parses anything. `aiohttp_handler` and `asgi_app` are
ready-made receivers, and ``bridge.watch(refs, events=hooks)`` /
``bridge.wait(..., events=hooks)`` poll a task as soon as a verified event names it.
"""

from ._errors import (
    InvalidSignatureError,
    WebhookBodyTooLargeError,
    WebhookKeyError,
    WebhookPayloadError,
)
from ._events import (
    ActionableTaskEvent,
    Person,
    RequestMetadata,
    TestEvent,
    UnknownEvent,
    WebhookEvent,
    WorkApp,
    make_webhooks_converter,
    parse_events,
)
from ._hooks import DEFAULT_MAX_BODY_BYTES, CakewalkWebhooks
from ._keys import load_public_key
from ._receivers import aiohttp_handler, asgi_app

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ActionableTaskEvent",
    "CakewalkWebhooks",
    "InvalidSignatureError",
    "Person",
    "RequestMetadata",
    "TestEvent",
    "UnknownEvent",
    "WebhookBodyTooLargeError",
    "WebhookEvent",
    "WebhookKeyError",
    "WebhookPayloadError",
    "WorkApp",
    "aiohttp_handler",
    "asgi_app",
    "load_public_key",
    "make_webhooks_converter",
    "parse_events",
]
