"""SageMaker Model + EndpointConfig + Endpoint for one LLM container."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from . import inference_ami, instances
from .data_capture import DataCapture
from .endpoint_metrics import AsyncMetrics
from .execution_role import SageMakerExecutionRole
from .scaling import VariantAutoScaling
from .variant_capacity import VariantCapacity


@dataclass(frozen=True)
class ModelData:
    """Model artifacts in S3: a ``.tar.gz`` (``compressed``) or an uncompressed prefix."""

    s3_uri: str

    @property
    def compressed(self) -> bool:
        return not self.s3_uri.endswith("/")


def model_data_properties(model_data: ModelData | None) -> dict:
    """ContainerDefinition properties for the artifacts: ``ModelDataUrl`` for a
    ``.tar.gz``, an uncompressed ``S3Prefix`` ``ModelDataSource`` for a prefix."""
    if model_data is None:
        return {}
    if model_data.compressed:
        return {"model_data_url": model_data.s3_uri}
    return {"model_data_source": sagemaker.CfnModel.ModelDataSourceProperty(
        s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
            s3_uri=model_data.s3_uri, s3_data_type="S3Prefix", compression_type="None"))}


@dataclass(frozen=True)
class ServerlessCompute:
    """The ServerlessConfig of a serverless endpoint (CPU; SageMaker scales it)."""

    memory_size_mb: int = 2048
    max_concurrency: int = 5
    provisioned_concurrency: int | None = None


@dataclass(frozen=True)
class BlueGreenDeployment:
    """Deployment guardrails: blue/green traffic shifting, with auto-rollback when one of
    ``rollback_alarm_names`` goes into ALARM during the update."""

    traffic: str = "CANARY"  # ALL_AT_ONCE | CANARY | LINEAR
    step_percent: int | None = None  # canary size or linear step, % of capacity
    wait_interval: cdk.Duration = cdk.Duration.minutes(5)
    termination_wait: cdk.Duration = cdk.Duration.minutes(5)
    maximum_execution_timeout: cdk.Duration | None = None
    rollback_alarm_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class AsyncOutput:
    """The AsyncInferenceConfig of an asynchronous endpoint."""

    output_path: str
    failure_path: str
    max_concurrent_invocations_per_instance: int | None = None
    success_topic_arn: str | None = None
    error_topic_arn: str | None = None
    include_inference_response_in: tuple[str, ...] = ()
    kms_key_arn: str | None = None


def _check_props(*, instance_type: str, image_uri: str | None, model_package_name: str | None,
                 environment: Mapping[str, str] | None, model_data: ModelData | None,
                 subnet_ids: Sequence[str] | None, security_group_ids: Sequence[str] | None,
                 initial_instance_count: int, network_isolation: bool,
                 volume_size_gb: int | None, async_output: AsyncOutput | None,
                 serverless: ServerlessCompute | None,
                 inference_ami_version: str | None) -> None:
    """Refuse, at synth, the combinations SageMaker would refuse at deploy."""
    if serverless is not None and (subnet_ids or async_output or network_isolation
                                   or volume_size_gb or inference_ami_version):
        raise ValueError("serverless endpoints take no VPC, async output, network "
                         "isolation, volume size or inference AMI (SageMaker does not "
                         "support them)")
    check_ami(inference_ami_version)
    if initial_instance_count < 1:
        raise ValueError("initial_instance_count must be at least 1 (SageMaker requires it)")
    if volume_size_gb is not None and instances.has_instance_store(instance_type):
        raise ValueError(f"{instance_type} has local NVMe storage; SageMaker rejects "
                         "VolumeSizeInGB for it")
    if (image_uri is None) == (model_package_name is None):
        raise ValueError("give exactly one of image_uri, model_package_name")
    if model_package_name is not None and (environment or model_data):
        raise ValueError("a model package brings image and weights: no environment or "
                         "model_data")
    if bool(subnet_ids) != bool(security_group_ids):
        raise ValueError("give both subnet_ids and security_group_ids, or neither")


def check_ami(inference_ami_version: str | None) -> None:
    """An ``InferenceAmiVersion`` the pinned botocore knows (``inference_ami.required_for``
    gives the one a DLC tag needs)."""
    if inference_ami_version is not None and inference_ami_version not in inference_ami.versions():
        raise ValueError(f"inference_ami_version {inference_ami_version!r}: one of "
                         f"{', '.join(inference_ami.versions())}")


class LlmEndpoint(Construct, AsyncMetrics):
    """A SageMaker endpoint serving one container, real-time or asynchronous.

    Update-safe by construction:
    * ``ModelName`` and ``EndpointConfigName`` are never set, so CloudFormation can
      replace them (every property of both is create-only) and roll forward;
    * ``EndpointName`` is stable (given, or generated once by CloudFormation);
    * ``RetainAllVariantProperties`` keeps the autoscaled instance count on update.

    ``inference_ami_version``: the host AMI; a DLC built on CUDA 12.9 or 13 needs a newer
    NVIDIA driver than SageMaker's default AMI has (``inference_ami.required_for(tag)``).

    ``capacity``: routing, fallback instance types, a capacity reservation and the provision
    timeout of the variant (``VariantCapacity``; not on serverless endpoints).

    ``data_capture``: a sample of requests and responses written to S3 (real-time and
    async); the execution role gets a write of exactly its prefix.

    Attributes: ``model``, ``endpoint_config``, ``endpoint`` (L1 resources),
    ``endpoint_name``, ``endpoint_arn``, ``variant_name``, ``data_capture``, ``scaling`` (after
    ``add_invocation_autoscaling`` or ``add_backlog_autoscaling``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        execution_role: SageMakerExecutionRole,
        instance_type: str,
        image_uri: str | None = None,
        model_package_name: str | None = None,
        environment: Mapping[str, str] | None = None,
        model_data: ModelData | None = None,
        subnet_ids: Sequence[str] | None = None,
        security_group_ids: Sequence[str] | None = None,
        endpoint_name: str | None = None,
        initial_instance_count: int = 1,
        variant_name: str = "AllTraffic",
        network_isolation: bool = False,
        container_startup_health_check_timeout: cdk.Duration = cdk.Duration.minutes(15),
        model_data_download_timeout: cdk.Duration = cdk.Duration.minutes(20),
        volume_size_gb: int | None = None,
        volume_kms_key: kms.IKey | None = None,
        async_output: AsyncOutput | None = None,
        serverless: ServerlessCompute | None = None,
        inference_ami_version: str | None = None,
        data_capture: DataCapture | None = None,
        capacity: VariantCapacity | None = None,
    ) -> None:
        super().__init__(scope, id)
        if data_capture is not None and serverless is not None:
            raise ValueError("serverless endpoints take no data capture (SageMaker does not "
                             "support it)")
        if capacity is not None and serverless is not None:
            raise ValueError("serverless endpoints have no instances: no capacity settings")
        self.capacity = capacity or VariantCapacity()
        _check_props(instance_type=instance_type, image_uri=image_uri,
                     model_package_name=model_package_name, environment=environment,
                     model_data=model_data, subnet_ids=subnet_ids,
                     security_group_ids=security_group_ids,
                     initial_instance_count=initial_instance_count,
                     network_isolation=network_isolation, volume_size_gb=volume_size_gb,
                     async_output=async_output, serverless=serverless,
                     inference_ami_version=inference_ami_version)
        self.variant_name = variant_name
        self.instance_type = instance_type
        self.serverless = serverless
        self.execution_role = execution_role
        self.async_output = async_output
        self.data_capture = data_capture
        if data_capture is not None:
            # SageMaker writes captures as the execution role: before the endpoint exists.
            data_capture.grant_write(execution_role.role)

        if model_package_name is not None:
            container: dict = {"model_package_name": model_package_name}
            network_isolation = True  # SageMaker requires it for model packages
        else:
            container = {"image": image_uri, "environment": dict(environment or {})}
        container.update(model_data_properties(model_data))
        self.model = sagemaker.CfnModel(
            self, "Model",
            execution_role_arn=execution_role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(**container),
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                subnets=list(subnet_ids), security_group_ids=list(security_group_ids or ()),
            ) if subnet_ids else None,
            enable_network_isolation=network_isolation or None,
        )
        # The image pull and artifact read are checked at CreateModel: wait for the policy.
        self.model.node.add_dependency(execution_role)

        # The volume of an instance with NVMe storage is encrypted by its hardware module
        # and SageMaker refuses a KmsKeyId for it.
        # (any type the variant may launch: the fallback types too)
        key_allowed = serverless is None and not any(
            instances.has_instance_store(t) for t in self.capacity.instance_types(instance_type))
        variant = self._variant(
            serverless, instance_type=instance_type,
            initial_instance_count=initial_instance_count,
            container_startup_health_check_timeout=container_startup_health_check_timeout,
            model_data_download_timeout=model_data_download_timeout,
            volume_size_gb=volume_size_gb, inference_ami_version=inference_ami_version)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self, "Config",
            production_variants=[variant],
            kms_key_id=volume_kms_key.key_arn if volume_kms_key and key_allowed else None,
            async_inference_config=_async_config(async_output) if async_output else None,
            data_capture_config=data_capture.config() if data_capture else None,
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            endpoint_name=endpoint_name,
            retain_all_variant_properties=True,
        )
        self.endpoint_name: str = endpoint_name or self.endpoint.attr_endpoint_name
        self.deployment: BlueGreenDeployment | None = None
        #: ``Ref`` of AWS::SageMaker::Endpoint is its ARN.
        self.endpoint_arn: str = self.endpoint.ref
        self.scaling: VariantAutoScaling | None = None

    def _variant(self, serverless: ServerlessCompute | None, *, instance_type: str,
                 initial_instance_count: int,
                 container_startup_health_check_timeout: cdk.Duration,
                 model_data_download_timeout: cdk.Duration,
                 volume_size_gb: int | None, inference_ami_version: str | None,
                 ) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        """The one production variant: SageMaker-managed serverless compute, or instances."""
        if serverless is not None:
            return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=self.variant_name, model_name=self.model.attr_model_name,
                serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                    memory_size_in_mb=serverless.memory_size_mb,
                    max_concurrency=serverless.max_concurrency,
                    provisioned_concurrency=serverless.provisioned_concurrency))
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=self.variant_name,
            model_name=self.model.attr_model_name,
            **self.capacity.variant_properties(instance_type),
            initial_instance_count=initial_instance_count,
            initial_variant_weight=1.0,
            container_startup_health_check_timeout_in_seconds=int(
                container_startup_health_check_timeout.to_seconds()),
            model_data_download_timeout_in_seconds=int(model_data_download_timeout.to_seconds()),
            volume_size_in_gb=volume_size_gb,
            inference_ami_version=inference_ami_version,
        )

    @property
    def is_async(self) -> bool:
        return self.async_output is not None

    def use_blue_green(self, deployment: BlueGreenDeployment) -> None:
        """Deployment guardrails for updates of this (real-time, instance-based) endpoint:
        SageMaker shifts traffic to a new fleet as given and rolls back if a rollback
        alarm fires. ``RetainDeploymentConfig`` keeps the policy for later updates."""
        if self.is_async or self.serverless is not None:
            raise ValueError("deployment guardrails apply to real-time instance endpoints")
        if deployment.traffic not in ("ALL_AT_ONCE", "CANARY", "LINEAR"):
            raise ValueError(f"traffic {deployment.traffic!r}: ALL_AT_ONCE, CANARY or LINEAR")
        if (deployment.traffic == "ALL_AT_ONCE") != (deployment.step_percent is None):
            raise ValueError("CANARY and LINEAR need step_percent; ALL_AT_ONCE takes none")
        size = (sagemaker.CfnEndpoint.CapacitySizeProperty(
            type="CAPACITY_PERCENT", value=deployment.step_percent)
            if deployment.step_percent is not None else None)
        routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type=deployment.traffic,
            wait_interval_in_seconds=int(deployment.wait_interval.to_seconds()),
            canary_size=size if deployment.traffic == "CANARY" else None,
            linear_step_size=size if deployment.traffic == "LINEAR" else None)
        timeout = deployment.maximum_execution_timeout
        self.endpoint.deployment_config = sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=routing,
                termination_wait_in_seconds=int(deployment.termination_wait.to_seconds()),
                maximum_execution_timeout_in_seconds=int(timeout.to_seconds())
                if timeout else None),
            auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=n)
                        for n in deployment.rollback_alarm_names])
            if deployment.rollback_alarm_names else None)
        self.endpoint.retain_deployment_config = True
        self.deployment = deployment

    # -- permissions -------------------------------------------------------------------
    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to invoke this endpoint (async, or plain and streaming)."""
        return _grant_invoke(grantee, self.endpoint_arn, self.is_async)

    @staticmethod
    def from_endpoint_name(scope: Construct, id: str, endpoint_name: str, *,
                           variant_name: str = "AllTraffic",
                           is_async: bool = False) -> ImportedLlmEndpoint:
        """An endpoint this app did not create (same account and region as ``scope``'s
        stack): its name, ARN, ``grant_invoke`` and ``metric_*``. ``is_async`` chooses
        the action ``grant_invoke`` allows, as SageMaker authorizes them separately."""
        return ImportedLlmEndpoint(scope, id, endpoint_name=endpoint_name,
                                   variant_name=variant_name, is_async=is_async)

    # -- scaling -----------------------------------------------------------------------
    def _scaling(self, min_capacity: int, max_capacity: int) -> VariantAutoScaling:
        if self.scaling is not None:
            raise ValueError("autoscaling is already configured for this endpoint")
        if min_capacity > max_capacity:
            raise ValueError(f"min_capacity {min_capacity} > max_capacity {max_capacity}")
        self.scaling = VariantAutoScaling(
            self, "Scaling", endpoint=self.endpoint, endpoint_name=self.endpoint_name,
            variant_name=self.variant_name,
            instance_type=", ".join(self.capacity.instance_types(self.instance_type)),
            min_capacity=min_capacity, max_capacity=max_capacity)
        return self.scaling

    def add_invocation_autoscaling(
        self,
        *,
        min_capacity: int = 1,
        max_capacity: int = 2,
        target_invocations_per_instance: int = 20,
        scale_in_cooldown: cdk.Duration = cdk.Duration.minutes(10),
        scale_out_cooldown: cdk.Duration = cdk.Duration.minutes(2),
    ) -> VariantAutoScaling:
        """Real-time: target tracking on ``SageMakerVariantInvocationsPerInstance``."""
        if self.is_async:
            raise ValueError("async endpoints publish no invocation metrics: use "
                             "add_backlog_autoscaling")
        if min_capacity < 1:
            raise ValueError("a real-time endpoint cannot scale below 1 instance")
        scaling = self._scaling(min_capacity, max_capacity)
        scaling.scale_on_target_tracking(
            "InvocationsPerInstance", target_value=target_invocations_per_instance,
            predefined_metric_type="SageMakerVariantInvocationsPerInstance",
            scale_in_cooldown=scale_in_cooldown, scale_out_cooldown=scale_out_cooldown)
        return scaling

    def add_backlog_autoscaling(
        self,
        *,
        min_capacity: int = 0,
        max_capacity: int = 2,
        target_backlog_per_instance: float = 5,
        scale_in_cooldown: cdk.Duration = cdk.Duration.minutes(10),
        scale_out_cooldown: cdk.Duration = cdk.Duration.minutes(2),
        scale_from_zero_cooldown: cdk.Duration = cdk.Duration.minutes(2),
    ) -> VariantAutoScaling:
        """Async: target tracking on ``ApproximateBacklogSizePerInstance`` and, when
        ``min_capacity`` is 0, the documented scale-from-zero step policy driven by an
        alarm on ``HasBacklogWithoutCapacity`` (1-minute period, one datapoint, >= 1 ->
        +1 instance): target tracking alone would wait until the backlog per (zero)
        instance passes the target.

        Both async metrics carry only the ``EndpointName`` dimension."""
        if not self.is_async:
            raise ValueError("only async endpoints have a backlog: use "
                             "add_invocation_autoscaling")
        scaling = self._scaling(min_capacity, max_capacity)
        scaling.scale_on_target_tracking(
            "BacklogPerInstance", target_value=target_backlog_per_instance,
            customized_metric={
                "MetricName": "ApproximateBacklogSizePerInstance",
                "Namespace": "AWS/SageMaker",
                "Dimensions": [{"Name": "EndpointName", "Value": self.endpoint_name}],
                "Statistic": "Average",
            },
            scale_in_cooldown=scale_in_cooldown, scale_out_cooldown=scale_out_cooldown)
        if min_capacity == 0:
            policy_arn = scaling.scale_on_step("ScaleFromZero", adjustment=1,
                                               cooldown=scale_from_zero_cooldown)
            self.scale_from_zero_alarm = cloudwatch.Alarm(
                self, "HasBacklogWithoutCapacity",
                alarm_description=f"{self.endpoint_name}: requests wait with no instance; "
                                  "adds the first one",
                metric=self.metric_has_backlog_without_capacity(),
                threshold=1, evaluation_periods=1, datapoints_to_alarm=1,
                comparison_operator=cloudwatch.ComparisonOperator
                .GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.scale_from_zero_alarm.add_alarm_action(_ArnAction(policy_arn))
        return scaling


class ImportedLlmEndpoint(Construct, AsyncMetrics):
    """An existing endpoint, by name (``LlmEndpoint.from_endpoint_name``). Attributes:
    ``endpoint_name``, ``endpoint_arn``, ``variant_name``, ``is_async``."""

    def __init__(self, scope: Construct, id: str, *, endpoint_name: str,
                 variant_name: str = "AllTraffic", is_async: bool = False) -> None:
        super().__init__(scope, id)
        self.endpoint_name, self.variant_name, self.is_async = (
            endpoint_name, variant_name, is_async)
        # SageMaker writes endpoint ARNs with the name in lower case.
        name = endpoint_name if cdk.Token.is_unresolved(endpoint_name) else endpoint_name.lower()
        self.endpoint_arn: str = cdk.Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=name,
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to invoke this endpoint (async, or plain and streaming)."""
        return _grant_invoke(grantee, self.endpoint_arn, self.is_async)


