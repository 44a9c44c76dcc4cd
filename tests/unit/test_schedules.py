"""Schedules: cron in a time zone, daylight saving, and which missed ticks fire."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from plait.resources.schedules import Schedule
from plait.service.cron import ScheduleInvalid
from plait.service.schedules import due_ticks, new_schedule
from plait.store.records import ScheduleRecord

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, a Friday


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """Unix seconds of a wall-clock time in ``zone``."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()


def utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def schedule(cron: str, now: float = NOW, **options: Any) -> ScheduleRecord:
    return new_schedule("acme", "wf_1", cron, now=now, **options)


def ticks(s: ScheduleRecord, count: int) -> list[float]:
    """The first ``count`` ticks of ``s``, by firing it as each falls due."""
    found = [s.next_fire_at]
    while len(found) < count:
        _, following = due_ticks(s, found[-1])
        found.append(following)
    return found


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "says"),
    [
        ("61 * * * *", "out of range"),
        ("*/0 * * * *", "step"),
        ("a b c d e", "not acceptable"),
        ("* * *", "must have 5 fields"),
        ("* * * * * * *", "must have 5 fields"),
        ("@fortnightly", "must have 5 fields"),
        ("0 0 30 2 *", "never fires"),
    ],
)
def test_a_bad_cron_expression_is_refused_naming_it_and_why(cron: str, says: str) -> None:
    with pytest.raises(ScheduleInvalid, match=re.escape(says)) as caught:
        schedule(cron)
    assert caught.value.path == "cron"
    assert repr(cron) in str(caught.value)


@pytest.mark.parametrize(
    ("macro", "fields"),
    [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"), ("@Daily", "0 0 * * *"),
    ],
)  # fmt: skip
def test_a_cron_macro_ticks_as_the_fields_it_stands_for(macro: str, fields: str) -> None:
    in_paris = {"timezone": "Europe/Paris"}
    assert ticks(schedule(macro, **in_paris), 4) == ticks(schedule(fields, **in_paris), 4)
    assert schedule(macro).cron == macro  # the schedule keeps what was written


@pytest.mark.parametrize(
    ("options", "path", "says"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "unknown time zone 'Mars/Olympus_Mons'"),
        ({"timezone": ""}, "timezone", "unknown time zone"),
        ({"catchup": "some"}, "catchup", "catchup must be 'skip' or 'all', not 'some'"),
        ({"max_catchup": 0}, "maxCatchup", "between 1 and 1000"),
        ({"max_catchup": True}, "maxCatchup", "must be an integer"),
        ({"input": {"when": object()}}, "input", "input cannot be stored as JSON: object"),
    ],
)
def test_other_invalid_settings_are_refused(options: dict[str, Any], path: str, says: str) -> None:
    with pytest.raises(ScheduleInvalid, match=re.escape(says)) as caught:
        schedule("* * * * *", **options)
    assert caught.value.path == path


def test_a_new_schedule_first_fires_strictly_after_now() -> None:
    s = schedule("0  9\t* * *", input=("a", 1))  # whitespace normalised, input as stored
    assert re.fullmatch(r"schedule_[0-9A-Za-z]{8}", s.id)
    assert (s.org, s.workflow_id, s.cron, s.timezone) == ("acme", "wf_1", "0 9 * * *", "UTC")
    assert (s.catchup, s.max_catchup, s.input, s.enabled) == ("skip", 10, ["a", 1], True)
    assert utc(s.next_fire_at) == "2027-01-15 09:00:00"
    on_a_tick = schedule("0 9 * * *", now=at("UTC", 2027, 1, 15, 9))
    assert utc(on_a_tick.next_fire_at) == "2027-01-16 09:00:00"


def test_a_sixth_field_is_the_second() -> None:
    assert [utc(t) for t in ticks(schedule("*/30 * * * * 15"), 3)] == [
        "2027-01-15 08:00:15",
        "2027-01-15 08:30:15",
        "2027-01-15 09:00:15",
    ]


# -- time zones ---------------------------------------------------------------------------------


def test_ticks_are_wall_clock_times_of_the_schedules_zone() -> None:
    summer = schedule("0 9 * * *", now=at("UTC", 2026, 7, 1), timezone="Europe/Paris")
    winter = schedule("0 9 * * *", now=at("UTC", 2026, 12, 1), timezone="Europe/Paris")
    assert utc(summer.next_fire_at) == "2026-07-01 07:00:00"  # CEST, UTC+2
    assert utc(winter.next_fire_at) == "2026-12-01 08:00:00"  # CET, UTC+1


def test_a_daily_time_keeps_its_wall_clock_time_across_daylight_saving_changes() -> None:
    # Paris moves to summer time on 2026-03-29 (02:00 -> 03:00).
    s = schedule("0 9 * * *", now=at("UTC", 2026, 3, 27), timezone="Europe/Paris")
    assert [utc(t) for t in ticks(s, 4)] == [
        "2026-03-27 08:00:00",
        "2026-03-28 08:00:00",
        "2026-03-29 07:00:00",
        "2026-03-30 07:00:00",
    ]


def test_a_fixed_time_the_clock_reads_twice_fires_once() -> None:
    # New York falls back on 2025-11-02: 01:00-02:00 happens twice, first as EDT then as EST.
    s = schedule("30 1 * * *", now=at("UTC", 2025, 11, 1), timezone="America/New_York")
    assert [utc(t) for t in ticks(s, 3)] == [
        "2025-11-01 05:30:00",
        "2025-11-02 05:30:00",  # 01:30 EDT; not again at 01:30 EST
        "2025-11-03 06:30:00",
    ]


