"""Schedules of recurring runs: a trigger (a 5-field cron expression, or "every N minutes, hours,
days or weeks") becomes the cron lines of an Argo CronWorkflow, in words, with its next times.

Framework-free: the form, the services, the CronWorkflow renderer and the pages all come here, so
a schedule reads and is refused the same way wherever it is given.

Decisions:
- Argo schedules at most once a minute: 6-field (seconds) cron lines and intervals under a minute
  are refused, and so are intervals that are not whole minutes.
- "Every N minutes" where N divides 60 is one cron line (`*/15 * * * *`). Where N does not divide
  60 but divides a day (1440 minutes: 90, 45, 120, ...), it is several cron lines, one per minute
  of the hour it falls on (every 90 minutes: `0 0-21/3 * * *` and `30 1-22/3 * * *`), which Argo v4
  takes as one `schedules` list. Any other N (7, 100, ...) cannot repeat evenly over days, so it is
  refused with a suggestion.
- "Every N days/weeks" with N > 1 is refused: cron counts days within a month (`*/2` restarts on
  the 1st), so no cron line keeps an even gap; a cron expression says what the user accepts.
- A frequency is anchored on the start time when there is one (every 6 hours from 09:30 is
  03:30, 09:30, 15:30, 21:30), else on midnight (weekly: Monday midnight), in the timezone.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cron_descriptor import ExpressionDescriptor, Options
from croniter import croniter

from ydpipelines.cron_lines import ScheduleError, validate_cron

MINUTE = 60
HOUR = 3600
DAY = 86400
WEEK = 7 * DAY
UNITS: dict[str, int] = {"minutes": MINUTE, "hours": HOUR, "days": DAY, "weeks": WEEK}
DAY_MINUTES = 1440
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# -- cron expressions ---------------------------------------------------------------------------


def describe_cron(expression: str) -> str:
    """A cron line in words ("At 09:30, Monday through Friday")."""
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        return ExpressionDescriptor(expression, options).get_description()
    except Exception:
        return expression


# -- frequencies ----------------------------------------------------------------------------------


def split_interval(seconds: int) -> tuple[int, str]:
    """An interval as (count, unit) in the largest unit that divides it."""
    for unit in ("weeks", "days", "hours", "minutes"):
        if seconds % UNITS[unit] == 0:
            return seconds // UNITS[unit], unit
    return seconds, "seconds"


def interval_words(seconds: int) -> str:
    count, unit = split_interval(seconds)
    return f"every {unit[:-1]}" if count == 1 else f"every {count} {unit}"


def check_interval(seconds: int | None) -> int:
    if not seconds or seconds <= 0:
        raise ScheduleError("Enter how often to run: a number of minutes, hours, days or weeks.")
    if seconds < MINUTE:
        raise ScheduleError(
            f"Every {seconds} seconds is more than once a minute: Argo schedules at most once a "
            "minute. Choose 1 minute or more."
        )
    if seconds % MINUTE:
        raise ScheduleError(f"{seconds} seconds is not a whole number of minutes.")
    return seconds


def _values(values: list[int], period: int, everything: int) -> str:
    """A cron field for these values: `*`, `*/step`, `first-last/step` or a list."""
    values = sorted(values)
    if len(values) == everything:
        return "*"
    if len(values) > 1:
        step = values[1] - values[0]
        even = all(b - a == step for a, b in itertools.pairwise(values))
        if even and step * len(values) == period:
            return f"*/{step}" if values[0] == 0 else f"{values[0]}-{values[-1]}/{step}"
    return ",".join(str(v) for v in values)


def frequency_schedules(seconds: int, anchor: datetime | None = None) -> list[str]:
    """The cron lines of "every `seconds`", anchored on `anchor` (a local time) or midnight."""
    check_interval(seconds)
    minutes = seconds // MINUTE
    at_hour, at_minute = (anchor.hour, anchor.minute) if anchor else (0, 0)
    if seconds >= DAY:
        count, unit = split_interval(seconds)
        if seconds == DAY:
            return [f"{at_minute} {at_hour} * * *"]
        if seconds == WEEK:
            weekday = anchor.weekday() if anchor else 0
            return [f"{at_minute} {at_hour} * * {(weekday + 1) % 7}"]
        raise ScheduleError(
            f"Every {count} {unit} cannot be a cron schedule: cron counts days within each "
            f"month, so the gap breaks at month ends. Write a cron expression instead, e.g. "
            f"`{at_minute} {at_hour} */{count if unit == 'days' else 14} * *` "
            "(those days of each month), or choose every day or every week."
        )
    if DAY_MINUTES % minutes:
        divisors = [d for d in (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240) if d != minutes]
        near = sorted(divisors, key=lambda d: abs(d - minutes))[:2]
        raise ScheduleError(
            f"Every {minutes} minutes does not repeat evenly over a day, so no cron schedule "
            f"can express it. Choose a number of minutes that divides 1440 (e.g. "
            f"{near[0]} or {near[1]}), or write a cron expression."
        )
    first = (at_hour * 60 + at_minute) % minutes
    hours_by_minute: dict[int, list[int]] = {}
    for t in range(first, DAY_MINUTES, minutes):
        hours_by_minute.setdefault(t % 60, []).append(t // 60)
    minutes_by_hours: dict[tuple[int, ...], list[int]] = {}
    for minute, hours in hours_by_minute.items():
        minutes_by_hours.setdefault(tuple(hours), []).append(minute)
    lines = []
    for hours, mins in sorted(minutes_by_hours.items(), key=lambda item: min(item[1])):
        lines.append(f"{_values(mins, 60, 60)} {_values(list(hours), 24, 24)} * * *")
    return lines


# -- a trigger as a whole -------------------------------------------------------------------------


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"{name!r} is not a known time zone (e.g. UTC, Europe/Paris)."
        ) from None


_TZ_CHOICES: list[str] | None = None


def timezone_names() -> list[str]:
    """IANA names for the form's select: UTC first, then alphabetical, without legacy aliases."""
    global _TZ_CHOICES
    if _TZ_CHOICES is None:
        legacy = re.compile(r"^(Etc/|SystemV/|US/|posix|right/)|^[A-Z0-9+-]+$")
        names = sorted(n for n in available_timezones() if not legacy.search(n) and n != "UTC")
        _TZ_CHOICES = ["UTC", *names]
    return _TZ_CHOICES


