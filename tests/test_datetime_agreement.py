"""msgspec's RFC 3339 parser and `parse_datetime` agree wherever msgspec accepts.

The fast path reads datetimes with msgspec, the fallback with `parse_datetime`
(``datetime.fromisoformat``, or a regular expression where Python 3.10's is too narrow).
Both must give the same aware datetime, offset included: fractions past the microsecond
round half up (``.1234565`` -> ``.123457``, ``23:59:59.9999995`` on Dec 31 -> next year),
naive values are UTC. Run on 3.10 too (its fromisoformat takes neither ``Z`` nor 7 digits).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from taskbridge._decode.convert import parse_datetime

from .test_decode_mirror import assert_agree, cakewalk_with

DECODE = msgspec.json.Decoder(datetime).decode


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339-like strings, valid or a little off, biased toward the edges."""
    if draw(st.booleans()):
        year = draw(st.sampled_from([1, 1900, 2000, 2023, 2024, 2100, 9999]))
        month, day = draw(st.sampled_from([(12, 31), (2, 28), (2, 29), (1, 1), (2, 30)]))
        hour, minute, second = draw(st.sampled_from([(23, 59, 59), (0, 0, 0), (24, 0, 0)]))
        digits = draw(st.sampled_from(["9999995", "9999994", "99999949", "999999", "0000005"]))
        digits += draw(st.text("0123456789", max_size=2))
    else:
        year = draw(st.integers(0, 9999))
        month, day = draw(st.integers(1, 12)), draw(st.integers(1, 31))
        hour, minute, second = (
            draw(st.integers(0, 23)),
            draw(st.integers(0, 59)),
            draw(st.integers(0, 59)),
        )
        digits = draw(st.text("0123456789", max_size=9))
    separator = draw(st.sampled_from("Tt "))
    text = f"{year:04}-{month:02}-{day:02}{separator}{hour:02}:{minute:02}:{second:02}"
    if digits or draw(st.booleans()):
        text += draw(st.sampled_from(".,")) + digits
    zone = draw(st.sampled_from(["", "Z", "z", "offset", "offset"]))
    if zone == "offset":
        sign = draw(st.sampled_from("+-"))
        off_h, off_m = draw(st.integers(0, 24)), draw(st.integers(0, 59))
        colon = draw(st.sampled_from([":", ":", ""]))
        zone = f"{sign}{off_h:02}{colon}{off_m:02}"
    return text + zone


def msgspec_reads(text: str) -> datetime | None:
    try:
        value: datetime = DECODE(json.dumps(text).encode())
    except msgspec.ValidationError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def same(a: datetime, b: Any) -> bool:
    return isinstance(b, datetime) and (a, a.utcoffset()) == (b, b.utcoffset())


SETTINGS = settings(
    max_examples=1500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(text=timestamps())
@example("2024-12-31T23:59:59.9999995Z")
@example("2024-02-28t23:59:59.99999951z")
@example("2023-12-31 23:59:59.9999995+05:30")
@example("2024-01-01T00:00:00.1234565-0800")
@example("0001-01-01T00:00:00.0000004")
def test_parse_datetime_agrees_wherever_msgspec_accepts(text: str) -> None:
    expected = msgspec_reads(text)
    if expected is None:
        return
    assert same(expected, parse_datetime(text)), text


@settings(SETTINGS, max_examples=150)
@given(text=timestamps())
@example("2024-12-31T23:59:59.9999995Z")
def test_a_body_decodes_alike_on_both_paths(text: str) -> None:
    outcome = assert_agree("cakewalk", cakewalk_with(createdAt=text))
    assert outcome != "accepted" or msgspec_reads(text) is not None


def test_the_edges_msgspec_accepts_round_as_documented() -> None:
    cases = {
        "2024-12-31T23:59:59.9999995Z": datetime(2025, 1, 1, tzinfo=timezone.utc),
        "2024-02-28T23:59:59.9999995Z": datetime(2024, 2, 29, tzinfo=timezone.utc),
        "2024-01-01T00:00:00.1234564999Z": datetime(2024, 1, 1, 0, 0, 0, 123456, timezone.utc),
    }
    for text, value in cases.items():
        assert same(value, msgspec_reads(text))
        assert same(value, parse_datetime(text))
