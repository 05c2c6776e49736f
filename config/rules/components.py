"""Inference components: each a model of its own on the endpoint's instances, with room
for the minimum copies."""

from __future__ import annotations

from collections.abc import Callable

from config.backends import Problem
from config.shapes import ENDPOINT_NAME_RE, Component, Endpoint, InstanceScaling
from llm_constructs import instances

from .adapters import adapter_problems

#: The per-model rules (``rules.model_problems``), passed in to keep the modules acyclic.
ModelRules = Callable[[str, Component], list[Problem]]


def components_problems(p: str, ep: Endpoint, full_name: str,
                        model_rules: ModelRules) -> list[Problem]:
    errors = [(f"{p}.{key}", f"give it per component (components[].{key}) on a components "
                             "endpoint")
              for key in ("image", "source", "tgi_settings", "sm_num_gpus", "model_size")
              if getattr(ep, key) is not None]
    errors += _alarm_problems(p, ep)
    if not ep.components:
        return [*errors, (f"{p}.components", "required for mode: components: one entry per "
                                              "model (name, image, source, accelerators, "
                                              "memory_mb)")]
    if ep.gpus is None:
        errors.append((f"{p}.instance_type", f"the GPU count of {ep.instance_type!r} is not "
                                             "in our table; components need it for placement"))
    scaling = ep.managed_scaling
    if scaling.min_instances > scaling.max_instances:
        errors.append((f"{p}.instance_scaling.min_instances",
                       f"{scaling.min_instances} is above max_instances {scaling.max_instances}"))
    names: set[str] = set()
    for j, c in enumerate(ep.components):
        pc = f"{p}.components[{j}] ({c.name})"
        errors += _name_problems(pc, c, full_name, names)
        errors += _component_problems(pc, ep, c, model_rules)
        errors += adapter_problems(pc, ep, c, full_name)
    return errors + _capacity_problems(p, ep, scaling)


#: Alarm keys about the asynchronous queue: a components endpoint is real-time.
_ASYNC_ALARMS = ("max_age_of_oldest_request_seconds", "invocation_failures")


def _alarm_problems(p: str, ep: Endpoint) -> list[Problem]:
    """Alarms are per component (5XX errors, model latency); the async ones have no
    metric to watch here."""
    return [(f"{p}.alarms.{key}", "an asynchronous endpoint's alarm; a components endpoint "
                                  "is real-time: remove it")
            for key in _ASYNC_ALARMS if key in ep.alarms.model_fields_set]


def _name_problems(pc: str, c: Component, full_name: str, names: set[str]) -> list[Problem]:
    errors: list[Problem] = []
    if c.name in names:
        errors.append((f"{pc}.name", f"{c.name!r} is used by another component"))
    if not ENDPOINT_NAME_RE.match(f"{full_name}-{c.name}"):
        errors.append((f"{pc}.name", f"the component name {full_name + '-' + c.name!r} is "
                                     "longer than 63 characters; shorten it or endpoint_name"))
    names.add(c.name)
    if "instance_type" in c.model_fields_set:
        errors.append((f"{pc}.instance_type", "components run on the endpoint's "
                                              "instance_type; remove it here"))
    return errors


def _component_problems(pc: str, ep: Endpoint, c: Component,
                        model_rules: ModelRules) -> list[Problem]:
    if c.image is None:
        return [(f"{pc}.image", "required key is missing")]
    if c.is_model_package:
        return [(f"{pc}.image.model_package", "SageMaker does not host model "
                                              "packages as inference components")]
    return (model_rules(pc, ep.component_view(c)) + _resource_problems(pc, ep, c)
            + _copy_problems(pc, c) + _rolling_problems(pc, ep, c))


def _resource_problems(pc: str, ep: Endpoint, c: Component) -> list[Problem]:
    """What the component reserves fits one instance."""
    errors: list[Problem] = []
    gpus = ep.gpus
    if gpus is not None and c.accelerators > gpus:
        errors.append((f"{pc}.accelerators", f"{c.name!r} asks for {c.accelerators} "
                                             f"accelerators; {ep.instance_type} has {gpus}"))
    if c.is_tgi and c.accelerators == 0:
        errors.append((f"{pc}.accelerators", "the TGI image needs at least 1 GPU"))
    if c.sm_num_gpus is not None and c.sm_num_gpus > c.accelerators:
        errors.append((f"{pc}.sm_num_gpus", f"{c.sm_num_gpus} is more than the "
                                            f"{c.accelerators} accelerators it reserves"))
    memory_gib = instances.memory_gib(ep.instance_type)
    if memory_gib is not None and c.memory_mb > memory_gib * 1024:
        errors.append((f"{pc}.memory_mb", f"{c.memory_mb} MB is more than the "
                                          f"{memory_gib} GiB of {ep.instance_type}"))
    return errors


def _copy_problems(pc: str, c: Component) -> list[Problem]:
    a = c.autoscaling
    if a is None:
        return []
    if a.min_copies > a.max_copies:
        return [(f"{pc}.autoscaling.min_copies",
                 f"{a.min_copies} is above max_copies {a.max_copies}")]
    if not a.min_copies <= c.copies <= a.max_copies:
        return [(f"{pc}.copies", f"{c.copies} is outside autoscaling "
                                 f"{a.min_copies}..{a.max_copies}")]
    return []


def _rolling_problems(pc: str, ep: Endpoint, c: Component) -> list[Problem]:
    """Percent batches: 5-50% (botocore 1.44.5 sagemaker, InferenceComponentRollingUpdatePolicy
    MaximumBatchSize), a rollback batch at most all; auto-rollback watches the component's
    own alarms, which exist only with ``alarms.enabled``."""
    r = c.rolling_update
    if r is None:
        return []
    errors: list[Problem] = []
    if r.batch_unit == "percent" and not 5 <= r.batch_size <= 50:
        errors.append((f"{pc}.rolling_update.batch_size",
                       f"{r.batch_size}%: SageMaker takes 5-50% of the copies per batch"))
    if (r.batch_unit == "percent" and r.rollback_batch_size is not None
            and r.rollback_batch_size > 100):
        errors.append((f"{pc}.rolling_update.rollback_batch_size",
                       f"{r.rollback_batch_size}%: at most 100% of the copies"))
    if r.auto_rollback and not ep.alarms.enabled:
        errors.append((f"{pc}.rolling_update.auto_rollback",
                       "rolls back on the component's 5XX and latency alarms: set "
                       "alarms.enabled: true, or auto_rollback: false"))
    return errors


def _capacity_problems(p: str, ep: Endpoint, scaling: InstanceScaling) -> list[Problem]:
    """The minimum copies of every component fit the most instances."""
    errors: list[Problem] = []
    components, gpus = ep.components or [], ep.gpus
    memory_gib = instances.memory_gib(ep.instance_type)
    if gpus is not None:
        need = sum(c.accelerators * c.min_copies for c in components)
        have = gpus * scaling.max_instances
        if need > have:
            errors.append((f"{p}.components",
                           f"the minimum copies need {need} accelerators; {scaling.max_instances}"
                           f" x {ep.instance_type} have {have}: lower copies or accelerators, "
                           "or raise instance_scaling.max_instances"))
    if memory_gib is not None:
        need_mb = sum(c.memory_mb * c.min_copies for c in components)
        have_mb = memory_gib * 1024 * scaling.max_instances
        if need_mb > have_mb:
            errors.append((f"{p}.components",
                           f"the minimum copies need {need_mb} MB of memory; "
                           f"{scaling.max_instances} x {ep.instance_type} have {have_mb} MB"))
    return errors
