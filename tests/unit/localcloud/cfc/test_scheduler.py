"""localcloud's crontab triggers: CFC's schedule formats and the scheduler thread."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from localcloud.cfc.scheduler import CrontabScheduler, Schedule, ScheduledTrigger, ScheduleError, triggers_of
from localcloud.cfc.template import CrontabTrigger, FunctionSpec, TemplateError

T = datetime(2026, 12, 1, 13, 58, 30)  # a Tuesday


def fires(expression: str, start: datetime = T, n: int = 3) -> list[str]:
    schedule, out, t = Schedule.parse(expression), [], start
    for _ in range(n):
        t = schedule.next_after(t)
        out.append(t.strftime("%a %m-%d %H:%M:%S"))
    return out


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(5 minutes)", ["Tue 12-01 14:03:30", "Tue 12-01 14:08:30", "Tue 12-01 14:13:30"]),
        ("rate(1 minute)", ["Tue 12-01 13:59:30", "Tue 12-01 14:00:30", "Tue 12-01 14:01:30"]),
        ("rate(2 hours)", ["Tue 12-01 15:58:30", "Tue 12-01 17:58:30", "Tue 12-01 19:58:30"]),
        ("cron(*/5 * * * ?)", ["Tue 12-01 14:00:00", "Tue 12-01 14:05:00", "Tue 12-01 14:10:00"]),
        ("cron(0 * * * *)", ["Tue 12-01 14:00:00", "Tue 12-01 15:00:00", "Tue 12-01 16:00:00"]),
        ("cron(30 2 * * ?)", ["Wed 12-02 02:30:00", "Thu 12-03 02:30:00", "Fri 12-04 02:30:00"]),
        ("cron(0 9 ? * MON-FRI)", ["Wed 12-02 09:00:00", "Thu 12-03 09:00:00", "Fri 12-04 09:00:00"]),
        ("cron(0 0 1 JAN,JUL ?)", ["Fri 01-01 00:00:00", "Thu 07-01 00:00:00", "Sat 01-01 00:00:00"]),
        ("cron(15,45 8-9 * * 0)", ["Sun 12-06 08:15:00", "Sun 12-06 08:45:00", "Sun 12-06 09:15:00"]),
        ("cron(0 0 29 2 ?)", ["Tue 02-29 00:00:00", "Sun 02-29 00:00:00", "Fri 02-29 00:00:00"]),
    ],
)
def test_schedules_fire_when_cfc_would(expression, expected):
    assert fires(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 */5 * * * *", "not CFC's format"),
        ("cron(0 */5 * * * *)", "takes 5 fields"),
        ("cron(61 * * * ?)", "minute field '61' has 61, outside 0-59"),
        ("cron(* * * FOO ?)", "month field 'FOO' has 'FOO', not a number or one of JAN"),
        ("cron(*/0 * * * ?)", "step that is not a positive number"),
        ("cron(5-1 * * * ?)", "backwards"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(5 seconds)", "not CFC's format"),
    ],
)
def test_bad_schedules_say_what_is_wrong(expression, message):
    with pytest.raises(ScheduleError, match=message):
        Schedule.parse(expression)


def test_template_triggers_are_parsed_and_bad_ones_name_the_function(tmp_path):
    spec = FunctionSpec("Reconcile", "handlers.on_schedule.handler", "python3", tmp_path)
    spec.crontab_triggers = [CrontabTrigger("every-5", "rate(5 minutes)")]
    [trigger] = triggers_of({"Reconcile": spec})
    assert (trigger.function, trigger.name, trigger.schedule.expression) == ("Reconcile", "every-5", "rate(5 minutes)")
    spec.crontab_triggers = [CrontabTrigger("bad", "cron(99 * * * ?)")]
    with pytest.raises(TemplateError, match="function Reconcile, crontab trigger bad: .*minute field"):
        triggers_of({"Reconcile": spec})


def test_scheduler_invokes_on_its_interval_and_survives_a_failing_run():
    calls: list[tuple[str, dict]] = []
    lock = threading.Lock()

    def invoke(function, event):
        with lock:
            calls.append((function, event))
            if len(calls) == 1:
                raise RuntimeError("the function failed")

    trigger = ScheduledTrigger("Reconcile", "every-5", Schedule.parse("rate(5 minutes)"))
    scheduler = CrontabScheduler([trigger], invoke, every=0.05).start()
    try:
        assert scheduler.wait_for_runs(3, timeout=10)
    finally:
        scheduler.stop()
    assert scheduler.failures["every-5"] == 1
    assert all(f == "Reconcile" and e["triggerName"] == "every-5" and e["triggerTime"].endswith("Z") for f, e in calls)


def test_scheduler_without_triggers_starts_nothing():
    scheduler = CrontabScheduler([], lambda f, e: None).start()
    scheduler.stop()
    assert scheduler.runs == {}
