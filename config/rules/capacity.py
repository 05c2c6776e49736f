"""Capacity of the production variant: routing, fallback instance types, a capacity
reservation, the provision timeout and the scale-in policy, each where SageMaker has it.

Sources: botocore 1.44.5's sagemaker model (the documentation of RoutingConfig,
PrefixAwareRoutingConfig, ScaleInPolicy, InstancePool, ReservedCapacityInstanceType) and the
developer guide's "Deploy to multiple instance types with instance pools" (pools replace
InstanceType; real-time and async endpoints, single models and inference components)."""

from __future__ import annotations

import functools

from config.backends import Problem
from config.shapes import Component, Endpoint
from llm_constructs import instances
from llm_constructs.botocore_data import service_model

from .accelerators import accelerator_problems
from .sizing import sizing_problems

#: The config keys a serverless endpoint refuses: it has no instances to route to, reserve,
#: fall back from or provision.
_INSTANCE_KEYS = ("routing", "capacity_reservation", "instance_provision_timeout_seconds")
_PREFIX_KEYS = ("prefix_length", "concurrency_threshold")


@functools.cache
def most_pools() -> int:
    """Instance pools a variant takes: botocore's InstancePoolList max."""
    return int(service_model("sagemaker")["shapes"]["InstancePoolList"]["max"])


@functools.cache
def reservable_types() -> tuple[str, ...]:
    """Instance types an ML capacity reservation (training plan) can hold: botocore's
    ReservedCapacityInstanceType."""
    return tuple(service_model("sagemaker")["shapes"]["ReservedCapacityInstanceType"]["enum"])


def capacity_problems(p: str, ep: Endpoint) -> list[Problem]:
    if ep.is_serverless:
        keys = [k for k in _INSTANCE_KEYS if getattr(ep, k) is not None]
        keys += ["fallback_instance_types"] if ep.fallback_instance_types else []
        return [(f"{p}.{key}", "serverless endpoints have no instances (SageMaker sizes them "
                               "from serverless.memory_size_mb): remove it")
                for key in keys]
    return (_routing_problems(p, ep) + _reservation_problems(p, ep) + _fallback_problems(p, ep)
            + _scale_in_problems(p, ep))


def _routing_problems(p: str, ep: Endpoint) -> list[Problem]:
    """PrefixLength and ConcurrencyThreshold are "required when RoutingStrategy is
    PREFIX_AWARE" and to be given "only when" it is; prefix-aware routing is for real-time
    endpoints and "applies only when two or more instances can serve the request"."""
    routing = ep.routing
    if routing is None:
        return []
    at = f"{p}.routing"
    if ep.is_async:  # botocore 1.44.5 documents RoutingConfig for requests as they arrive only
        return [(at, "an async endpoint takes requests from its own queue; SageMaker documents "
                     "routing (RoutingConfig) for requests it routes as they arrive, not for "
                     "queued ones: remove routing")]
    if routing.strategy != "prefix_aware":
        return [(f"{at}.{key}", f"only for strategy: prefix_aware (strategy is "
                                f"{routing.strategy}): remove it")
                for key in _PREFIX_KEYS if getattr(routing, key) is not None]
    errors = [(f"{at}.{key}", "required for strategy: prefix_aware") for key in _PREFIX_KEYS
              if getattr(routing, key) is None]
    most = ep.most_instances
    if most < 2:
        errors.append((f"{at}.strategy", f"prefix_aware chooses among two or more instances; "
                                         f"this endpoint has at most {most}: raise "
                                         "autoscaling.max_capacity (or instance_scaling."
                                         "max_instances), or use least_outstanding_requests"))
    return errors


def _reservation_problems(p: str, ep: Endpoint) -> list[Problem]:
    """A reservation holds one instance type, and capacity-reservations-only launches
    nothing outside it: fallback types could never launch."""
    if ep.capacity_reservation is None:
        return []
    at = f"{p}.capacity_reservation"
    errors: list[Problem] = []
    if ep.instance_type not in reservable_types():
        errors.append((f"{p}.instance_type",
                       f"{ep.instance_type} cannot be reserved: ML capacity reservations "
                       f"hold {', '.join(reservable_types())} (botocore "
                       "ReservedCapacityInstanceType); pick one of them or remove "
                       "capacity_reservation"))
    if ep.fallback_instance_types:
        errors.append((f"{at}", "launches only into the reservation's instance type, so "
                                f"fallback_instance_types {ep.fallback_instance_types} could "
                                "never launch: remove one of the two"))
    return errors


