"""The cron lines the app accepts (one home for the rule): 5 fields, at most once a minute, a
date that exists. Framework-free: the recurring-run form and services (apps/recurring/schedules.py)
and the CronWorkflow importer (apps/pipelines/validation.py) both come here, so a schedule is
refused the same way, with the same words, wherever it is given."""

from __future__ import annotations

from datetime import datetime

from croniter import croniter
from croniter.croniter import CroniterBadDateError

FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
FIELD_RANGES = ("0-59", "0-23", "1-31", "1-12 or JAN-DEC", "0-7 or SUN-SAT")
CRON_HINT = "five fields: minute hour day-of-month month day-of-week, e.g. 30 9 * * 1-5"


class ScheduleError(ValueError):
    """A trigger that cannot be a schedule; the message says why and what to do instead."""


def validate_cron(expression: str) -> str:
    """The expression with single spaces, or ScheduleError naming the bad field."""
    text = " ".join((expression or "").split())
    if not text:
        raise ScheduleError(f"Enter a cron expression: {CRON_HINT}.")
    if text.startswith("@"):
        raise ScheduleError(
            f"{text!r}: shortcuts such as @daily are not accepted; write the {CRON_HINT}."
        )
    parts = text.split(" ")
    if len(parts) == 6:
        raise ScheduleError(
            f"{text!r} has 6 fields: schedules with seconds would run more than once a minute, "
            f"which Argo does not do. Use {CRON_HINT}."
        )
    if len(parts) != 5:
        raise ScheduleError(f"{text!r} has {len(parts)} fields; a schedule has {CRON_HINT}.")
    for index, part in enumerate(parts):
        probe = ["*"] * 5
        probe[index] = part
        if not croniter.is_valid(" ".join(probe)):
            raise ScheduleError(
                f"The {FIELDS[index]} field {part!r} (field {index + 1} of 5) is not valid: "
                f"it takes {FIELD_RANGES[index]}, with , - * and /."
            )
    if not croniter.is_valid(text):
        raise ScheduleError(f"{text!r} is not a valid cron expression: {CRON_HINT}.")
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except (CroniterBadDateError, ValueError, KeyError):
        raise ScheduleError(f"{text!r} never happens (no such date in any year).") from None
    return text