def _grant_invoke(grantee: iam.IGrantable, endpoint_arn: str, is_async: bool) -> iam.Grant:
    actions = (["sagemaker:InvokeEndpointAsync"] if is_async else
               ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"])
    return iam.Grant.add_to_principal(grantee=grantee, actions=actions,
                                      resource_arns=[endpoint_arn])


def _async_config(out: AsyncOutput) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
    notification = None
    if out.success_topic_arn or out.error_topic_arn:
        notification = sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
            success_topic=out.success_topic_arn, error_topic=out.error_topic_arn,
            include_inference_response_in=list(out.include_inference_response_in) or None)
    return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
        output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
            s3_output_path=out.output_path, s3_failure_path=out.failure_path,
            kms_key_id=out.kms_key_arn, notification_config=notification),
        client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
            max_concurrent_invocations_per_instance=out.max_concurrent_invocations_per_instance,
        ) if out.max_concurrent_invocations_per_instance else None,
    )


@jsii.implements(cloudwatch.IAlarmAction)
class _ArnAction:
    """An alarm action given by ARN (here: a scaling policy the guard created)."""

    def __init__(self, arn: str) -> None:
        self._arn = arn

    def bind(self, scope: Construct, alarm: cloudwatch.IAlarm) -> cloudwatch.AlarmActionConfig:
        return cloudwatch.AlarmActionConfig(alarm_action_arn=self._arn)
