"""SageMaker Model + EndpointConfig + Endpoint for one LLM container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from . import instances
from .execution_role import SageMakerExecutionRole


@dataclass(frozen=True)
class ModelData:
    """Model artifacts in S3: a ``.tar.gz`` (``compressed``) or an uncompressed prefix."""

    s3_uri: str

    @property
    def compressed(self) -> bool:
        return not self.s3_uri.endswith("/")


class LlmEndpoint(Construct):
    """A real-time SageMaker endpoint serving one container.

    Update-safe by construction:
    * ``ModelName`` and ``EndpointConfigName`` are never set, so CloudFormation can
      replace them (every property of both is create-only) and roll forward;
    * ``EndpointName`` is stable (given, or generated once by CloudFormation);
    * ``RetainAllVariantProperties`` keeps the autoscaled instance count on update.

    Attributes: ``model``, ``endpoint_config``, ``endpoint`` (L1 resources),
    ``endpoint_name``, ``endpoint_arn``, ``variant_name``, ``scalable_target`` (after
    ``add_invocation_autoscaling``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        execution_role: SageMakerExecutionRole,
        image_uri: str,
        instance_type: str,
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
    ) -> None:
        super().__init__(scope, id)
        if initial_instance_count < 1:
            raise ValueError("initial_instance_count must be at least 1 (SageMaker requires it)")
        if volume_size_gb is not None and instances.has_instance_store(instance_type):
            raise ValueError(f"{instance_type} has local NVMe storage; SageMaker rejects "
                             "VolumeSizeInGB for it")
        if bool(subnet_ids) != bool(security_group_ids):
            raise ValueError("give both subnet_ids and security_group_ids, or neither")
        self.variant_name = variant_name
        self.instance_type = instance_type
        self.execution_role = execution_role

        container: dict = {"image": image_uri, "environment": dict(environment or {})}
        if model_data is not None:
            if model_data.compressed:
                container["model_data_url"] = model_data.s3_uri
            else:
                container["model_data_source"] = sagemaker.CfnModel.ModelDataSourceProperty(
                    s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                        s3_uri=model_data.s3_uri, s3_data_type="S3Prefix",
                        compression_type="None"))
        self.model = sagemaker.CfnModel(
            self, "Model",
            execution_role_arn=execution_role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(**container),
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                subnets=list(subnet_ids), security_group_ids=list(security_group_ids),
            ) if subnet_ids else None,
            enable_network_isolation=network_isolation or None,
        )
        # The image pull and artifact read are checked at CreateModel: wait for the policy.
        self.model.node.add_dependency(execution_role)

        # The volume of an instance with NVMe storage is encrypted by its hardware module
        # and SageMaker refuses a KmsKeyId for it.
        key_allowed = not instances.has_instance_store(instance_type)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self, "Config",
            production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=variant_name,
                model_name=self.model.attr_model_name,
                instance_type=instance_type,
                initial_instance_count=initial_instance_count,
                initial_variant_weight=1.0,
                container_startup_health_check_timeout_in_seconds=int(
                    container_startup_health_check_timeout.to_seconds()),
                model_data_download_timeout_in_seconds=int(
                    model_data_download_timeout.to_seconds()),
                volume_size_in_gb=volume_size_gb,
            )],
            kms_key_id=volume_kms_key.key_arn if volume_kms_key and key_allowed else None,
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            endpoint_name=endpoint_name,
            retain_all_variant_properties=True,
        )
        self.endpoint_name: str = endpoint_name or self.endpoint.attr_endpoint_name
        #: ``Ref`` of AWS::SageMaker::Endpoint is its ARN.
        self.endpoint_arn: str = self.endpoint.ref
        self.scalable_target: appscaling.CfnScalableTarget | None = None

    # -- permissions -------------------------------------------------------------------
    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to invoke this endpoint (plain and streaming)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
            resource_arns=[self.endpoint_arn])

    # -- scaling -----------------------------------------------------------------------
    @property
    def scaling_resource_id(self) -> str:
        return f"endpoint/{self.endpoint_name}/variant/{self.variant_name}"

    def add_invocation_autoscaling(
        self,
        *,
        min_capacity: int = 1,
        max_capacity: int = 2,
        target_invocations_per_instance: int = 20,
        scale_in_cooldown: cdk.Duration = cdk.Duration.minutes(10),
        scale_out_cooldown: cdk.Duration = cdk.Duration.minutes(2),
    ) -> appscaling.CfnScalableTarget:
        """Target tracking on ``SageMakerVariantInvocationsPerInstance`` (real-time).

        L1 resources with no ``RoleARN``: Application Auto Scaling then uses (and creates on
        first use) its SageMaker service-linked role, which already has the permissions.
        """
        if min_capacity < 1:
            raise ValueError("a real-time endpoint cannot scale below 1 instance")
        if min_capacity > max_capacity:
            raise ValueError(f"min_capacity {min_capacity} > max_capacity {max_capacity}")
        if self.scalable_target is not None:
            raise ValueError("autoscaling is already configured for this endpoint")
        target = appscaling.CfnScalableTarget(
            self, "ScalableTarget",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=self.scaling_resource_id,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
        )
        target.add_resource_dependency(self.endpoint)  # the variant must exist to be registered
        policy = appscaling.CfnScalingPolicy(
            self, "InvocationsScaling",
            policy_name="invocations-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy
            .TargetTrackingScalingPolicyConfigurationProperty(
                target_value=target_invocations_per_instance,
                predefined_metric_specification=appscaling.CfnScalingPolicy
                .PredefinedMetricSpecificationProperty(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"),
                scale_in_cooldown=int(scale_in_cooldown.to_seconds()),
                scale_out_cooldown=int(scale_out_cooldown.to_seconds()),
            ),
        )
        self.scalable_target = target
        self.invocation_scaling_policy = policy
        return target

    # -- metrics -----------------------------------------------------------------------
    def metric(self, metric_name: str, *, statistic: str = "Sum",
               period: cdk.Duration = cdk.Duration.minutes(1),
               namespace: str = "AWS/SageMaker") -> cloudwatch.Metric:
        """A metric of this endpoint's variant (``AWS/SageMaker`` by default)."""
        return cloudwatch.Metric(
            namespace=namespace, metric_name=metric_name, statistic=statistic, period=period,
            dimensions_map={"EndpointName": self.endpoint_name,
                            "VariantName": self.variant_name})

    def metric_invocations(self, **kw) -> cloudwatch.Metric:
        return self.metric("Invocations", **kw)

    def metric_invocation_5xx_errors(self, **kw) -> cloudwatch.Metric:
        return self.metric("Invocation5XXErrors", **kw)

    def metric_invocation_4xx_errors(self, **kw) -> cloudwatch.Metric:
        return self.metric("Invocation4XXErrors", **kw)

    def metric_model_latency(self, *, statistic: str = "p90", **kw) -> cloudwatch.Metric:
        """Microseconds, as SageMaker reports it."""
        return self.metric("ModelLatency", statistic=statistic, **kw)

    def metric_gpu_utilization(self, *, statistic: str = "Average", **kw) -> cloudwatch.Metric:
        return self.metric("GPUUtilization", statistic=statistic,
                           namespace="/aws/sagemaker/Endpoints", **kw)

    def metric_gpu_memory_utilization(self, *, statistic: str = "Average",
                                      **kw) -> cloudwatch.Metric:
        return self.metric("GPUMemoryUtilization", statistic=statistic,
                           namespace="/aws/sagemaker/Endpoints", **kw)
