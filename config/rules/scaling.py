"""Instance autoscaling: a range that holds the initial count, and the metric the mode has."""

from __future__ import annotations

from config.backends import Problem
from config.shapes import Autoscaling, Endpoint
from config.shapes.operations import Schedule


def scaling_problems(p: str, ep: Endpoint) -> list[Problem]:
    sc = ep.autoscaling
    if sc is None:
        return []
    errors: list[Problem] = []
    if sc.min_capacity > sc.max_capacity:
        errors.append((f"{p}.autoscaling.min_capacity",
                       f"{sc.min_capacity} is above max_capacity {sc.max_capacity}"))
    errors += _mode_problems(p, ep, sc)
    if not max(sc.min_capacity, 1) <= ep.initial_instance_count <= sc.max_capacity:
        errors.append((f"{p}.initial_instance_count",
                       f"{ep.initial_instance_count} is outside autoscaling "
                       f"{max(sc.min_capacity, 1)}..{sc.max_capacity}"))
    return errors + _metric_problems(p, ep, sc) + _schedule_problems(p, sc)


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


def _schedule_problems(p: str, sc: Autoscaling) -> list[Problem]:
    """Each schedule moves the bounds within the endpoint's own range: a deployment that
    changes the scaling registers that range until the schedule fires again."""
    errors: list[Problem] = []
    seen: set[str] = set()
    for i, schedule in enumerate(sc.schedules):
        at = f"{p}.autoscaling.schedules[{i}] ({schedule.name})"
        if schedule.name in seen:
            errors.append((f"{at}.name", f"{schedule.name!r} is used twice; names are unique "
                                         "per endpoint"))
        seen.add(schedule.name)
        errors += _bounds_problems(at, schedule, sc)
    return errors


def _bounds_problems(at: str, schedule: Schedule, sc: Autoscaling) -> list[Problem]:
    low, high = schedule.min_capacity, schedule.max_capacity
    if low is None and high is None:
        return [(at, "sets neither min_capacity nor max_capacity; give one or both")]
    errors: list[Problem] = []
    for key, value in (("min_capacity", low), ("max_capacity", high)):
        if value is not None and not sc.min_capacity <= value <= sc.max_capacity:
            errors.append((f"{at}.{key}", f"{value} is outside autoscaling "
                                          f"{sc.min_capacity}..{sc.max_capacity}"))
    if low is not None and high is not None and low > high:
        errors.append((f"{at}.min_capacity", f"{low} is above max_capacity {high}"))
    return errors
