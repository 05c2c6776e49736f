"""Capacity settings of a production variant (``LlmEndpoint``, ``ComponentEndpoint``):
request routing, fallback instance types (``InstancePools``), an ML capacity reservation,
the provision timeout, and the scale-in policy of managed instance scaling.

With fallback types the variant names no ``InstanceType``: SageMaker's developer guide
("Deploy to multiple instance types with instance pools") replaces it with the pools, the
first type at priority 1. An inference component on such an endpoint gives one
``Specifications`` entry per type (the schema's singular ``Specification`` is "for an
endpoint with a single instance type"; cfn-lint 1.58.0 ``AWS::SageMaker::InferenceComponent``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker

from . import instances

_Variant = sagemaker.CfnEndpointConfig
_Component = sagemaker.CfnInferenceComponent

ROUTING_STRATEGIES = ("LEAST_OUTSTANDING_REQUESTS", "PREFIX_AWARE", "RANDOM")
SCALE_IN_STRATEGIES = ("IDLE_RELEASE", "CONSOLIDATION")


@dataclass(frozen=True, kw_only=True)
class VariantRouting:
    """``RoutingConfig``: ``strategy`` one of ROUTING_STRATEGIES; PREFIX_AWARE needs both
    ``prefix_length`` and ``concurrency_threshold``."""

    strategy: str = "LEAST_OUTSTANDING_REQUESTS"
    prefix_length: int | None = None
    concurrency_threshold: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in ROUTING_STRATEGIES:
            raise ValueError(f"routing strategy {self.strategy!r}: one of "
                             f"{', '.join(ROUTING_STRATEGIES)}")
        prefix_aware = self.strategy == "PREFIX_AWARE"
        given = (self.prefix_length is not None, self.concurrency_threshold is not None)
        if given != (prefix_aware, prefix_aware):
            raise ValueError("prefix_length and concurrency_threshold: both for PREFIX_AWARE, "
                             "neither otherwise")

    def property(self) -> _Variant.RoutingConfigProperty:
        prefix = _Variant.PrefixAwareRoutingConfigProperty(
            prefix_length=self.prefix_length, concurrency_threshold=self.concurrency_threshold
        ) if self.strategy == "PREFIX_AWARE" else None
        return _Variant.RoutingConfigProperty(routing_strategy=self.strategy,
                                              prefix_aware_routing_config=prefix)


@dataclass(frozen=True, kw_only=True)
class ScaleInPolicy:
    """``ManagedInstanceScaling.ScaleInPolicy`` of a components endpoint."""

    strategy: str = "IDLE_RELEASE"
    max_step_size: int | None = None
    cooldown_minutes: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in SCALE_IN_STRATEGIES:
            raise ValueError(f"scale-in strategy {self.strategy!r}: one of "
                             f"{', '.join(SCALE_IN_STRATEGIES)}")

    def property(self) -> _Variant.ScaleInPolicyProperty:
        return _Variant.ScaleInPolicyProperty(strategy=self.strategy,
                                              maximum_step_size=self.max_step_size,
                                              cooldown_in_minutes=self.cooldown_minutes)


@dataclass(frozen=True, kw_only=True)
class VariantCapacity:
    """Where and how a variant gets its instances. ``fallback_instance_types``: tried in
    order when the variant's instance type has no capacity (at most 4: InstancePools takes
    5); ``reservation_arn``: launch only into that ML capacity reservation;
    ``provision_timeout``: 300-3600 s across all types."""

    routing: VariantRouting | None = None
    fallback_instance_types: Sequence[str] = ()
    reservation_arn: str | None = None
    provision_timeout: cdk.Duration | None = None

    def __post_init__(self) -> None:
        if len(self.fallback_instance_types) > 4:
            raise ValueError("at most 4 fallback instance types (InstancePools takes 5)")
        if self.reservation_arn is not None and self.fallback_instance_types:
            raise ValueError("a capacity reservation holds one instance type: no fallbacks")

    def instance_types(self, instance_type: str) -> list[str]:
        return [instance_type, *self.fallback_instance_types]

    def variant_properties(self, instance_type: str) -> dict[str, Any]:
        """Keyword arguments of ``ProductionVariantProperty`` (instance type included)."""
        props: dict[str, Any] = {"instance_type": instance_type}
        if self.fallback_instance_types:
            props = {"instance_pools": [
                _Variant.InstancePoolProperty(instance_type=itype, priority=priority)
                for priority, itype in enumerate(self.instance_types(instance_type), start=1)]}
        if self.routing is not None:
            props["routing_config"] = self.routing.property()
        if self.reservation_arn is not None:
            props["capacity_reservation_config"] = _Variant.CapacityReservationConfigProperty(
                ml_reservation_arn=self.reservation_arn,
                capacity_reservation_preference="capacity-reservations-only")
        if self.provision_timeout is not None:
            props["variant_instance_provision_timeout_in_seconds"] = int(
                self.provision_timeout.to_seconds())
        return props


def use_per_type_specifications(component: _Component, instance_types: Sequence[str],
                                accelerators: int) -> None:
    """Move ``component``'s one Specification into one ``Specifications`` entry per instance
    type (the same model, container, requirements and start-up parameters), for an endpoint
    with fallback types; the schema takes 2 to 5 entries."""
    if len(instance_types) < 2:
        return
    for itype in instance_types:
        gpus = instances.gpu_count(itype)
        if gpus is not None and accelerators > gpus:
            raise ValueError(f"{accelerators} accelerators on {itype} ({gpus})")
    spec = component.specification
    assert isinstance(spec, _Component.InferenceComponentSpecificationProperty)
    if spec.base_inference_component_name is not None:
        raise ValueError("an adapter component takes the singular Specification only (cfn-lint "
                         "1.58.0): put it on an endpoint without fallback instance types")
    component.specifications = [_Component.InferenceComponentSpecificationForInstanceTypeProperty(
        instance_type=itype, model_name=spec.model_name, container=_per_type(spec.container),
        compute_resource_requirements=spec.compute_resource_requirements,
        startup_parameters=spec.startup_parameters) for itype in instance_types]
    component.specification = None


def _per_type(container: Any) -> Any:
    """The per-type form of a Container (it has no DeployedImage)."""
    if container is None:
        return None
    return _Component.InferenceComponentContainerSpecificationForInstanceTypeProperty(
        artifact_url=container.artifact_url, environment=container.environment,
        image=container.image)
