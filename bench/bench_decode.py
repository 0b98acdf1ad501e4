"""Decode: one Cakewalk task, bytes -> ``UnifiedTask``, vs pydantic v2 ``model_validate_json``.

The pydantic models mirror taskbridge's Cakewalk models field for field: frozen, strict
primitives (no ``"12"`` -> 12), camelCase aliases, aware datetimes, "open" enums
(``Enum | str``), unknown keys ignored. UUID fields are ``str`` in both, as taskbridge
keeps them; a ``uuid.UUID`` variant of the pydantic models is shown for reference only.
taskbridge's side also normalizes into a ``UnifiedTask`` (status mapping); pydantic's
side only validates. Bodies: every field set ("full"), the required fields only
("minimal"), and the sandbox's 50 seeded tasks (mean per task, "sandbox mix").

Run from the repo root::

    .venv/bin/python bench/bench_decode.py               # timings + cProfile top 15
    .venv/bin/python bench/bench_decode.py --repeat 9 --profile pyinstrument
"""

import argparse
import cProfile
import io
import pstats
import statistics
import timeit
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import _common
import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from taskbridge import CakewalkConfig
from taskbridge.providers.cakewalk import (
    CakewalkSystemExecutionReason as Reason,
)
from taskbridge.providers.cakewalk import (
    CakewalkTaskStatus as Status,
)
from taskbridge.providers.cakewalk import (
    CakewalkTaskType as Kind,
)
from taskbridge.sandbox import SandboxState

TASK_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
TARGET = 1.0


def make_models(id_type: Any) -> type[BaseModel]:
    """Pydantic v2 models of ``TaskDetailedRecordViewModelV1``; ids typed ``id_type``."""

    class Base(BaseModel):
        model_config = ConfigDict(
            alias_generator=to_camel, populate_by_name=True, frozen=True, strict=True
        )

    class User(Base):
        id: id_type
        name: str
        email: str
        status_name: str
        status_id: int | None = None

    class Request(Base):
        id: id_type
        request_type: str
        request_status: str
        requested_by_user_id: id_type
        work_app_id: id_type
        source_id: id_type
        created_at: datetime
        updated_at: datetime
        cancelled_by_user_id: id_type | None = None
        permission_level_id: id_type | None = None
        target_user_id: id_type | None = None
        request_purpose: str | None = None

    class Offboarding(Base):
        target_user: User
        external_integration_app_name: str
        termination_date: datetime | None = None

    class Onboarding(Base):
        onboarding_user_full_name: str
        onboarding_user_email: str
        external_integration_app_name: str
        external_connection_app_is_email_provider: bool | None = None
        starting_date: datetime | None = None

    class Task(Base):
        id: id_type
        type: Kind | str
        created_at: datetime
        status: Status | str
        last_updated_at: datetime
        is_autoprovisioning: bool | None = None
        is_action_step: bool | None = None
        assigned_user: User | None = None
        claimers: list[User] | None = None
        executed_by_user: User | None = None
        request: Request | None = None
        snoozed_till: datetime | None = None
        offboarding_metadata: Offboarding | None = None
        onboarding_metadata: Onboarding | None = None
        rolled_out_by_user: User | None = None
        system_execution_reason: Reason | str | None = None
        closed_reason: str | None = None

    class Links(Base):
        self_: str = Field(alias="self")
        next: str | None = None

    class Record(Base):
        data: Task
        links: Links

    return Record


def _user(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=n + 1, version=4)),
        "name": f"Zoë O'Brien {n}",
        "email": f"zoe.obrien{n}@acme.example",
        "statusId": 1,
        "statusName": "Active",
    }


def full_document() -> bytes:
    """Every field of the spec set (claimers: three users), mixed timestamp styles."""
    ids = [str(uuid.UUID(int=100 + i, version=4)) for i in range(8)]
    task = {
        "id": TASK_ID,
        "type": "RequestReviewTask",
        "createdAt": "2024-03-05T10:11:12.1234567Z",
        "status": "Approved",
        "lastUpdatedAt": "2024-03-06T08:00:00+02:00",
        "isAutoprovisioning": False,
        "isActionStep": False,
        "assignedUser": _user(1),
        "claimers": [_user(2), _user(3), _user(4)],
        "executedByUser": _user(5),
        "request": {
            "id": ids[0],
            "requestType": "Access",
            "requestStatus": "Approved",
            "requestedByUserId": ids[1],
            "cancelledByUserId": ids[2],
            "workAppId": ids[3],
            "permissionLevelId": ids[4],
            "targetUserId": ids[5],
            "requestPurpose": "Needed for the Q3 campaign",
            "sourceId": ids[6],
            "createdAt": "2024-03-05T09:00:00.123Z",
            "updatedAt": "2024-03-05T09:30:00Z",
        },
        "snoozedTill": "2024-03-07T00:00:00.000001+05:30",
        "offboardingMetadata": {
            "targetUser": _user(6),
            "externalIntegrationAppName": "Slack",
            "terminationDate": "2024-04-01T00:00:00Z",
        },
        "onboardingMetadata": {
            "onboardingUserFullName": "Ada Okafor",
            "onboardingUserEmail": "ada.okafor@acme.example",
            "externalIntegrationAppName": "Google Workspace",
            "externalConnectionAppIsEmailProvider": True,
            "startingDate": "2024-03-10T09:00:00Z",
        },
        "rolledOutByUser": _user(7),
        "systemExecutionReason": "OpenApi",
        "closedReason": "Approved by the app owner",
    }
    return orjson.dumps({"data": task, "links": {"self": f"/api/v1/Tasks/{TASK_ID}"}})


