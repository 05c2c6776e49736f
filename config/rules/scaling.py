"""Instance autoscaling: a range that holds the initial count, and the metric the mode has."""

from __future__ import annotations

from config.backends import Problem
from config.shapes import Autoscaling, Endpoint


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
    return errors + _metric_problems(p, ep, sc)


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
