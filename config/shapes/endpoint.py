"""One endpoint (and its inference components), and the whole config."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from config import facts
from config.arns import parse_arn
from llm_constructs import inference_ami, instances

from .adapters import Adapter
from .base import ENDPOINT_NAME_RE, Strict, close
from .capacity import CapacityReservation, Routing, ScaleInPolicy
from .capture import DataCapture
from .deployment import Deployment, Encryption, Network, reserved_tag_keys
from .model import ModelSpec
from .operations import (MAX_SCHEDULES, Alarms, AsyncInference, Autoscaling, CopySchedules,
                         Guardrails, Serverless)


class ComponentAutoscaling(Strict):
    """Target tracking on concurrent requests per copy (DesiredCopyCount); with
    ``min_copies: 0`` also the documented alarm (NoCapacityInvocationFailures) and step
    policy that bring the first copy back."""

    min_copies: int = Field(default=1, ge=0, le=1000, description="Fewest copies (0 allowed).")
    max_copies: int = Field(default=2, ge=1, le=1000, description="Most copies.")
    target_concurrent_requests_per_copy: float = Field(
        default=4, gt=0, description="Concurrent requests per copy to track.")
    scale_in_cooldown_seconds: int = Field(default=600, ge=0, le=3600,
                                           description="Seconds between scale-in steps.")
    scale_out_cooldown_seconds: int = Field(default=120, ge=0, le=3600,
                                            description="Seconds between scale-out steps.")
    scale_from_zero_cooldown_seconds: int = Field(
        default=120, ge=0, le=3600, description="With min 0: cooldown of the step that brings "
                                                "the first copy back.")
    schedules: CopySchedules = Field(
        default_factory=list, description="Scheduled actions on the copies (e.g. none at "
                                          "night), each within min_copies..max_copies; at "
                                          f"most {MAX_SCHEDULES}.")


#: ``rolling_update.batch_unit`` -> InferenceComponentCapacitySize.Type.
CAPACITY_TYPES = {"copies": "COPY_COUNT", "percent": "CAPACITY_PERCENT"}


class RollingUpdate(Strict):
    """A component's rolling update (``DeploymentConfig.RollingUpdatePolicy``): SageMaker
    replaces the copies in batches, waits between them and, with ``auto_rollback``, rolls
    back when one of the component's own alarms fires (``AutoRollbackConfiguration``).
    Limits: botocore 1.44.5 sagemaker UpdateInferenceComponent."""

    batch_unit: Literal["copies", "percent"] = Field(
        default="copies", description="What batch sizes count: copies (COPY_COUNT) or percent "
                                      "of the copies (CAPACITY_PERCENT).")
    batch_size: int = Field(default=1, ge=1, description="Copies (or percent, 5-50) replaced "
                                                         "per batch (MaximumBatchSize).")
    rollback_batch_size: int | None = Field(
        default=None, ge=1, description="Copies (or percent) restored per batch on rollback "
                                        "(RollbackMaximumBatchSize); default: all at once.")
    wait_interval_seconds: int = Field(
        default=120, ge=0, le=3600, description="Seconds to watch the alarms after each batch.")
    maximum_execution_timeout_seconds: int | None = Field(
        default=None, ge=600, le=28800, description="Longest rolling update.")
    auto_rollback: bool = Field(
        default=True, description="Roll back on the component's 5XX and model-latency alarms "
                                  "(needs alarms.enabled).")

    @property
    def capacity_type(self) -> str:
        return CAPACITY_TYPES[self.batch_unit]


class Component(ModelSpec):
    """One model of a ``mode: components`` endpoint (an AWS::SageMaker::InferenceComponent).
    ``instance_type`` is the endpoint's; SM_NUM_GPUS defaults to ``accelerators``."""

    accelerators: int = Field(default=0, ge=0, le=64,
                              description="GPUs the component reserves per copy "
                                          "(NumberOfAcceleratorDevicesRequired).")
    memory_mb: int = Field(ge=128, description="Memory per copy (MinMemoryRequiredInMb).")
    cpu_cores: float | None = Field(default=None, gt=0, description="CPU cores per copy.")
    copies: int = Field(default=1, ge=0, le=1000, description="Copies deployed.")
    autoscaling: ComponentAutoscaling | None = Field(
        default=None, description="Copy autoscaling on concurrent requests per copy.")
    rolling_update: RollingUpdate | None = Field(
        default=None, description="Update copies in batches, with auto-rollback on the "
                                  "component's alarms (default: SageMaker's own update).")
    adapters: list[Adapter] = Field(
        default_factory=list,
        description="LoRA adapters this component's model serves (vllm and lmi images), each "
                    "an inference component on it: invoked as <endpoint name>-<adapter name>, "
                    "with no compute of its own.")

    @property
    def gpus_available(self) -> int | None:
        return self.accelerators

    @property
    def min_copies(self) -> int:
        return self.autoscaling.min_copies if self.autoscaling else self.copies


