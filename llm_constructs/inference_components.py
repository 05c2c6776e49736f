"""Inference-component endpoints: several models share one endpoint's instances.

The endpoint config has one variant with an instance type, ``ManagedInstanceScaling``
(SageMaker adds and removes instances as component copies need them; a minimum of 0
lets the endpoint scale to zero) and no model; the execution role and VPC config sit on
the endpoint config. Each model is an ``AWS::SageMaker::InferenceComponent`` with its
compute requirements (accelerators, memory, CPU cores) and a copy count.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from . import instances
from .endpoint_metrics import INVOCATIONS, ComponentHostMetrics
from .execution_role import SageMakerExecutionRole
from .model_endpoint import ModelData, check_ami, model_data_properties
from .variant_capacity import (ScaleInPolicy, VariantCapacity, VariantRouting,
                               use_per_type_specifications)

#: Utilization of inference component copies (``InferenceComponentName``). Source: AWS,
#: "Amazon SageMaker AI enhanced metrics for inference endpoints": for inference components,
#: invocation metrics are in ``AWS/SageMaker`` and utilization metrics in
#: ``/aws/sagemaker/InferenceComponents``
#: (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch-enhanced-metrics.html;
#: the metric table: https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
#: section "SageMaker AI inference component metrics").
COMPONENTS = "/aws/sagemaker/InferenceComponents"
#: InferenceComponentName: botocore's pattern, at most 63 characters.
COMPONENT_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def check_component_name(name: str) -> None:
    if not COMPONENT_NAME_RE.match(name):
        raise ValueError(f"{name!r} is not an inference component name")


class ComponentEndpoint(Construct, ComponentHostMetrics):
    """The shared endpoint. Attributes: ``endpoint_config``, ``endpoint``,
    ``endpoint_name``, ``endpoint_arn``, ``variant_name``, ``components`` (by id).

    ``metric_*``: the whole endpoint's invocations and instances (``EndpointName``,
    ``VariantName``); each ``InferenceComponent`` has its own per component."""

    def __init__(self, scope: Construct, id: str, *, execution_role: SageMakerExecutionRole,
                 instance_type: str, endpoint_name: str | None = None,
                 initial_instance_count: int = 1, min_instances: int = 1,
                 max_instances: int = 1, subnet_ids: Sequence[str] | None = None,
                 security_group_ids: Sequence[str] | None = None,
                 volume_kms_key: kms.IKey | None = None,
                 variant_name: str = "AllTraffic",
                 inference_ami_version: str | None = None,
                 capacity: VariantCapacity | None = None,
                 scale_in: ScaleInPolicy | None = None) -> None:
        super().__init__(scope, id)
        check_ami(inference_ami_version)
        # Components default to least outstanding requests (SageMaker's default is random).
        capacity = capacity or VariantCapacity()
        routing = capacity.routing or VariantRouting(strategy="LEAST_OUTSTANDING_REQUESTS")
        #: The variant's instance types by priority (more than one: per-type Specifications).
        self.instance_types = capacity.instance_types(instance_type)
        if not min_instances <= max_instances:
            raise ValueError(f"min_instances {min_instances} > max_instances {max_instances}")
        if bool(subnet_ids) != bool(security_group_ids):
            raise ValueError("give both subnet_ids and security_group_ids, or neither")
        self.execution_role, self.instance_type = execution_role, instance_type
        self.variant_name = variant_name
        #: (subnet IDs, security group IDs) of the endpoint and its models, or None.
        self.vpc_config: tuple[list[str], list[str]] | None = (
            (list(subnet_ids), list(security_group_ids or ())) if subnet_ids else None)
        key_allowed = not any(instances.has_instance_store(t) for t in self.instance_types)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self, "Config",
            production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=variant_name,
                initial_instance_count=max(initial_instance_count, min_instances, 1),
                managed_instance_scaling=sagemaker.CfnEndpointConfig
                .ManagedInstanceScalingProperty(
                    status="ENABLED", min_instance_count=min_instances,
                    max_instance_count=max_instances,
                    scale_in_policy=scale_in.property() if scale_in else None),
                inference_ami_version=inference_ami_version,
                **{**capacity.variant_properties(instance_type),
                   "routing_config": routing.property()})],
            execution_role_arn=execution_role.role_arn,
            vpc_config=sagemaker.CfnEndpointConfig.VpcConfigProperty(
                subnets=self.vpc_config[0], security_group_ids=self.vpc_config[1])
            if self.vpc_config else None,
            kms_key_id=volume_kms_key.key_arn if volume_kms_key and key_allowed else None)
        self.endpoint_config.node.add_dependency(execution_role)
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint", endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            endpoint_name=endpoint_name, retain_all_variant_properties=True)
        self.endpoint_name: str = endpoint_name or self.endpoint.attr_endpoint_name
        self.endpoint_arn: str = self.endpoint.ref
        self.components: dict[str, InferenceComponent] = {}

    def add_component(self, id: str, **props) -> InferenceComponent:
        """One model on this endpoint (see ``InferenceComponent`` for the props)."""
        component = InferenceComponent(self, id, endpoint=self, **props)
        self.components[id] = component
        return component

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=grantee, resource_arns=[self.endpoint_arn],
            actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"])


class InferenceComponent(Construct):
    """A model and its ``AWS::SageMaker::InferenceComponent`` on a ``ComponentEndpoint``.
    ``component_name`` (1-63 letters, digits, '-') is what clients pass as
    ``InferenceComponentName``.

    Attributes: ``model``, ``component`` (L1), ``component_name``, ``scalable_target``
    and ``scale_from_zero_alarm`` after ``add_copy_autoscaling``.
    """

    def __init__(self, scope: Construct, id: str, *, endpoint: ComponentEndpoint,
                 component_name: str, image_uri: str, memory_mb: int, accelerators: int = 0,
                 cpu_cores: float | None = None, copies: int = 1,
                 environment: Mapping[str, str] | None = None,
                 model_data: ModelData | None = None, network_isolation: bool = False,
                 container_startup_health_check_timeout: cdk.Duration = cdk.Duration.minutes(15),
                 model_data_download_timeout: cdk.Duration = cdk.Duration.minutes(20)) -> None:
        super().__init__(scope, id)
        check_component_name(component_name)
        gpus = instances.gpu_count(endpoint.instance_type)
        if gpus is not None and accelerators > gpus:
            raise ValueError(f"{accelerators} accelerators on {endpoint.instance_type} ({gpus})")
        vpc = endpoint.vpc_config
        self.model = sagemaker.CfnModel(
            self, "Model", execution_role_arn=endpoint.execution_role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri, environment=dict(environment or {}),
                **model_data_properties(model_data)),
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                subnets=vpc[0], security_group_ids=vpc[1]) if vpc else None,
            enable_network_isolation=network_isolation or None)
        self.model.node.add_dependency(endpoint.execution_role)
        self.component = sagemaker.CfnInferenceComponent(
            self, "Component", endpoint_name=endpoint.endpoint.attr_endpoint_name,
            inference_component_name=component_name,
            variant_name=endpoint.variant_name,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=self.model.attr_model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent
                .InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=accelerators or None,
                    min_memory_required_in_mb=memory_mb,
                    number_of_cpu_cores_required=cpu_cores),
                startup_parameters=sagemaker.CfnInferenceComponent
                .InferenceComponentStartupParametersProperty(
                    container_startup_health_check_timeout_in_seconds=int(
                        container_startup_health_check_timeout.to_seconds()),
                    model_data_download_timeout_in_seconds=int(
                        model_data_download_timeout.to_seconds()))),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=copies))
        use_per_type_specifications(self.component, endpoint.instance_types, accelerators)
        # Named, not generated: scaling and invocations address the component by name, and
        # CloudFormation returns no name attribute to reference.
        self.component_name: str = component_name
        self.scalable_target: appscaling.ScalableTarget | None = None
        self.scale_from_zero_alarm: cloudwatch.Alarm | None = None
        #: LoRA adapters this component serves (``add_adapter``), by construct id.
        self.adapters: dict[str, AdapterComponent] = {}

    def add_adapter(self, id: str, *, component_name: str,
                    artifact_url: str) -> AdapterComponent:
        """A LoRA adapter this component's model serves (its image must load adapters: the
        LMI or vLLM DLC with LoRA on); the execution role must be able to read
        ``artifact_url``."""
        if self.component.specifications is not None:
            raise ValueError(f"{self.component_name} has one Specification per instance type "
                             "(fallback types): an adapter needs a base on one type")
        adapter = AdapterComponent(self, id, base=self, component_name=component_name,
                                   artifact_url=artifact_url)
        self.adapters[id] = adapter
        return adapter

    def use_rolling_update(self, *, batch_size: int = 1, unit: str = "COPY_COUNT",
                           wait_interval: cdk.Duration = cdk.Duration.minutes(2),
                           maximum_execution_timeout: cdk.Duration | None = None,
                           rollback_batch_size: int | None = None,
                           rollback_alarms: Sequence[cloudwatch.IAlarm] = ()) -> None:
        """Updates replace the copies ``batch_size`` at a time (``unit``: ``COPY_COUNT`` or
        ``CAPACITY_PERCENT``), ``wait_interval`` apart; when one of ``rollback_alarms`` (at
        most 10) fires, SageMaker restores the old copies, ``rollback_batch_size`` at a time
        (default: all at once). Limits: botocore 1.44.5 sagemaker UpdateInferenceComponent."""
        if unit not in ("COPY_COUNT", "CAPACITY_PERCENT"):
            raise ValueError(f"unit {unit!r}: COPY_COUNT or CAPACITY_PERCENT")
        if len(rollback_alarms) > 10:
            raise ValueError(f"{len(rollback_alarms)} rollback alarms; SageMaker takes 1-10")
        size = sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty
        timeout = maximum_execution_timeout
        self.component.deployment_config = sagemaker.CfnInferenceComponent \
            .InferenceComponentDeploymentConfigProperty(
                rolling_update_policy=sagemaker.CfnInferenceComponent
                .InferenceComponentRollingUpdatePolicyProperty(
                    maximum_batch_size=size(type=unit, value=batch_size),
                    wait_interval_in_seconds=int(wait_interval.to_seconds()),
                    maximum_execution_timeout_in_seconds=int(timeout.to_seconds())
                    if timeout else None,
                    rollback_maximum_batch_size=size(type=unit, value=rollback_batch_size)
                    if rollback_batch_size else None),
                auto_rollback_configuration=sagemaker.CfnInferenceComponent
                .AutoRollbackConfigurationProperty(alarms=[
                    sagemaker.CfnInferenceComponent.AlarmProperty(alarm_name=a.alarm_name)
                    for a in rollback_alarms]) if rollback_alarms else None)

    # -- metrics (dimension InferenceComponentName) ------------------------------------
    def metric(self, name: str, statistic: str = "Sum",
               period: cdk.Duration = cdk.Duration.minutes(1),
               namespace: str = INVOCATIONS) -> cloudwatch.Metric:
        """A metric of this component: ``AWS/SageMaker`` (invocations) by default, or
        ``/aws/sagemaker/InferenceComponents`` (utilization of its copies)."""
        return cloudwatch.Metric(namespace=namespace, metric_name=name,
                                 dimensions_map={"InferenceComponentName": self.component_name},
                                 statistic=statistic, period=period)

    def metric_invocations(self, **kw: Any) -> cloudwatch.Metric:
        return self.metric("Invocations", **kw)

    def metric_invocations_per_copy(self, **kw: Any) -> cloudwatch.Metric:
        return self.metric("InvocationsPerCopy", **kw)

    def metric_invocation_4xx_errors(self, **kw: Any) -> cloudwatch.Metric:
        return self.metric("Invocation4XXErrors", **kw)

    def metric_invocation_5xx_errors(self, **kw: Any) -> cloudwatch.Metric:
        return self.metric("Invocation5XXErrors", **kw)

    def metric_invocation_model_errors(self, **kw: Any) -> cloudwatch.Metric:
        """Requests without a 2XX answer: 4XX/5XX, socket errors, timeouts."""
        return self.metric("InvocationModelErrors", **kw)

    def metric_model_latency(self, *, statistic: str = "p90", **kw: Any) -> cloudwatch.Metric:
        """Microseconds, as SageMaker reports it."""
        return self.metric("ModelLatency", statistic=statistic, **kw)

    def metric_overhead_latency(self, *, statistic: str = "p90",
                                **kw: Any) -> cloudwatch.Metric:
        """Microseconds SageMaker adds to the model's latency."""
        return self.metric("OverheadLatency", statistic=statistic, **kw)

    def metric_concurrent_requests_per_copy(self, *, statistic: str = "Maximum",
                                            **kw: Any) -> cloudwatch.Metric:
        """What copy autoscaling tracks (SageMaker documents Min and Max for it)."""
        return self.metric("ConcurrentRequestsPerCopy", statistic=statistic, **kw)

    def metric_no_capacity_invocation_failures(self, *, statistic: str = "Maximum",
                                               **kw: Any) -> cloudwatch.Metric:
        """Requests that found no copy (the scale-from-zero alarm watches it)."""
        return self.metric("NoCapacityInvocationFailures", statistic=statistic, **kw)

    def _utilization(self, name: str, statistic: str = "Average",
                     **kw: Any) -> cloudwatch.Metric:
        return self.metric(name, statistic=statistic, namespace=COMPONENTS, **kw)

    def metric_cpu_utilization_normalized(self, **kw: Any) -> cloudwatch.Metric:
        """Percent of the CPU cores the copies reserve (or may use, without a reservation)."""
        return self._utilization("CPUUtilizationNormalized", **kw)

    def metric_gpu_utilization_normalized(self, **kw: Any) -> cloudwatch.Metric:
        """Percent of the accelerators the copies reserve."""
        return self._utilization("GPUUtilizationNormalized", **kw)

    def metric_gpu_memory_utilization_normalized(self, **kw: Any) -> cloudwatch.Metric:
        return self._utilization("GPUMemoryUtilizationNormalized", **kw)

    def metric_memory_utilization_normalized(self, **kw: Any) -> cloudwatch.Metric:
        """Percent of the memory the copies reserve (``MinMemoryRequiredInMb``)."""
        return self._utilization("MemoryUtilizationNormalized", **kw)

    def add_copy_autoscaling(self, *, min_copies: int = 1, max_copies: int = 2,
                             target_concurrent_requests_per_copy: float = 4,
                             scale_in_cooldown: cdk.Duration = cdk.Duration.minutes(10),
                             scale_out_cooldown: cdk.Duration = cdk.Duration.minutes(2),
                             scale_from_zero_cooldown: cdk.Duration = cdk.Duration.minutes(2),
                             ) -> appscaling.ScalableTarget:
        """Target tracking on concurrent requests per copy (``DesiredCopyCount``). With
        ``min_copies=0``, target tracking alone never brings the first copy back (no copy
        to divide by): a step policy (+1 copy) on an alarm on ``NoCapacityInvocationFailures``
        does, as SageMaker documents for scaling inference components to zero."""
        if self.scalable_target is not None:
            raise ValueError("autoscaling is already configured for this component")
        if not 0 <= min_copies <= max_copies:
            raise ValueError(f"copies {min_copies}..{max_copies}")
        stack = cdk.Stack.of(self)
        # Application Auto Scaling acts for SageMaker through its service-linked role (it
        # creates it on first use); CDK would otherwise make an unused role of its own.
        slr = iam.Role.from_role_arn(
            self, "ServiceLinkedRole",
            f"arn:{stack.partition}:iam::{stack.account}:role/aws-service-role/"
            "sagemaker.application-autoscaling.amazonaws.com/"
            "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")
        target = appscaling.ScalableTarget(
            self, "Scaling", service_namespace=appscaling.ServiceNamespace.SAGEMAKER, role=slr,
            resource_id=f"inference-component/{self.component_name}",
            scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
            min_capacity=min_copies, max_capacity=max_copies)
        target.node.add_dependency(self.component)
        target.scale_to_track_metric(
            "ConcurrencyPerCopy", target_value=target_concurrent_requests_per_copy,
            predefined_metric=appscaling.PredefinedMetric
            .SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION,
            scale_in_cooldown=scale_in_cooldown, scale_out_cooldown=scale_out_cooldown)
        if min_copies == 0:
            step = appscaling.StepScalingAction(
                self, "FromZero", scaling_target=target,
                adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
                cooldown=scale_from_zero_cooldown)
            step.add_adjustment(adjustment=1, lower_bound=0)
            self.scale_from_zero_alarm = self.metric_no_capacity_invocation_failures(
            ).create_alarm(
                self, "NoCapacity", threshold=1, evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator
                .GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description="requests found no copy of the component: add one")
            self.scale_from_zero_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(step))
        self.scalable_target = target
        #: (min, max) copies: the range every schedule stays within.
        self.copy_range = (min_copies, max_copies)
        self._schedule_names: set[str] = set()
        return target

    def scale_copies_on_schedule(self, name: str, *, schedule: appscaling.Schedule,
                                 time_zone: cdk.TimeZone | None = None,
                                 min_copies: int | None = None,
                                 max_copies: int | None = None) -> None:
        """A scheduled action ``name`` on the copies (``ScheduledActions`` of the scalable
        target ``add_copy_autoscaling`` made): from each time ``schedule`` fires, in
        ``time_zone`` (default UTC), the copies stay between these bounds, which lie within
        the autoscaling range (a bound left out stays as it was). ``min_copies=0`` needs
        ``add_copy_autoscaling(min_copies=0)``: its step policy brings the first copy back.
        A deployment that updates the target can register the autoscaling range again,
        until the next schedule fires."""
        if self.scalable_target is None:
            raise ValueError(f"schedule {name!r}: call add_copy_autoscaling first (a "
                             "schedule acts on its scalable target)")
        if min_copies is None and max_copies is None:
            raise ValueError(f"schedule {name!r}: give min_copies, max_copies or both")
        low, high = self.copy_range
        if not low <= (low if min_copies is None else min_copies) \
                <= (high if max_copies is None else max_copies) <= high:
            raise ValueError(f"schedule {name!r}: need {low} <= min_copies ({min_copies}) <= "
                             f"max_copies ({max_copies}) <= {high}")
        if name in self._schedule_names:
            raise ValueError(f"schedule {name!r} exists already on {self.component_name}")
        self._schedule_names.add(name)
        self.scalable_target.scale_on_schedule(
            name, schedule=schedule, time_zone=time_zone, min_capacity=min_copies,
            max_capacity=max_copies)