def test_a_fixed_time_the_clock_skips_fires_when_the_clock_jumps() -> None:
    # New York springs forward on 2025-03-09: 02:00 EST becomes 03:00 EDT (07:00 UTC).
    s = schedule("30 2 * * *", now=at("UTC", 2025, 3, 8), timezone="America/New_York")
    assert [utc(t) for t in ticks(s, 3)] == [
        "2025-03-08 07:30:00",
        "2025-03-09 07:00:00",
        "2025-03-10 06:30:00",
    ]


def test_an_hourly_schedule_follows_elapsed_time_across_daylight_saving_changes() -> None:
    fall = schedule("30 * * * *", now=at("America/New_York", 2025, 11, 2, 0, 45),
                    timezone="America/New_York")  # fmt: skip
    assert [utc(t) for t in ticks(fall, 3)] == [
        "2025-11-02 05:30:00",  # 01:30 EDT
        "2025-11-02 06:30:00",  # 01:30 EST
        "2025-11-02 07:30:00",  # 02:30 EST
    ]
    spring = schedule("30 * * * *", now=at("America/New_York", 2025, 3, 9, 0, 45),
                      timezone="America/New_York")  # fmt: skip
    assert [utc(t) for t in ticks(spring, 2)] == [
        "2025-03-09 06:30:00",  # 01:30 EST
        "2025-03-09 07:30:00",  # 03:30 EDT: 02:30 does not exist
    ]


@pytest.mark.parametrize(
    ("cron", "zone"),
    [
        ("*/20 * * * *", "Europe/Paris"),
        ("15 1,2,3 * * *", "America/New_York"),
        ("* 2 * * *", "Europe/Paris"),
        ("0 */2 * * 1-5", "Australia/Lord_Howe"),
        ("0 0 * * * 30", "UTC"),
    ],
)
def test_catching_up_across_daylight_saving_changes_agrees_with_firing_each_tick(
    cron: str, zone: str
) -> None:
    # A schedule down for a day around each change catches up exactly the ticks it would
    # have fired one by one (walking back agrees with walking forward).
    for start in (at("UTC", 2025, 3, 29), at("UTC", 2025, 10, 25), at("UTC", 2025, 4, 4)):
        s = schedule(cron, now=start, timezone=zone, catchup="all", max_catchup=1000)
        one_by_one = ticks(s, 60)
        assert one_by_one == sorted(set(one_by_one))
        caught_up, following = due_ticks(s, one_by_one[-2])
        assert (caught_up, following) == (one_by_one[:-1], one_by_one[-1])


# -- catching up ----------------------------------------------------------------------------------


def test_a_schedule_is_not_due_before_its_next_tick() -> None:
    s = schedule("*/15 * * * *")
    assert due_ticks(s, s.next_fire_at - 0.001) == ([], s.next_fire_at)


def test_a_schedule_is_due_at_its_next_tick_and_moves_to_the_one_after() -> None:
    s = schedule("*/15 * * * *")
    assert due_ticks(s, s.next_fire_at) == ([s.next_fire_at], s.next_fire_at + 900)


def test_skip_fires_only_the_most_recent_missed_tick() -> None:
    s = schedule("0 * * * *")  # first tick 09:00
    fired, following = due_ticks(s, at("UTC", 2027, 1, 15, 14, 20))
    assert [utc(t) for t in fired] == ["2027-01-15 14:00:00"]
    assert utc(following) == "2027-01-15 15:00:00"


def test_all_fires_every_missed_tick_up_to_the_bound_keeping_the_most_recent() -> None:
    s = schedule("0 * * * *", catchup="all", max_catchup=3)
    fired, following = due_ticks(s, at("UTC", 2027, 1, 15, 14, 20))
    assert [utc(t) for t in fired] == [
        "2027-01-15 12:00:00",
        "2027-01-15 13:00:00",
        "2027-01-15 14:00:00",
    ]
    assert utc(following) == "2027-01-15 15:00:00"
    roomy = dataclasses.replace(s, max_catchup=10)
    assert len(due_ticks(roomy, at("UTC", 2027, 1, 15, 14))[0]) == 6  # 09:00 to 14:00


def test_catching_up_a_long_outage_of_a_frequent_schedule_is_quick() -> None:
    s = schedule("* * * * * *", catchup="all", max_catchup=5)  # every second
    fired, following = due_ticks(s, NOW + 30 * 86400)  # a month later
    assert fired == [NOW + 30 * 86400 - n for n in range(4, -1, -1)]
    assert following == NOW + 30 * 86400 + 1


def test_resource_is_the_api_shape() -> None:
    s = schedule("0 9 * * 1-5", timezone="Europe/Paris", input={"report": "daily"})
    assert Schedule.of(s).wire() == {
        "$id": s.id,
        "$type": "Schedule",
        "workflow": "wf_1",
        "cron": "0 9 * * 1-5",
        "timezone": "Europe/Paris",
        "catchup": "skip",
        "maxCatchup": 10,
        "input": {"report": "daily"},
        "enabled": True,
        "declared": False,
        "notifications": {"onStart": [], "onComplete": []},
        "nextFireAt": "2027-01-18T08:00:00.000Z",  # 09:00 on Monday in Paris
        "createdAt": "2027-01-15T08:00:00.000Z",
    }
