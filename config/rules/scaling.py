"""Instance autoscaling: a range that holds the initial count, and the metric the mode has;
schedules within the range they move (an endpoint's instances, a component's copies)."""

from __future__ import annotations

from collections.abc import Sequence

from config.backends import Problem
from config.shapes import Autoscaling, Component, Endpoint
from config.shapes.operations import ScheduleTiming


def scaling_problems(p: str, ep: Endpoint) -> list[Problem]:
    sc = ep.autoscaling
    copies = [problem for j, c in enumerate(ep.components or [])
              for problem in copy_schedule_problems(f"{p}.components[{j}] ({c.name})", c)]
    if sc is None:
        return copies
    errors: list[Problem] = []
    if sc.min_capacity > sc.max_capacity:
        errors.append((f"{p}.autoscaling.min_capacity",
                       f"{sc.min_capacity} is above max_capacity {sc.max_capacity}"))
    errors += _mode_problems(p, ep, sc)
    if not max(sc.min_capacity, 1) <= ep.initial_instance_count <= sc.max_capacity:
        errors.append((f"{p}.initial_instance_count",
                       f"{ep.initial_instance_count} is outside autoscaling "
                       f"{max(sc.min_capacity, 1)}..{sc.max_capacity}"))
    return (errors + _metric_problems(p, ep, sc) + copies
            + _schedule_problems(f"{p}.autoscaling", sc.schedules, "capacity",
                                 (sc.min_capacity, sc.max_capacity)))


def _mode_problems(p: str, ep: Endpoint, sc: Autoscaling) -> list[Problem]:
    if ep.is_components:
        return [(f"{p}.autoscaling", "components scale per component (components[]."
                                     "autoscaling) and instances with instance_scaling")]
    if ep.is_serverless:
        return [(f"{p}.autoscaling", "SageMaker scales serverless endpoints itself (serverless."
                                     "max_concurrency, provisioned_concurrency)")]
    if sc.min_capacity == 0 and not ep.is_async:
        return [(f"{p}.autoscaling.min_capacity",
                 "0 is allowed only for mode: async (a real-time endpoint "
                 "needs at least one instance); use 1")]
    return []


def _metric_problems(p: str, ep: Endpoint, sc: Autoscaling) -> list[Problem]:
    if ep.is_async and sc.target_invocations_per_instance is not None:
        return [(f"{p}.autoscaling.target_invocations_per_instance",
                 "async endpoints publish no invocation metrics and scale on "
                 "backlog: use target_backlog_per_instance")]
    if not ep.is_async and sc.target_backlog_per_instance is not None:
        return [(f"{p}.autoscaling.target_backlog_per_instance",
                 "only async endpoints have a backlog: use "
                 "target_invocations_per_instance, or set mode: async")]
    return []


def copy_schedule_problems(pc: str, c: Component) -> list[Problem]:
    """A component's schedules move its copies within ``autoscaling.min_copies..max_copies``
    like an endpoint's. Down to zero copies only when ``min_copies`` is 0 itself: only then
    does the component have the alarm and step policy that bring the first copy back
    (target tracking cannot), so a schedule at 0 with ``min_copies`` above would strand the
    component without a copy until its next schedule."""
    a = c.autoscaling
    if a is None:
        return []
    errors = _schedule_problems(f"{pc}.autoscaling", a.schedules, "copies",
                                (a.min_copies, a.max_copies), per="component")
    stranded = [f"{pc}.autoscaling.schedules[{i}] ({s.name}).min_copies"
                for i, s in enumerate(a.schedules) if s.min_copies == 0 and a.min_copies > 0]
    # the range error at these paths is true but says less than why 0 cannot be had
    return [e for e in errors if e[0] not in stranded] + [
        (path, "0 copies needs the scale-from-zero alarm and step policy, which exist only "
               f"with autoscaling.min_copies: 0 (now {a.min_copies}): set min_copies: 0 and "
               "let a schedule keep the daytime minimum") for path in stranded]


def _schedule_problems(at: str, schedules: Sequence[ScheduleTiming], unit: str,
                       limits: tuple[int, int], per: str = "endpoint") -> list[Problem]:
    """Each schedule moves the bounds (``min_<unit>``, ``max_<unit>``) within ``limits``,
    the range a deployment registers again until the schedule fires again."""
    errors: list[Problem] = []
    seen: set[str] = set()
    for i, schedule in enumerate(schedules):
        here = f"{at}.schedules[{i}] ({schedule.name})"
        if schedule.name in seen:
            errors.append((f"{here}.name", f"{schedule.name!r} is used twice; names are "
                                           f"unique per {per}"))
        seen.add(schedule.name)
        errors += _bounds_problems(here, schedule, unit, limits)
    return errors


def _bounds_problems(at: str, schedule: ScheduleTiming, unit: str,
                     limits: tuple[int, int]) -> list[Problem]:
    low_key, high_key = f"min_{unit}", f"max_{unit}"
    low, high = getattr(schedule, low_key), getattr(schedule, high_key)
    if low is None and high is None:
        return [(at, f"sets neither {low_key} nor {high_key}; give one or both")]
    errors: list[Problem] = []
    for key, value in ((low_key, low), (high_key, high)):
        if value is not None and not limits[0] <= value <= limits[1]:
            errors.append((f"{at}.{key}", f"{value} is outside autoscaling "
                                          f"{limits[0]}..{limits[1]}"))
    if low is not None and high is not None and low > high:
        errors.append((f"{at}.{low_key}", f"{low} is above {high_key} {high}"))
    return errors
