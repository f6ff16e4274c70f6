"""Schedules: cron checks that name the bad field, frequencies as cron lines, words, next times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.recurring.schedules import (
    DAY,
    WEEK,
    ScheduleError,
    Trigger,
    describe_cron,
    frequency_schedules,
    timezone_names,
    validate_cron,
)


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("61 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("0 0 32 * *", "day-of-month"),
        ("0 0 1 13 *", "month"),
        ("0 0 * * 8", "day-of-week"),
        ("0 0 * * FOO", "day-of-week"),
    ],
)
def test_bad_cron_names_its_field(expression, field):
    with pytest.raises(ScheduleError, match=f"The {field} field"):
        validate_cron(expression)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("* * * * * *", "6 fields"),  # seconds: sub-minute
        ("*/5 * * *", "4 fields"),
        ("", "Enter a cron expression"),
        ("@hourly", "shortcuts"),
        ("0 0 30 2 *", "never happens"),
    ],
)
def test_other_cron_refusals(expression, reason):
    with pytest.raises(ScheduleError, match=reason):
        validate_cron(expression)


def test_valid_cron_is_normalised_and_in_words():
    assert validate_cron("  30  9 * *   1-5 ") == "30 9 * * 1-5"
    assert describe_cron("30 9 * * 1-5") == "At 09:30, Monday through Friday"
    assert describe_cron("*/5 * * * *") == "Every 5 minutes"


@pytest.mark.parametrize(
    ("seconds", "lines"),
    [
        (60, ["* * * * *"]),
        (15 * 60, ["*/15 * * * *"]),
        (90 * 60, ["0 */3 * * *", "30 1-22/3 * * *"]),
        (6 * 3600, ["0 */6 * * *"]),
        (DAY, ["0 0 * * *"]),
        (WEEK, ["0 0 * * 1"]),
    ],
)
def test_frequencies_become_cron_lines(seconds, lines):
    assert frequency_schedules(seconds) == lines


def test_frequency_is_anchored_on_the_start():
    anchor = datetime(2026, 1, 1, 9, 30)  # a Thursday
    assert frequency_schedules(6 * 3600, anchor) == ["30 3-21/6 * * *"]
    assert frequency_schedules(WEEK, anchor) == ["30 9 * * 4"]


@pytest.mark.parametrize(
    ("seconds", "reason"),
    [
        (30, "more than once a minute"),
        (90, "not a whole number of minutes"),
        (7 * 60, "does not repeat evenly over a day"),
        (5 * 3600, "does not repeat evenly over a day"),
        (2 * DAY, "cannot be a cron schedule"),
        (2 * WEEK, "cannot be a cron schedule"),
    ],
)
def test_frequency_refusals(seconds, reason):
    with pytest.raises(ScheduleError, match=reason):
        frequency_schedules(seconds)


def test_ninety_minutes_really_runs_every_ninety_minutes():
    trigger = Trigger("periodic", interval_seconds=90 * 60)
    times = trigger.next_times(count=20, now=datetime(2026, 1, 1, tzinfo=UTC))
    gaps = {b - a for a, b in itertools.pairwise(times)}
    assert gaps == {timedelta(minutes=90)}
    assert trigger.describe() == "Every 90 minutes"


def test_next_times_in_the_timezone_across_a_dst_change():
    trigger = Trigger("cron", cron="0 9 * * *", timezone="Europe/Paris")
    times = trigger.next_times(count=3, now=datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert [t.isoformat() for t in times] == [
        "2026-03-29T09:00:00+02:00",  # summer time began that night
        "2026-03-30T09:00:00+02:00",
        "2026-03-31T09:00:00+02:00",
    ]
    assert times[0].tzinfo == ZoneInfo("Europe/Paris")


def test_next_times_honour_start_and_end():
    start = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    end = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)
    trigger = Trigger("cron", cron="0 8 * * *", start_at=start, end_at=end)
    times = trigger.next_times(count=5, now=datetime(2026, 1, 1, tzinfo=UTC))
    # From the start (inclusive) to the end (exclusive): two days only.
    assert times == [start, start + timedelta(days=1)]
    assert trigger.next_times(now=end) == []


def test_trigger_check_refuses_end_before_start_and_unknown_zone():
    start = datetime(2026, 6, 1, tzinfo=UTC)
    with pytest.raises(ScheduleError, match="end must be after the start"):
        Trigger("cron", cron="* * * * *", start_at=start, end_at=start).check()
    with pytest.raises(ScheduleError, match="not a known time zone"):
        Trigger("cron", cron="* * * * *", timezone="Mars/Olympus").check()


def test_describe_frequencies():
    assert Trigger("periodic", interval_seconds=60).describe() == "Every minute"
    assert Trigger("periodic", interval_seconds=DAY).describe() == "Every day, at 00:00"
    start = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)  # Thursday
    weekly = Trigger("periodic", interval_seconds=WEEK, start_at=start)
    assert weekly.describe() == "Every week, on Thursday at 09:30"
    assert Trigger("cron", cron="bad").describe() == "Invalid schedule"


def test_timezone_names_start_with_utc_and_are_real():
    names = timezone_names()
    assert names[0] == "UTC" and "Europe/Paris" in names and "US/Pacific" not in names
    for name in names[:50]:
        ZoneInfo(name)
