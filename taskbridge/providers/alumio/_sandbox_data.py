"""Deterministic Alumio tasks, written as Alumio puts them on the wire.

Like the Cakewalk data, every choice a test wants covered hangs off a task's slot.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

from .._kit.emulation import person, pick, random_moment, task_rng

__all__ = [
    "ALUMIO_STATUSES",
    "ALUMIO_UNUSUAL_IDS",
    "alumio_space",
    "alumio_task",
    "seeded_alumio",
]

# "rejected" is documented by Alumio but missing from the spec's enum: served on purpose.
ALUMIO_STATUSES = (
    "new",
    "processing",
    "finished",
    "failed",
    "resolved",
    "skipped",
    "retry",
    "waiting",
    "killed",
    "rejected",
)
# Identifiers that only survive the trip if the client percent-encodes one path segment.
ALUMIO_UNUSUAL_IDS = (
    "orders/2024/export-7",
    "nightly export 17",
    "commande-été-東京-✓",
    "what?-task-1",
    "hash#tag-task",
    "..",
    "100%-done",
    "a+b=c&d",
    ".",
)
# (entity type, identifier prefix, route, incoming, outgoing)
_ALUMIO_FLOWS = (
    ("order", "order-export", "shopify-orders-to-exact", "Shopify orders", "Exact Online"),
    ("customer", "customer-import", "hubspot-customers-to-magento", "HubSpot", "Magento"),
    ("product", "product-sync", "akeneo-products-to-shopware", "Akeneo PIM", "Shopware"),
    ("invoice", "invoice-export", "exact-invoices-to-sftp", "Exact Online", "SFTP archive"),
    ("stock", "stock-update", "wms-stock-to-shopify", "WMS stock", "Shopify"),
)
_ALUMIO_SPACES = ("default", "default", "default", "staging")


def _php_time(rng: random.Random, moment: datetime) -> str:
    """Format as PHP's ``DATE_ATOM`` does, sometimes with ``Z`` or microseconds."""
    style = rng.randrange(4)
    if style == 0:
        return moment.isoformat(timespec="seconds")
    if style == 1:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 2:
        return moment.isoformat(timespec="microseconds")
    local = moment.astimezone(timezone(timedelta(hours=pick(rng, (1, 2)))))
    return local.isoformat(timespec="seconds")


def _entity_data(rng: random.Random, entity: str, slot: int) -> dict[str, Any]:
    name, email = person(rng)
    if entity == "order":
        lines = 120 if slot % 25 == 24 else rng.randrange(1, 5)
        return {
            "id": rng.randrange(10**8, 10**9),
            "number": f"#{rng.randrange(1000, 99999)}",
            "currency": pick(rng, ("EUR", "USD", "GBP")),
            "total": f"{rng.uniform(5, 2500):.2f}",
            "customer": {"name": name, "email": email},
            "lines": [
                {
                    "sku": f"SKU-{rng.randrange(10**5):05d}",
                    "quantity": rng.randrange(1, 10),
                    "price": round(rng.uniform(1, 300), 2),
                }
                for _ in range(lines)
            ],
            "note": None if slot % 2 else "Leave at the back door, s'il vous plaît",
        }
    if entity == "customer":
        first, _, last = name.partition(" ")
        return {
            "email": email,
            "firstName": first,
            "lastName": last,
            "company": None if slot % 3 else "Acme B.V.",
            "addresses": [{"city": pick(rng, ("Utrecht", "Köln", "Lyon")), "default": True}],
        }
    if entity == "product":
        return {
            "sku": f"SKU-{rng.randrange(10**5):05d}",
            "name": {"en_US": "Walnut desk", "nl_NL": "Notenhouten bureau"},
            "price": round(rng.uniform(10, 900), 2),
            "enabled": rng.random() < 0.8,
            "attributes": {"color": pick(rng, ("walnut", "oak")), "weight_kg": 23.5},
        }
    if entity == "invoice":
        return {
            "invoiceNumber": f"INV-{rng.randrange(2023, 2026)}-{rng.randrange(10**6):06d}",
            "amount": round(rng.uniform(10, 10000), 2),
            "dueDate": random_moment(rng).date().isoformat(),
            "paid": rng.random() < 0.5,
        }
    return {
        "sku": f"SKU-{rng.randrange(10**5):05d}",
        "warehouse": pick(rng, ("AMS-1", "RTM-2", "BER-1")),
        "quantity": rng.randrange(0, 500),
        "reserved": rng.randrange(0, 20),
    }


