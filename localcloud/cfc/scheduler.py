"""CFC crontab triggers (定时任务触发器), run locally: each trigger invokes its function on its schedule.

Schedules are CFC's two forms (doc ajzmg1mft; bce-python-sdk ``CrontabTriggerData``), in UTC:

- ``rate(N unit)``: every N minutes/hours/days (``minute``/``minutes``, ``hour``/``hours``, ``day``/``days``);
- ``cron(minute hour day-of-month month day-of-week)``: five fields with ``*``, ``?`` (any), ``a``, ``a-b``,
  ``*/n``, ``a-b/n`` and lists ``a,b``; months 1-12 or JAN-DEC, days of week 0-6 (0 = Sunday; 7 too) or SUN-SAT.
  When both day fields are restricted a day matching either one fires (as in Unix cron).

[INFERRED] What CFC passes as the event of a crontab invocation is not documented in the sources we have; we pass
``{"triggerName", "triggerTime"}`` (the reconciler ignores its event). A run that fails is logged and the next tick
runs again (the reconciler's work is idempotent); ticks missed while a run is still going are skipped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from localcloud.cfc.template import TemplateError

log = logging.getLogger(__name__)

_RATE_RE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON_RE = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i + 1 for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
}
_WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
# (name, lowest, highest, names) per cron field.
_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day-of-month", 1, 31, {}), ("month", 1, 12, _MONTHS),
           ("day-of-week", 0, 7, _WEEKDAYS))  # fmt: skip


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: ``next_after(moment)`` is the first firing time strictly after ``moment`` (UTC)."""

    expression: str
    every: timedelta | None = None  # rate(...)
    fields: tuple[frozenset[int], ...] = ()  # cron(...): minute, hour, day of month, month, day of week
    any_day_of_month: bool = True
    any_day_of_week: bool = True

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        text = expression.strip()
        rate = _RATE_RE.match(text)
        if rate:
            n, unit = int(rate.group(1)), rate.group(2).rstrip("s")
            if n < 1:
                raise ScheduleError(f"schedule {expression!r}: the rate must be at least 1 {unit}")
            return cls(text, every=timedelta(seconds=n * _UNITS[unit]))
        cron = _CRON_RE.match(text)
        if not cron:
            raise ScheduleError(
                f"schedule {expression!r} is not CFC's format: use rate(5 minutes) or cron(*/5 * * * ?) (UTC)"
            )
        parts = cron.group(1).split()
        if len(parts) != 5:
            raise ScheduleError(
                f"schedule {expression!r}: cron(...) takes 5 fields (minute hour day-of-month month day-of-week), "
                f"got {len(parts)}; e.g. cron(*/5 * * * ?)"
            )
        fields = tuple(_parse_field(expression, part, *spec) for part, spec in zip(parts, _FIELDS, strict=True))
        dow = frozenset(d % 7 for d in fields[4])  # 7 is Sunday too
        return cls(text, fields=(*fields[:4], dow), any_day_of_month=parts[2] in ("*", "?"),
                   any_day_of_week=parts[4] in ("*", "?"))  # fmt: skip

    def next_after(self, moment: datetime) -> datetime:
        if self.every is not None:
            return moment + self.every
        minutes, hours, days, months, weekdays = self.fields
        t = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + timedelta(days=366 * 5)  # e.g. cron(0 0 29 2 ?) fires once in four years
        while t < limit:
            if t.month not in months or not self._day_matches(t, days, weekdays):
                t = (t + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if t.hour not in hours:
                t = (t + timedelta(hours=1)).replace(minute=0)
                continue
            if t.minute in minutes:
                return t
            t += timedelta(minutes=1)
        raise ScheduleError(f"schedule {self.expression!r} never fires")

    def _day_matches(self, t: datetime, days: frozenset[int], weekdays: frozenset[int]) -> bool:
        by_month, by_week = t.day in days, (t.isoweekday() % 7) in weekdays
        if self.any_day_of_month and self.any_day_of_week:
            return True
        if self.any_day_of_week:
            return by_month
        if self.any_day_of_month:
            return by_week
        return by_month or by_week


def _parse_field(expression: str, text: str, name: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    def bad(why: str) -> ScheduleError:
        return ScheduleError(f"schedule {expression!r}: {name} field {text!r} {why}")

    def number(word: str) -> int:
        value = names.get(word.upper()) if names else None
        if value is None:
            if not word.isdigit():
                raise bad(f"has {word!r}, not a number" + (f" or one of {', '.join(names)}" if names else ""))
            value = int(word)
        if not low <= value <= high:
            raise bad(f"has {value}, outside {low}-{high}")
        return value

    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise bad("has a step that is not a positive number")
            step = int(step_text)
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = number(first), number(last)
            if start > end:
                raise bad(f"has the range {base!r} backwards")
        else:
            start = number(base)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class ScheduledTrigger:
    function: str
    name: str
    schedule: Schedule


class CrontabScheduler:
    """Runs ``invoke(function, event)`` for each trigger on its schedule, in one background thread.

    ``every`` (seconds; tests and demos) replaces every schedule by a fixed interval."""

    def __init__(
        self,
        triggers: Iterable[ScheduledTrigger],
        invoke: Callable[[str, dict], object],
        *,
        every: float | None = None,
    ) -> None:
        self.triggers = list(triggers)
        self._invoke = invoke
        self._every = timedelta(seconds=every) if every else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Condition()
        self.runs: dict[str, int] = {t.name: 0 for t in self.triggers}  # finished runs per trigger
        self.failures: dict[str, int] = {t.name: 0 for t in self.triggers}

    def next_after(self, trigger: ScheduledTrigger, moment: datetime) -> datetime:
        return moment + self._every if self._every else trigger.schedule.next_after(moment)

    def start(self) -> CrontabScheduler:
        if self.triggers and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="cfc-crontab", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2) -> None:
        """No new runs; a run in progress ends when the runtime stops its instance (the stack stops it next)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_for_runs(self, count: int, timeout: float) -> bool:
        """Tests: wait until every trigger has finished at least ``count`` runs since start."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while min(self.runs.values(), default=count) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def _loop(self) -> None:
        now = _utcnow()
        due = {t.name: self.next_after(t, now) for t in self.triggers}
        while not self._stop.is_set():
            trigger = min(self.triggers, key=lambda t: due[t.name])
            wait = (due[trigger.name] - _utcnow()).total_seconds()
            if wait > 0 and self._stop.wait(wait):
                break
            self._run(trigger, due[trigger.name])
            # Ticks that passed while it ran are skipped, as a crontab does not queue them.
            due[trigger.name] = self.next_after(trigger, max(due[trigger.name], _utcnow()))

    def _run(self, trigger: ScheduledTrigger, at: datetime) -> None:
        event = {"triggerName": trigger.name, "triggerTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        try:
            self._invoke(trigger.function, event)
            failed = False
        except Exception as exc:  # the function failed or timed out: the next tick runs again
            log.warning("crontab trigger %s: %s failed: %s", trigger.name, trigger.function, exc)
            failed = True
        with self._lock:
            self.runs[trigger.name] += 1
            self.failures[trigger.name] += failed
            self._lock.notify_all()


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def triggers_of(functions) -> list[ScheduledTrigger]:
    """The crontab triggers a template declares (``FunctionSpec.crontab_triggers``), parsed."""
    found = []
    for name, spec in functions.items():
        for trigger in getattr(spec, "crontab_triggers", ()):
            try:
                found.append(ScheduledTrigger(name, trigger.name, Schedule.parse(trigger.schedule)))
            except ScheduleError as exc:
                raise TemplateError(f"function {name}, crontab trigger {trigger.name}: {exc}") from None
    return found