class InstanceScaling(Strict):
    """ManagedInstanceScaling of a components endpoint: SageMaker adds and removes
    instances as component copies need them (``min_instances: 0`` scales to zero)."""

    min_instances: int = Field(default=1, ge=0, le=100,
                               description="Fewest instances (0 scales the endpoint to zero).")
    max_instances: int = Field(default=1, ge=1, le=100, description="Most instances.")
    scale_in: ScaleInPolicy | None = Field(
        default=None, description="How instances are released (ScaleInPolicy; default: "
                                  "SageMaker's).")


class Endpoint(ModelSpec):
    """One SageMaker endpoint, one stack."""

    endpoint_name: str | None = Field(
        default=None, description="The SageMaker endpoint name (default <project>-<name>); "
                                  "changing it replaces the endpoint.")
    mode: Literal["realtime", "async", "components", "serverless"] = Field(
        default="realtime", description="realtime; async (requests and results in S3); "
                                        "components (several models share the endpoint); "
                                        "serverless (CPU, SageMaker-managed capacity).")
    initial_instance_count: int = Field(default=1, ge=1, le=100,
                                        description="Instances at creation.")
    volume_size_gb: int | None = Field(
        default=None, ge=1, le=512, description="Storage volume; only for instance types "
                                                "without NVMe instance storage.")
    inference_ami_version: str | None = Field(
        default=None, description="The host AMI (InferenceAmiVersion). Default: the one the "
                                  "DLC's CUDA version needs (CUDA 12.9: al2-...-gpu-3-1, "
                                  "CUDA 13: al2023-...-gpu-4-1), else SageMaker's default.",
        json_schema_extra={"enum": list(inference_ami.versions())})
    autoscaling: Autoscaling | None = Field(
        default=None, description="Instance autoscaling (real-time and async).")
    async_inference: AsyncInference | None = Field(
        default=None, description="Async only: request and result storage, notifications, "
                                  "runtime.")
    components: list[Component] | None = Field(
        default=None, description="Components only: one inference component per model.")
    instance_scaling: InstanceScaling | None = Field(
        default=None, description="Components only: the instances SageMaker manages.")
    serverless: Serverless | None = Field(
        default=None, description="Serverless only: memory and concurrency.")
    routing: Routing | None = Field(
        default=None, description="Request routing among instances (RoutingConfig), real-time and "
                                  "components endpoints; default: random, "
                                  "least_outstanding_requests on components endpoints.")
    fallback_instance_types: list[str] = Field(
        default_factory=list,
        description="Instance types SageMaker falls back to, in this order, when instance_type "
                    "has no capacity (InstancePools, priority 2 onwards); each must fit the "
                    "model as instance_type does.")
    instance_provision_timeout_seconds: int | None = Field(
        default=None, description="Seconds SageMaker may look for instances across the types "
                                  "before the deployment fails "
                                  "(VariantInstanceProvisionTimeoutInSeconds).")
    capacity_reservation: CapacityReservation | None = Field(
        default=None, description="Launch only into this ML capacity reservation "
                                  "(CapacityReservationConfig).")
    guardrails: Guardrails | None = Field(
        default=None, description="Real-time only: blue/green updates with auto-rollback.")
    alarms: Alarms = Field(default_factory=Alarms,
                           description="Alarms and dashboard of the endpoint.")
    data_capture: DataCapture | None = Field(
        default=None, description="Real-time and async: a sample of requests and responses, "
                                  "captured to S3 (DataCaptureConfig).")
    invoke_principals: list[str] = Field(
        default_factory=list, description="IAM role ARNs allowed to invoke the endpoint.")
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Cost-allocation tags (e.g. team, cost centre) on every resource of this "
                    "endpoint's stack, beside `deployment.tags`; a key in both takes this value. "
                    "Checked as deployment.tags: SageMaker's Tag shapes, 50 with `project`.")

    _tags = field_validator("tags")(reserved_tag_keys)

    @field_validator("endpoint_name")
    @classmethod
    def _endpoint_name(cls, v: str | None) -> str | None:
        if v is not None and not ENDPOINT_NAME_RE.match(v):
            raise ValueError(f"{v!r} is not a SageMaker endpoint name: 1-63 letters, digits "
                             "and '-', starting and ending with a letter or digit")
        return v

    @field_validator("inference_ami_version")
    @classmethod
    def _ami(cls, v: str | None) -> str | None:
        if v is not None and v not in inference_ami.versions():
            raise ValueError(f"{v!r} is not an InferenceAmiVersion; allowed: "
                             f"{', '.join(inference_ami.versions())}")
        return v

    @field_validator("fallback_instance_types")
    @classmethod
    def _fallbacks(cls, v: list[str]) -> list[str]:
        allowed = instances.realtime_instance_types()
        for itype in v:
            if itype not in allowed:
                raise ValueError(f"{itype!r} is not a SageMaker hosting instance type"
                                 f"{close(itype, allowed)}; the list is botocore's "
                                 "ProductionVariantInstanceType")
        return v

    @field_validator("invoke_principals")
    @classmethod
    def _principals(cls, v: list[str]) -> list[str]:
        for arn in v:
            parse_arn(arn, service="iam", resource="role/", regional=False)
        return v

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    @property
    def async_settings(self) -> AsyncInference:
        return self.async_inference or AsyncInference()

    @property
    def is_components(self) -> bool:
        return self.mode == "components"

    @property
    def is_serverless(self) -> bool:
        return self.mode == "serverless"

    @property
    def uses_gpu(self) -> bool:
        return not self.is_serverless and self.gpus != 0

    @property
    def instance_types(self) -> list[str]:
        """The variant's instance types by priority: ``instance_type``, then the fallbacks."""
        return [self.instance_type, *self.fallback_instance_types]

    @property
    def managed_scaling(self) -> InstanceScaling:
        """A components endpoint's managed instance scaling (its defaults when unset)."""
        return self.instance_scaling or InstanceScaling()

    @property
    def fewest_instances(self) -> int:
        """The fewest instances the endpoint runs: autoscaling's min, a components
        endpoint's ``min_instances``, else the instance count; 0 for serverless."""
        if self.is_serverless:
            return 0
        if self.is_components:
            return self.managed_scaling.min_instances
        return self.autoscaling.min_capacity if self.autoscaling else self.initial_instance_count

    @property
    def most_instances(self) -> int:
        """The most instances the endpoint runs outside an update: autoscaling's max, a
        components endpoint's ``max_instances`` (never below the initial count: the variant
        starts there); 0 for serverless."""
        if self.is_serverless:
            return 0
        if self.is_components:
            most = self.managed_scaling.max_instances
        elif self.autoscaling:
            most = self.autoscaling.max_capacity
        else:
            most = self.initial_instance_count
        return max(most, self.initial_instance_count)

    @property
    def host_ami(self) -> str | None:
        """The variant's InferenceAmiVersion: the config's, else the one its DLCs need."""
        return facts.host_ami(self)

    def component_view(self, c: Component) -> Component:
        """``c`` on this endpoint's instance type (what the per-model rules check)."""
        return c.model_copy(update={"instance_type": self.instance_type})


class AppConfig(Strict):
    """One config file: the project, where it deploys, its network and its endpoints."""

    project: str = Field(description="2-25 lower-case letters, digits and '-'; prefixes stack "
                                     "names and default endpoint names.")
    deployment: Deployment = Field(default_factory=Deployment,
                                   description="Where the stacks go.")
    network: Network = Field(default_factory=Network, description="The VPC the models run in.")
    encryption: Encryption = Field(default_factory=Encryption,
                                   description="A customer-managed KMS key.")
    removal_policy: Literal["retain", "destroy"] = Field(
        default="destroy", description="retain keeps stateful resources (keys, log groups, "
                                       "buckets) when a stack is deleted.")
    endpoints: list[Endpoint] = Field(min_length=1, description="One stack each.")

    @field_validator("project")
    @classmethod
    def _project(cls, v: str) -> str:
        if not re.match(r"^[a-z][a-z0-9-]{1,24}$", v):
            raise ValueError(f"{v!r}: use 2-25 lower-case letters, digits and '-', "
                             "starting with a letter (it prefixes stack and endpoint names)")
        return v

    def endpoint_name_of(self, ep: Endpoint) -> str:
        return ep.endpoint_name or f"{self.project}-{ep.name}"
