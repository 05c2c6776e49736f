"""Capacity of a production variant: how requests are routed to its instances, an ML
capacity reservation it launches into, fallback instance types for when one GPU type is
scarce (``InstancePools``), how long SageMaker may look for instances, and how managed
instance scaling releases them (``ScaleInPolicy``).

Sources: cfn-lint 1.58.0's ``AWS::SageMaker::EndpointConfig`` schema (the enums CloudFormation
takes) and botocore 1.44.5's sagemaker model (ranges, patterns, list sizes: checked at synth by
``config.api``, not repeated here; the documentation text for the rules)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from config.arns import Arn, parse_arn

from .base import Strict

#: RoutingConfig.RoutingStrategy as cfn-lint 1.58.0's schema takes it (botocore 1.44.5 also
#: lists KV_AWARE, which CloudFormation does not accept yet); tests/test_capacity.py
#: compares both.
RoutingStrategy = Literal["least_outstanding_requests", "prefix_aware", "random"]

#: ScaleInPolicy.Strategy (cfn-lint 1.58.0 and botocore 1.44.5 agree).
ScaleInStrategy = Literal["idle_release", "consolidation"]

#: The resource types of an MlReservationArn: botocore 1.44.5's pattern takes any
#: ``<1-14 of a-z0-9->/``; the API reference names ``ml-reservation/``, and a training plan
#: that targets endpoints (botocore SageMakerResourceName ``endpoint``) is one too
#: (TrainingPlanArn, ``training-plan/``).
RESERVATION_RESOURCES = ("ml-reservation/", "training-plan/")


class Routing(Strict):
    """How the endpoint picks an instance (or a component copy) for each request
    (``RoutingConfig``). SageMaker's default is random."""

    strategy: RoutingStrategy = Field(
        description="least_outstanding_requests: the instance with the most spare capacity; "
                    "prefix_aware: requests sharing a prompt prefix go to the same instance "
                    "(or copy) while it is under concurrency_threshold; random.")
    prefix_length: int | None = Field(
        default=None, description="prefix_aware only: bytes of the request body (characters "
                                  "of the messages for OpenAI-style requests) that make the "
                                  "prefix (PrefixLength).")
    concurrency_threshold: int | None = Field(
        default=None, description="prefix_aware only: in-flight requests on the chosen "
                                  "instance or copy at which a request goes elsewhere "
                                  "(ConcurrencyThreshold).")

    @property
    def api_strategy(self) -> str:
        return self.strategy.upper()


class CapacityReservation(Strict):
    """Launch the endpoint's instances only into an ML capacity reservation (a training plan
    that targets endpoints): ``CapacityReservationPreference: capacity-reservations-only``.
    Without free capacity in it, instances fail to launch."""

    arn: str = Field(description="The reservation's ARN (MlReservationArn): "
                                 "arn:aws:sagemaker:<region>:<account>:training-plan/<name> "
                                 "or ...:ml-reservation/<id>, in the stack's region.")

    @field_validator("arn")
    @classmethod
    def _arn(cls, v: str) -> str:
        parse_reservation_arn(v)
        return v

    @property
    def preference(self) -> str:
        """The only preference SageMaker offers (botocore CapacityReservationPreference)."""
        return "capacity-reservations-only"


def parse_reservation_arn(text: str) -> Arn:
    """``text`` as a SageMaker ML capacity reservation ARN; ValueError naming what is wrong."""
    arn = parse_arn(text, service="sagemaker", resource="")
    if not arn.resource.startswith(RESERVATION_RESOURCES):
        raise ValueError(f"{text!r} is not an ML capacity reservation ARN: the resource must "
                         f"start with {' or '.join(RESERVATION_RESOURCES)}")
    return arn


class ScaleInPolicy(Strict):
    """How managed instance scaling releases instances (``ScaleInPolicy``)."""

    strategy: ScaleInStrategy = Field(
        description="idle_release: release instances that host no copy; consolidation: also "
                    "move copies onto fewer instances to release more.")
    max_step_size: int | None = Field(
        default=None, description="consolidation only: instances released at a time "
                                  "(MaximumStepSize; SageMaker's default 1).")
    cooldown_minutes: int | None = Field(
        default=None, description="consolidation only: minutes after the last endpoint "
                                  "operation before consolidating (CooldownInMinutes; "
                                  "SageMaker's default 20).")

    @property
    def api_strategy(self) -> str:
        return self.strategy.upper()
