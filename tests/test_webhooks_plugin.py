"""The pytest plugin's ``taskbridge_webhook_signer`` fixture, used as a user would."""

from __future__ import annotations

import pytest

from taskbridge.pytest_plugin import WebhookSigner
from taskbridge.webhooks import ActionableTaskEvent, InvalidSignatureError

TASK_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


async def test_the_signer_signs_what_its_hooks_verify(
    taskbridge_webhook_signer: WebhookSigner,
) -> None:
    hooks = taskbridge_webhook_signer.hooks()
    body, headers = taskbridge_webhook_signer.actionable(
        TASK_ID, requestMetadata={"requestType": "GrantAccessRequest"}
    )
    [event] = await hooks.verify(body, headers)
    assert isinstance(event, ActionableTaskEvent)
    assert event.ref.task_id == TASK_ID
    assert event.request_metadata is not None
    assert event.request_metadata.request_type == "GrantAccessRequest"
    raw, raw_headers = taskbridge_webhook_signer.sign(b'{"eventType": "test", "data": {}}')
    assert await hooks.verify(raw, raw_headers)
    with pytest.raises(InvalidSignatureError):
        await hooks.verify(raw + b" ", raw_headers)
    assert repr(taskbridge_webhook_signer) == "<taskbridge WebhookSigner>"  # no key in it