class AdapterComponent(Construct):
    """A LoRA adapter on a base ``InferenceComponent``: an ``AWS::SageMaker::InferenceComponent``
    with ``Specification.BaseInferenceComponentName`` and ``Container.ArtifactUrl`` (one
    ``.tar.gz``) only. It has no model, image, compute or copies of its own: SageMaker loads
    it into each copy of the base (botocore 1.44.5 sagemaker InferenceComponentSpecification:
    omit ComputeResourceRequirements for an adapter; RuntimeConfig is optional). Created
    after its base and deleted before it (DependsOn).

    Attributes: ``component`` (L1), ``component_name`` (what clients pass as
    ``InferenceComponentName``), ``base``."""

    def __init__(self, scope: Construct, id: str, *, base: InferenceComponent,
                 component_name: str, artifact_url: str) -> None:
        super().__init__(scope, id)
        check_component_name(component_name)
        if not re.match(r"^s3://[^/]+/.+\.tar\.gz$", artifact_url):
            raise ValueError(f"{artifact_url!r}: an adapter is one s3://bucket/key.tar.gz")
        self.base, self.component_name = base, component_name
        spec = sagemaker.CfnInferenceComponent
        self.component = spec(
            self, "Component", endpoint_name=base.component.endpoint_name,
            inference_component_name=component_name,
            specification=spec.InferenceComponentSpecificationProperty(
                base_inference_component_name=base.component_name,
                container=spec.InferenceComponentContainerSpecificationProperty(
                    artifact_url=artifact_url)))
        # The name is a literal (CloudFormation returns none to reference): the dependency
        # is what orders creation after the base and deletion before it.
        self.component.node.add_dependency(base.component)