def _flow(slot: int) -> int:
    # Not slot % 5 alone: the unusual identifiers sit at slot % 5 == 4 and should vary.
    return (slot + slot // 5) % len(_ALUMIO_FLOWS)


def _meta_item(identifier: str, name: str) -> dict[str, str]:
    return {"identifier": identifier, "name": name}


def alumio_task(rng: random.Random, identifier: str, slot: int) -> dict[str, Any]:
    """Build one ``DetailedTask``; every key is optional in the spec and some go missing."""
    entity, prefix, route, incoming, outgoing = _ALUMIO_FLOWS[_flow(slot)]
    status = ALUMIO_STATUSES[slot % len(ALUMIO_STATUSES)]
    created = random_moment(rng)
    context: dict[str, Any] = {"attempt": rng.randrange(1, 4), "source": prefix}
    if status in ("failed", "retry", "rejected"):
        context["error"] = {"message": f"Remote {outgoing} answered 422", "code": 422}
    meta = {
        "incoming": _meta_item(f"{prefix}-incoming", incoming),
        "outgoing": _meta_item(f"{prefix}-outgoing", outgoing),
        "route": _meta_item(route, route.replace("-", " ").capitalize()),
        "httpProxy": _meta_item("default-proxy", "Default HTTP proxy"),
    }
    if slot % 3 == 1:
        del meta["httpProxy"]
    task: dict[str, Any] = {
        "identifier": identifier,
        "entityType": entity,
        "entityIdentifier": str(rng.randrange(10**5, 10**9)),
        "entityData": _entity_data(rng, entity, slot),
        "context": context,
        "status": status,
        "route": route,
        "createdAt": _php_time(rng, created),
        "updatedAt": _php_time(rng, random_moment(rng, created)),
        "meta": meta,
    }
    absent = {
        "identifier": slot % 13 == 12,
        "entityType": slot % 7 == 6,
        "entityIdentifier": slot % 11 == 10,
        "entityData": slot % 9 == 8,
        "context": slot % 3 == 2,
        "status": slot % 17 == 16,
        "route": slot % 8 == 7,
        "createdAt": slot % 19 == 18,
        "updatedAt": slot % 6 == 1,
        "meta": slot % 4 == 1,
    }
    return {k: v for k, v in task.items() if not absent[k]}


def alumio_space(slot: int) -> str:
    """Return the space a seeded Alumio task lives in."""
    return _ALUMIO_SPACES[slot % len(_ALUMIO_SPACES)]


def seeded_alumio(seed: int, count: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Return ``(identifier, space, task)`` for the seeded Alumio tasks."""
    ids_rng = random.Random(f"{seed}:alumio:ids")
    unusual = iter(ALUMIO_UNUSUAL_IDS)
    out: list[tuple[str, str, dict[str, Any]]] = []
    seen: set[str] = set()
    while len(out) < count:
        slot = len(out)
        identifier = next(unusual, None) if slot % 5 == 4 else None
        if identifier is None:
            prefix = _ALUMIO_FLOWS[_flow(slot)][1]
            identifier = f"{prefix}-{ids_rng.randrange(1, 10**6):06d}"
        if identifier in seen:
            continue
        seen.add(identifier)
        task = alumio_task(task_rng(seed, "alumio", identifier), identifier, slot)
        out.append((identifier, alumio_space(slot), task))
    return out