def minimal_document() -> bytes:
    task = {
        "id": TASK_ID,
        "type": "StandAloneBrowserExtensionInstallationTask",
        "createdAt": "2024-03-05T10:11:12Z",
        "status": "Pending",
        "lastUpdatedAt": "2024-03-05T10:11:12Z",
    }
    return orjson.dumps({"data": task, "links": {"self": f"/api/v1/Tasks/{TASK_ID}"}})


def sandbox_documents() -> list[bytes]:
    state = SandboxState(seed=1, tasks_per_provider=50)
    bodies = []
    for task_id in state.ids("cakewalk"):
        served = state.lookup("cakewalk", task_id)
        assert served is not None
        bodies.append(served.body)
    return bodies


def check_equivalent(adapter: Any, record: type[BaseModel], body: bytes) -> None:
    """Both sides must read the same values, or the comparison means nothing."""
    ours = adapter.decode_task(body, TASK_ID).detail
    theirs = record.model_validate_json(body).data  # type: ignore[attr-defined]
    for name in ("id", "type", "status", "created_at", "last_updated_at", "snoozed_till"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert (ours.claimers is None) == (theirs.claimers is None)
    assert len(ours.claimers or ()) == len(theirs.claimers or ())
    if ours.request is not None:
        assert ours.request.updated_at == theirs.request.updated_at


def per_call_us(fn: Callable[[], object], repeat: int, min_time: float = 0.2) -> list[float]:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(number, int(number * min_time / 0.2))
    return [t / number * 1e6 for t in timer.repeat(repeat=repeat, number=number)]


def profile(fn: Callable[[], object], calls: int, kind: str) -> None:
    if kind == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0001)
        profiler.start()
        for _ in range(calls):
            fn()
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("tottime")
    stats.print_stats(15)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timeit repeats (default 7)")
    parser.add_argument(
        "--profile", choices=("cprofile", "pyinstrument", "none"), default="cprofile"
    )
    parser.add_argument("--profile-calls", type=int, default=20000)
    args = parser.parse_args()
    _common.print_machine("decode")
    adapter = CakewalkConfig("k", "s").adapter()
    record_str, record_uuid = make_models(str), make_models(uuid.UUID)
    docs = {"full": [full_document()], "minimal": [minimal_document()]}
    docs["sandbox mix"] = sandbox_documents()
    rows, verdicts = [], []
    for label, bodies in docs.items():
        for body in bodies:
            check_equivalent(adapter, record_str, body)

        def each(fn: Callable[[bytes], object], bodies: list[bytes] = bodies) -> Callable[[], None]:
            def run() -> None:
                for b in bodies:
                    fn(b)

            return run

        contenders = {
            "taskbridge decode_task": each(lambda b: adapter.decode_task(b, TASK_ID)),
            "pydantic (str ids)": each(record_str.model_validate_json),
            "pydantic (uuid.UUID ids)": each(record_uuid.model_validate_json),
            "orjson.loads only": each(orjson.loads),
        }
        times: dict[str, list[float]] = {}
        for _ in range(2):  # alternate, twice
            for name, fn in contenders.items():
                times.setdefault(name, []).extend(
                    t / len(bodies) for t in per_call_us(fn, args.repeat)
                )
        size = sum(map(len, bodies)) // len(bodies)
        for name, ts in times.items():
            rows.append([label, size, name, min(ts), statistics.median(ts)])
        tb, pd = times["taskbridge decode_task"], times["pydantic (str ids)"]
        r_min, r_med = min(tb) / min(pd), statistics.median(tb) / statistics.median(pd)
        ok = "PASS" if r_min <= TARGET else "MISS"
        verdicts.append(
            f"{label}: taskbridge/pydantic time ratio {r_min:.2f} (min) {r_med:.2f} (median) "
            f"target <= {TARGET} -> {ok}"
        )
    _common.print_table(["document", "bytes", "contender", "min us", "median us"], rows)
    print()
    for v in verdicts:
        print("  " + v)
    if args.profile != "none":
        body = docs["full"][0]
        print(f"\n## profile: {args.profile_calls} x decode_task(full document)")
        profile(lambda: adapter.decode_task(body, TASK_ID), args.profile_calls, args.profile)


if __name__ == "__main__":
    main()
