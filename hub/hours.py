"""Business hours: opening times by weekday in a queue's time zone, and holidays."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def _span(value: str) -> str:
    match = _SPAN.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a span like 09:00-17:30")
    start = (int(match[1]), int(match[2]))
    end = (int(match[3]), int(match[4]))
    if end <= start or (end[0] == 24 and end[1] != 0):
        raise ValueError(f"{value!r} must end after it starts (24:00 at the latest)")
    return value.strip()


Span = Annotated[str, AfterValidator(_span)]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class BusinessHours(BaseModel):
    """``timezone``; per weekday (``mon`` .. ``sun``) a list of ``"HH:MM-HH:MM"`` spans
    (a day left out is closed); ``holidays`` are closed dates (``YYYY-MM-DD``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    mon: list[Span] = Field(default_factory=list)
    tue: list[Span] = Field(default_factory=list)
    wed: list[Span] = Field(default_factory=list)
    thu: list[Span] = Field(default_factory=list)
    fri: list[Span] = Field(default_factory=list)
    sat: list[Span] = Field(default_factory=list)
    sun: list[Span] = Field(default_factory=list)
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name like Europe/Madrid") from None
        return value

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        now = local.hour * 60 + local.minute
        spans: list[str] = getattr(self, WEEKDAYS[local.weekday()])
        for span in spans:
            start, end = span.split("-")
            if _minutes(start) <= now < _minutes(end):
                return True
        return False
