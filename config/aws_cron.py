"""AWS's six-field cron format, as Application Auto Scaling's scheduled actions take it.

No parser of this format is available offline (croniter and friends read the five-field
Unix format, without ``?``, ``L``, ``W``, ``#`` or a year), so this checks the grammar
documented in the Application Auto Scaling User Guide, "Schedule recurring scaling
actions using cron expressions" (the format botocore 1.44's PutScheduledAction refers
to: ``[Minutes] [Hours] [Day_of_Month] [Month] [Day_of_Week] [Year]``): per field its
values and wildcards, and one of day-of-month and day-of-week a ``?``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class Field(NamedTuple):
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    #: the field's own wildcards besides , - * / (a whole item matching one of these)
    special: str = ""


_DAY_OF_MONTH_SPECIAL = r"\?|L|LW|([1-9]|[12]\d|3[01])W"
_DAY_OF_WEEK_SPECIAL = r"\?|L|([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(L|#[1-5])"

FIELDS = (
    Field("minutes", 0, 59),
    Field("hours", 0, 23),
    Field("day-of-month", 1, 31, special=_DAY_OF_MONTH_SPECIAL),
    Field("month", 1, 12, MONTHS),
    Field("day-of-week", 1, 7, DAYS, special=_DAY_OF_WEEK_SPECIAL),
    Field("year", 1970, 2199),
)


def schedule_expression(fields: str) -> str:
    """The six fields as Application Auto Scaling's ``Schedule`` takes them: ``cron(...)``."""
    return f"cron({fields})"


def cron_problem(expression: str) -> str | None:
    """What is wrong with ``expression`` (the six fields, without ``cron(...)``), or None."""
    parts = expression.split()
    if len(parts) != len(FIELDS):
        return (f"{len(parts)} fields; AWS cron has 6: minutes hours day-of-month month "
                "day-of-week year (e.g. '0 8 ? * MON-FRI *')")
    for field, text in zip(FIELDS, parts, strict=True):
        problem = _field_problem(field, text)
        if problem:
            return f"{field.name} {text!r}: {problem}"
    day_of_month, day_of_week = parts[2], parts[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return ("exactly one of day-of-month and day-of-week must be '?' "
                f"(got {day_of_month!r} and {day_of_week!r})")
    return None


def _field_problem(field: Field, text: str) -> str | None:
    if field.special and re.fullmatch(field.special, text):
        return None
    for item in text.split(","):
        problem = _item_problem(field, item)
        if problem:
            return problem
    return None


def _item_problem(field: Field, item: str) -> str | None:
    base, _, step = item.partition("/")
    if _ and not (step.isdigit() and int(step) >= 1):
        return f"the increment after '/' must be a whole number from 1 (got {step!r})"
    if base == "*":
        return None
    low, dash, high = base.partition("-")
    bounds = [_value(field, low)] + ([_value(field, high)] if dash else [])
    if None in bounds:
        return (f"{item!r} is not a value, range, '*' or increment; allowed "
                f"{field.low}-{field.high}" + (f" or {field.names[0]}-{field.names[-1]}"
                                              if field.names else "")
                + (" (and ? L W # where the field takes them)" if field.special else ""))
    return None


def _value(field: Field, text: str) -> int | None:
    if text.upper() in field.names:
        return field.names.index(text.upper()) + 1
    if text.isdigit() and field.low <= int(text) <= field.high:
        return int(text)
    return None