@dataclass(frozen=True)
class Trigger:
    """What a RecurringRun says about when to run (trigger_type is "cron" or "periodic")."""

    trigger_type: str
    cron: str = ""
    interval_seconds: int | None = None
    timezone: str = "UTC"
    start_at: datetime | None = None
    end_at: datetime | None = None

    @classmethod
    def of(cls, recurring) -> Trigger:
        return cls(
            trigger_type=recurring.trigger_type,
            cron=recurring.cron,
            interval_seconds=recurring.interval_seconds,
            timezone=recurring.timezone or "UTC",
            start_at=recurring.start_at,
            end_at=recurring.end_at,
        )

    @property
    def tz(self) -> ZoneInfo:
        return check_timezone(self.timezone)

    def check(self) -> None:
        """Raise ScheduleError for anything that cannot be scheduled."""
        self.tz  # noqa: B018 - raises for an unknown zone
        self.schedules()
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ScheduleError("The end must be after the start.")

    def schedules(self) -> list[str]:
        if self.trigger_type == "cron":
            return [validate_cron(self.cron)]
        anchor = self.start_at.astimezone(self.tz) if self.start_at else None
        return frequency_schedules(check_interval(self.interval_seconds), anchor)

    def describe(self) -> str:
        """In words: "Every 15 minutes", "At 09:30, Monday through Friday"."""
        try:
            lines = self.schedules()
        except ScheduleError:
            return "Invalid schedule"
        if self.trigger_type == "cron":
            return describe_cron(lines[0])
        seconds = int(self.interval_seconds or 0)
        words = interval_words(seconds).capitalize()
        if seconds == WEEK:
            _, hour, _, _, dow = lines[0].split()
            minute = lines[0].split()[0]
            return (
                f"{words}, on {WEEKDAYS[(int(dow) - 1) % 7]} at {int(hour):02d}:{int(minute):02d}"
            )
        if seconds == DAY:
            minute, hour = lines[0].split()[:2]
            return f"{words}, at {int(hour):02d}:{int(minute):02d}"
        if self.start_at and seconds > MINUTE:
            local = self.start_at.astimezone(self.tz)
            return f"{words}, counted from {local:%H:%M}"
        return words

    def next_times(self, count: int = 5, now: datetime | None = None) -> list[datetime]:
        """The next `count` times it runs after `now` (aware, in the trigger's timezone): not
        before the start, and before the end (exclusive)."""
        tz = self.tz
        lines = self.schedules()
        base = now or datetime.now(tz)
        if self.start_at and self.start_at > base:
            base = self.start_at - timedelta(seconds=1)
        base = base.astimezone(tz)
        iterators = [croniter(line, base) for line in lines]
        heads = [it.get_next(datetime) for it in iterators]
        times: list[datetime] = []
        while len(times) < count:
            index = min(range(len(heads)), key=heads.__getitem__)
            moment = heads[index]
            if self.end_at and moment >= self.end_at:
                break
            if not times or moment != times[-1]:
                times.append(moment)
            heads[index] = iterators[index].get_next(datetime)
        return times
