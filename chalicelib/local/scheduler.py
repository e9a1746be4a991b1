"""Fire every ``@app.schedule`` handler on its schedule, with an EventBridge scheduled event.

Schedules are AWS's ``rate(N unit)`` and six-field ``cron(min hour dom month dow year)``
(``*``, ``?``, numbers, names, lists, ranges and steps; UTC; day-of-week 1 = Sunday).
The clock is injected: :meth:`Scheduler.run_due` fires what is due at a given moment,
so tests move time instead of waiting.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalice.app import Chalice, ScheduledEventConfig, ScheduleExpression

from chalicelib.clock import Clock, utcnow
from chalicelib.local.runtime import (
    DEFAULT_BUDGET_SECONDS,
    Handler,
    elapsed_ms,
    find_handler,
    function_name,
    invoke,
    lambda_context,
    rule_arn,
    scheduled_event,
)

Log = Callable[[str], None]

MONTHS = {name: i for i, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN"), start=1)} | {
    name: i for i, name in enumerate(("JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=7)
}
WEEKDAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
SEARCH_YEARS = 5


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime | None: ...


@dataclass(frozen=True)
class Rate:
    seconds: int
    anchor: datetime

    def next_after(self, moment: datetime) -> datetime:
        periods = int((moment - self.anchor).total_seconds() // self.seconds) + 1
        return self.anchor + timedelta(seconds=self.seconds * max(1, periods))


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    def value(token: str) -> int:
        token = token.upper()
        number = names[token] if names and token in names else int(token) if token.isdigit() else None
        if number is None or not low <= number <= high:
            raise ValueError(f"{token!r} is not in {low}..{high}")
        return number

    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step_text and (not step_text.isdigit() or step < 1):
            raise ValueError(f"bad step in {part!r}")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = value(start), value(end)
            if first > last:
                raise ValueError(f"empty range {base!r}")
        else:
            first = value(base)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: '?', any day of the month
    months: frozenset[int]
    weekdays: frozenset[int] | None  # None: '?'; 1 = Sunday .. 7 = Saturday
    years: frozenset[int]

    @classmethod
    def parse(cls, fields: str) -> Cron:
        parts = fields.split()
        if len(parts) != 6:
            raise ValueError(f"cron needs 6 fields (minutes hours day-of-month month day-of-week year): {fields!r}")
        minute, hour, day, month, weekday, year = parts
        if (day == "?") == (weekday == "?"):
            raise ValueError("exactly one of day-of-month and day-of-week must be '?'")
        for part in (day, weekday):
            if re.search(r"[LW#]", part.upper()):
                raise ValueError(f"{part!r}: L, W and # are not supported by the local scheduler")
        return cls(
            minutes=_field(minute, 0, 59),
            hours=_field(hour, 0, 23),
            days=None if day == "?" else _field(day, 1, 31),
            months=_field(month, 1, 12, MONTHS),
            weekdays=None if weekday == "?" else _field(weekday, 1, 7, WEEKDAYS),
            years=_field(year, 1970, 2199),
        )

    def day_matches(self, day: datetime) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days is not None and day.day not in self.days:
            return False
        aws_weekday = (day.weekday() + 1) % 7 + 1  # Monday is 0 in Python, 2 in AWS
        return self.weekdays is None or aws_weekday in self.weekdays

    def matches(self, moment: datetime) -> bool:
        moment = moment.astimezone(UTC)
        return moment.minute in self.minutes and moment.hour in self.hours and self.day_matches(moment)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first whole minute strictly after ``moment`` that matches, or None for years."""
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(366 * SEARCH_YEARS):
            if self.day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        return None


def parse_schedule(expression: str | ScheduleExpression, anchor: datetime) -> Schedule:
    """A chalice ``Rate``/``Cron`` object or an AWS ``rate(...)``/``cron(...)`` string."""
    text = expression.to_string() if isinstance(expression, ScheduleExpression) else str(expression)
    match = re.fullmatch(r"\s*(rate|cron)\((.*)\)\s*", text)
    if not match:
        raise ValueError(f"not a schedule expression: {text!r}")
    kind, body = match.groups()
    if kind == "cron":
        return Cron.parse(body)
    value, _, unit = body.strip().partition(" ")
    if not value.isdigit() or int(value) < 1 or unit.strip().lower() not in RATE_UNITS:
        raise ValueError(f"rate needs a positive whole number and minute(s), hour(s) or day(s): {text!r}")
    return Rate(int(value) * RATE_UNITS[unit.strip().lower()], anchor)


@dataclass
class ScheduledJob:
    name: str
    expression: str
    schedule: Schedule
    handler: Handler
    function_name: str
    rule_arn: str
    next_due: datetime | None = field(default=None)


class Scheduler:
    def __init__(
        self,
        app: Chalice,
        *,
        stage: str,
        region: str,
        log: Log,
        clock: Clock = utcnow,
        budget_seconds: int = DEFAULT_BUDGET_SECONDS,
    ) -> None:
        self.app = app
        self.region = region
        self.log = log
        self.clock = clock
        self.budget_seconds = budget_seconds
        now = clock()
        self.jobs: list[ScheduledJob] = []
        for source in schedule_sources(app):
            expression = source.schedule_expression
            text = expression.to_string() if isinstance(expression, ScheduleExpression) else str(expression)
            schedule = parse_schedule(expression, anchor=now)
            name = function_name(app, stage, source.name)
            job = ScheduledJob(
                name=source.name,
                expression=text,
                schedule=schedule,
                handler=find_handler(app, source.name, source.handler_string),
                function_name=name,
                rule_arn=rule_arn(region, name),  # chalice names the rule like the function
            )
            job.next_due = schedule.next_after(now)
            self.jobs.append(job)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def next_due(self) -> datetime | None:
        dues = [job.next_due for job in self.jobs if job.next_due is not None]
        return min(dues) if dues else None

    def run_due(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Fire every job due at ``now`` (once, even if several firings were missed); the events sent."""
        now = now or self.clock()
        sent = []
        for job in self.jobs:
            if job.next_due is None or job.next_due > now:
                continue
            sent.append(self.fire(job, job.next_due))
            job.next_due = job.schedule.next_after(now)
        return sent

    def fire(self, job: ScheduledJob, moment: datetime) -> dict[str, Any]:
        event = scheduled_event(job.rule_arn, self.region, moment)
        context = lambda_context(job.function_name, self.region, self.budget_seconds)
        started = time.perf_counter()
        outcome = "ok"
        try:
            invoke(job.handler, event, context)
        except Exception as exc:
            outcome = f"handler raised {type(exc).__name__}: {exc}"
        self.log(
            f"schedule {job.expression} -> {job.name}: fired for {event['time']}, "
            f"{outcome} ({elapsed_ms(started)} ms, request {context.aws_request_id})"
        )
        return event

    # --- the background thread ---

    def start(self) -> None:
        if not self.jobs:
            return
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            due = self.next_due()
            if due is None:
                return
            wait = (due - self.clock()).total_seconds()
            self._stop.wait(min(max(wait, 0.05), 30.0))

    def signal_stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def schedule_sources(app: Chalice) -> list[ScheduledEventConfig]:
    return [source for source in app.event_sources if isinstance(source, ScheduledEventConfig)]