def _fallback_problems(p: str, ep: Endpoint) -> list[Problem]:
    """Each fallback type is a type of its own that fits the model as instance_type does.
    With instance autoscaling too: the scaling guard tells a change of instance types by the
    pools' types in priority order (a variant with pools has no InstanceType)."""
    errors: list[Problem] = []
    if len(ep.instance_types) > most_pools():
        errors.append((f"{p}.fallback_instance_types",
                       f"{len(ep.fallback_instance_types)} types; with instance_type that makes "
                       f"{len(ep.instance_types)} instance pools, and SageMaker takes at most "
                       f"{most_pools()} (botocore InstancePoolList): give at most "
                       f"{most_pools() - 1}"))
    seen = {ep.instance_type}
    for i, itype in enumerate(ep.fallback_instance_types):
        at = f"{p}.fallback_instance_types[{i}]"
        if itype in seen:
            errors.append((at, f"{itype} is listed already (instance_type is priority 1): "
                               "give each type once"))
            continue
        seen.add(itype)
        if ep.volume_size_gb is not None and instances.has_instance_store(itype):
            errors.append((at, f"{itype} has local NVMe storage and SageMaker rejects "
                               "VolumeSizeInGB for it: remove volume_size_gb, or this type"))
        if ep.is_components:
            errors += [e for c in ep.components or [] for e in _component_fit(at, ep, c, itype)]
        elif ep.image is not None:
            errors += _model_fit(at, ep, itype)
    return errors


def _renamed(problems: list[Problem], at: str) -> list[Problem]:
    """The instance-type problems of a model on a fallback type, named by its entry ``at``."""
    return [(at, message) for path, message in problems if path.endswith(".instance_type")]


def _model_fit(at: str, ep: Endpoint, itype: str) -> list[Problem]:
    """One container, one environment for every type: SM_NUM_GPUS and the tensor-parallel
    degree derive from instance_type's GPUs, so a fallback needs as many, and room for the
    weights (the sizing and accelerator rules on that type)."""
    view = ep.model_copy(update={"instance_type": itype})
    errors = _renamed(accelerator_problems(at, view) + sizing_problems(at, view), at)
    if errors:
        return errors
    have, need = instances.gpu_count(itype), ep.gpus
    if ep.uses_gpu and have is not None and have != need:
        return [(at, f"{itype} has {have} GPU(s) and {ep.instance_type} {need}; the container's "
                     f"settings (SM_NUM_GPUS, tensor parallelism) are derived from "
                     f"{ep.instance_type}'s, one for every type: pick a type with {need}")]
    return []


def _component_fit(at: str, ep: Endpoint, c: Component, itype: str) -> list[Problem]:
    """A component copy reserves the same accelerators and memory on every type (the
    InferenceComponent's per-type Specifications carry the same requirements)."""
    label = f"components {c.name!r}"
    gpus, memory_gib = instances.gpu_count(itype), instances.memory_gib(itype)
    if gpus is not None and c.accelerators > gpus:
        return [(at, f"{label} reserves {c.accelerators} accelerators per copy; {itype} has "
                     f"{gpus}")]
    if memory_gib is not None and c.memory_mb > memory_gib * 1024:
        return [(at, f"{label} reserves {c.memory_mb} MB per copy; {itype} has "
                     f"{memory_gib:g} GiB")]
    view = c.model_copy(update={"instance_type": itype})
    return [(at, f"{label}: {message}") for _, message in _renamed(
        accelerator_problems(at, view) + sizing_problems(at, view), at)]


def _scale_in_problems(p: str, ep: Endpoint) -> list[Problem]:
    """MaximumStepSize and CooldownInMinutes govern consolidation scale-in (botocore's
    documentation of both); with idle_release they would do nothing."""
    policy = ep.instance_scaling.scale_in if ep.instance_scaling else None
    if policy is None or policy.strategy == "consolidation":
        return []
    at = f"{p}.instance_scaling.scale_in"
    return [(f"{at}.{key}", f"only for strategy: consolidation (strategy is {policy.strategy}):"
                            " remove it")
            for key in ("max_step_size", "cooldown_minutes") if getattr(policy, key) is not None]
