"""What each config field means to the APIs: the SageMaker, Application Auto Scaling and
CloudWatch parameters its value reaches (``SENT``), or why it reaches none of them
(``NOT_SENT``). Keys are ``(model class, field)``; a class's entry covers its subclasses
(``ModelSpec`` covers endpoints and components), ``"*"`` every field of the class. The
constraints themselves are botocore's (``botocore_model.Parameter``); this table only says
where a value goes. ``tests/test_constraints.py`` fails for a field in neither table.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.aws_cron import schedule_expression
from config.shapes.endpoint import CAPACITY_TYPES

from . import capacity_values as capacity
from . import capture_values as capture
from . import values as v
from .botocore_model import Parameter
from .values import ValueOf, as_given


@dataclass(frozen=True)
class Sent:
    """The field's value reaches ``parameter`` as ``value`` makes it (None: not with this
    config). ``part_of``: the value is checked as part of that field's (the environment,
    the endpoint name, the tags), whose entry names this field when it is the culprit."""

    parameter: Parameter
    value: ValueOf = as_given
    part_of: str | None = None


def sagemaker(operation: str, member: str, value: ValueOf = as_given,
              part_of: str | None = None) -> Sent:
    return Sent(Parameter("sagemaker", operation, member), value, part_of)


def scaling(operation: str, member: str, value: ValueOf = as_given) -> Sent:
    return Sent(Parameter("application-autoscaling", operation, member), value)


def alarm(member: str, value: ValueOf = as_given) -> Sent:
    return Sent(Parameter("cloudwatch", "PutMetricAlarm", member), value)


MODEL, CONFIG, ENDPOINT = "CreateModel", "CreateEndpointConfig", "CreateEndpoint"
COMPONENT = "CreateInferenceComponent"
REGISTER, POLICY = "RegisterScalableTarget", "PutScalingPolicy"
SCHEDULED = "PutScheduledAction"
VARIANT = "ProductionVariants"
TRACKING = "TargetTrackingScalingPolicyConfiguration"
STEP = "StepScalingPolicyConfiguration"
BLUE_GREEN = "DeploymentConfig.BlueGreenUpdatePolicy"
ROUTING = f"{BLUE_GREEN}.TrafficRoutingConfiguration"
OUTPUT = "AsyncInferenceConfig.OutputConfig"
CAPTURE = "DataCaptureConfig"
SERVERLESS = f"{VARIANT}.ServerlessConfig"
STARTUP = "Specification.StartupParameters"
COMPUTE = "Specification.ComputeResourceRequirements"
ENVIRONMENT = "PrimaryContainer.Environment"
UPDATE_COMPONENT = "UpdateInferenceComponent"
ROLLING = "DeploymentConfig.RollingUpdatePolicy"
PREFIX_AWARE = f"{VARIANT}.RoutingConfig.PrefixAwareRoutingConfig"
SCALE_IN = f"{VARIANT}.ManagedInstanceScaling.ScaleInPolicy"


#: A setting the container reads as a variable: checked with the whole environment.
IN_ENVIRONMENT = (sagemaker(MODEL, ENVIRONMENT, part_of="ModelSpec.environment"),)


def tagged(*operations: str) -> tuple[Sent, ...]:
    return tuple(sagemaker(op, "Tags", v.tag_list) for op in operations)


def timeouts(member: str) -> dict[tuple[str, str], tuple[Sent, ...]]:
    """A container timeout: in the variant for an endpoint, in the component's startup
    parameters for a component."""
    field = {"ContainerStartupHealthCheckTimeoutInSeconds":
             "container_startup_health_check_timeout_seconds",
             "ModelDataDownloadTimeoutInSeconds": "model_data_download_timeout_seconds"}[member]
    return {("Endpoint", field): (sagemaker(CONFIG, f"{VARIANT}.{member}", v.on_instances()),),
            ("Component", field): (sagemaker(COMPONENT, f"{STARTUP}.{member}"),)}


SENT: dict[tuple[str, str], tuple[Sent, ...]] = {
    # -- names --------------------------------------------------------------------------
    ("AppConfig", "project"): (
        sagemaker(ENDPOINT, "EndpointName", part_of="Endpoint.endpoint_name"),
        sagemaker(MODEL, "Tags", part_of="Deployment.tags")),
    ("Endpoint", "name"): (sagemaker(ENDPOINT, "EndpointName", part_of="Endpoint.endpoint_name"),),
    ("Endpoint", "endpoint_name"): (
        sagemaker(ENDPOINT, "EndpointName", v.endpoint_name),
        sagemaker(COMPONENT, "EndpointName", v.components_endpoint),
        scaling(REGISTER, "ResourceId", v.variant_resource),
        alarm("Dimensions", v.endpoint_dimension)),
    ("Component", "name"): (sagemaker(COMPONENT, "InferenceComponentName", v.component_name),),
    ("Deployment", "tags"): (
        *tagged(MODEL, CONFIG, ENDPOINT, COMPONENT),
        scaling(REGISTER, "Tags", v.tag_map),
        alarm("Tags", v.tag_list)),
    # With the global ones, as the endpoint's stack sends them (sent only when set).
    ("Endpoint", "tags"): (
        *(sagemaker(op, "Tags", v.endpoint_tags(v.tag_list))
          for op in (MODEL, CONFIG, ENDPOINT, COMPONENT)),
        scaling(REGISTER, "Tags", v.endpoint_tags(v.tag_map)),
        alarm("Tags", v.endpoint_tags(v.tag_list))),
    # -- the container ------------------------------------------------------------------
    ("ModelSpec", "environment"): (sagemaker(MODEL, ENVIRONMENT, v.environment),),
    ("ModelSpec", "sm_num_gpus"): IN_ENVIRONMENT,
    ("Serving", "*"): IN_ENVIRONMENT,
    ("TgiSettings", "*"): IN_ENVIRONMENT,
    ("HubSource", "*"): IN_ENVIRONMENT,
    ("S3Source", "s3"): (sagemaker(MODEL, "PrimaryContainer.ModelDataUrl", v.compressed),
                         sagemaker(MODEL, "PrimaryContainer.ModelDataSource.S3DataSource.S3Uri",
                                   v.uncompressed)),
    ("BackendImage", "*"): (sagemaker(MODEL, "PrimaryContainer.Image", v.image_uris),),
    ("PytorchImage", "pytorch"): (sagemaker(MODEL, "PrimaryContainer.Image", v.image_uris),),
    ("UriImage", "uri"): (sagemaker(MODEL, "PrimaryContainer.Image"),),
    ("ModelPackageImage", "model_package"): (
        sagemaker(MODEL, "PrimaryContainer.ModelPackageName"),),
    ("ModelSpec", "network_isolation"): (sagemaker(MODEL, "EnableNetworkIsolation"),),
    ("Deployment", "availability_zones"): (
        sagemaker(MODEL, "VpcConfig.Subnets", v.listed_zones),),
    ("Network", "max_azs"): (sagemaker(MODEL, "VpcConfig.Subnets", v.counted_zones),),
    # -- the variant ----------------------------------------------------------------------
    ("Endpoint", "instance_type"): (
        sagemaker(CONFIG, f"{VARIANT}.InstanceType", v.on_variant),),
    ("Endpoint", "initial_instance_count"): (
        sagemaker(CONFIG, f"{VARIANT}.InitialInstanceCount", v.initial_count),),
    ("Endpoint", "volume_size_gb"): (
        sagemaker(CONFIG, f"{VARIANT}.VolumeSizeInGB", v.on_instances()),),
    ("Endpoint", "inference_ami_version"): (
        sagemaker(CONFIG, f"{VARIANT}.InferenceAmiVersion", v.host_ami),),
    **timeouts("ContainerStartupHealthCheckTimeoutInSeconds"),
    **timeouts("ModelDataDownloadTimeoutInSeconds"),
    ("Serverless", "memory_size_mb"): (sagemaker(CONFIG, f"{SERVERLESS}.MemorySizeInMB"),),
    ("Serverless", "max_concurrency"): (sagemaker(CONFIG, f"{SERVERLESS}.MaxConcurrency"),),
    ("Serverless", "provisioned_concurrency"): (
        sagemaker(CONFIG, f"{SERVERLESS}.ProvisionedConcurrency"),),
    ("InstanceScaling", "min_instances"): (
        sagemaker(CONFIG, f"{VARIANT}.ManagedInstanceScaling.MinInstanceCount"),),
    ("InstanceScaling", "max_instances"): (
        sagemaker(CONFIG, f"{VARIANT}.ManagedInstanceScaling.MaxInstanceCount"),),
    # -- capacity of the variant --------------------------------------------------------------
    ("Endpoint", "fallback_instance_types"): (
        sagemaker(CONFIG, f"{VARIANT}.InstancePools", capacity.instance_pools),),
    ("Endpoint", "instance_provision_timeout_seconds"): (
        sagemaker(CONFIG, f"{VARIANT}.VariantInstanceProvisionTimeoutInSeconds", v.on_variant),),
    ("Routing", "strategy"): (
        sagemaker(CONFIG, f"{VARIANT}.RoutingConfig.RoutingStrategy", capacity.upper),),
    ("Routing", "prefix_length"): (
        sagemaker(CONFIG, f"{PREFIX_AWARE}.PrefixLength", v.on_variant),),
    ("Routing", "concurrency_threshold"): (
        sagemaker(CONFIG, f"{PREFIX_AWARE}.ConcurrencyThreshold", v.on_variant),),
    ("CapacityReservation", "arn"): (
        sagemaker(CONFIG, f"{VARIANT}.CapacityReservationConfig.MlReservationArn",
                  v.on_variant),),
    ("ScaleInPolicy", "strategy"): (sagemaker(CONFIG, f"{SCALE_IN}.Strategy", capacity.upper),),
    ("ScaleInPolicy", "max_step_size"): (sagemaker(CONFIG, f"{SCALE_IN}.MaximumStepSize"),),
    ("ScaleInPolicy", "cooldown_minutes"): (sagemaker(CONFIG, f"{SCALE_IN}.CooldownInMinutes"),),
    # -- asynchronous inference -----------------------------------------------------------
    ("AsyncInference", "max_concurrent_invocations_per_instance"): (
        sagemaker(CONFIG, "AsyncInferenceConfig.ClientConfig.MaxConcurrentInvocationsPerInstance",
                  v.async_output),),
    ("AsyncInference", "existing_bucket"): (
        sagemaker(CONFIG, f"{OUTPUT}.S3OutputPath", part_of="AsyncInference.output_path"),),
    ("AsyncInference", "output_path"): (
        sagemaker(CONFIG, f"{OUTPUT}.S3OutputPath", v.s3_location("output_path")),),
    ("AsyncInference", "failure_path"): (
        sagemaker(CONFIG, f"{OUTPUT}.S3FailurePath", v.s3_location("failure_path")),),
    ("AsyncInference", "include_inference_response_in"): (
        sagemaker(CONFIG, f"{OUTPUT}.NotificationConfig.IncludeInferenceResponseIn",
                  v.async_output),),
    # -- data capture -----------------------------------------------------------------------
    ("DataCapture", "enabled"): (
        sagemaker(CONFIG, f"{CAPTURE}.EnableCapture", capture.captured()),),
    ("DataCapture", "sampling_percentage"): (
        sagemaker(CONFIG, f"{CAPTURE}.InitialSamplingPercentage", capture.captured()),),
    ("DataCapture", "capture"): (
        sagemaker(CONFIG, f"{CAPTURE}.CaptureOptions",
                  capture.captured(capture.capture_options)),),
    ("DataCapture", "destination"): (
        sagemaker(CONFIG, f"{CAPTURE}.DestinationS3Uri", capture.captured(capture.destination)),),
    ("DataCapture", "kms_key_arn"): (
        sagemaker(CONFIG, f"{CAPTURE}.KmsKeyId", capture.captured()),),
    ("DataCapture", "json_content_types"): (
        sagemaker(CONFIG, f"{CAPTURE}.CaptureContentTypeHeader.JsonContentTypes",
                  capture.captured(capture.content_types)),),
    ("DataCapture", "csv_content_types"): (
        sagemaker(CONFIG, f"{CAPTURE}.CaptureContentTypeHeader.CsvContentTypes",
                  capture.captured(capture.content_types)),),
    # -- inference components ---------------------------------------------------------------
    ("Component", "accelerators"): (
        sagemaker(COMPONENT, f"{COMPUTE}.NumberOfAcceleratorDevicesRequired", v.accelerators),),
    ("Component", "memory_mb"): (sagemaker(COMPONENT, f"{COMPUTE}.MinMemoryRequiredInMb"),),
    ("Component", "cpu_cores"): (sagemaker(COMPONENT, f"{COMPUTE}.NumberOfCpuCoresRequired"),),
    ("Component", "copies"): (sagemaker(COMPONENT, "RuntimeConfig.CopyCount"),),
    ("Adapter", "name"): (sagemaker(COMPONENT, "InferenceComponentName", v.component_name),),
    ("Adapter", "artifact"): (sagemaker(COMPONENT, "Specification.Container.ArtifactUrl"),),
    ("ComponentAutoscaling", "min_copies"): (scaling(REGISTER, "MinCapacity"),),
    ("ComponentAutoscaling", "max_copies"): (scaling(REGISTER, "MaxCapacity"),),
    ("ComponentAutoscaling", "target_concurrent_requests_per_copy"): (
        scaling(POLICY, f"{TRACKING}.TargetValue"),),
    ("ComponentAutoscaling", "scale_in_cooldown_seconds"): (
        scaling(POLICY, f"{TRACKING}.ScaleInCooldown"),),
    ("ComponentAutoscaling", "scale_out_cooldown_seconds"): (
        scaling(POLICY, f"{TRACKING}.ScaleOutCooldown"),),
    ("ComponentAutoscaling", "scale_from_zero_cooldown_seconds"): (
        scaling(POLICY, f"{STEP}.Cooldown"),),
    # -- instance autoscaling ---------------------------------------------------------------
    ("Autoscaling", "min_capacity"): (scaling(REGISTER, "MinCapacity"),),
    ("Autoscaling", "max_capacity"): (scaling(REGISTER, "MaxCapacity"),),
    ("Autoscaling", "target_invocations_per_instance"): (
        scaling(POLICY, f"{TRACKING}.TargetValue", v.target_value("realtime")),),
    ("Autoscaling", "target_backlog_per_instance"): (
        scaling(POLICY, f"{TRACKING}.TargetValue", v.target_value("async")),),
    ("Autoscaling", "scale_in_cooldown_seconds"): (
        scaling(POLICY, f"{TRACKING}.ScaleInCooldown"),),
    ("Autoscaling", "scale_out_cooldown_seconds"): (
        scaling(POLICY, f"{TRACKING}.ScaleOutCooldown"),),
    ("Autoscaling", "scale_from_zero_cooldown_seconds"): (
        scaling(POLICY, f"{STEP}.Cooldown", v.when(v.from_zero)),),
    ("ScheduleTiming", "name"): (scaling(SCHEDULED, "ScheduledActionName"),),
    ("ScheduleTiming", "cron"): (
        scaling(SCHEDULED, "Schedule", lambda site, cron: schedule_expression(cron)),),
    ("ScheduleTiming", "timezone"): (scaling(SCHEDULED, "Timezone"),),
    ("Schedule", "min_capacity"): (scaling(SCHEDULED, "ScalableTargetAction.MinCapacity"),),
    ("Schedule", "max_capacity"): (scaling(SCHEDULED, "ScalableTargetAction.MaxCapacity"),),
    ("CopySchedule", "min_copies"): (scaling(SCHEDULED, "ScalableTargetAction.MinCapacity"),),
    ("CopySchedule", "max_copies"): (scaling(SCHEDULED, "ScalableTargetAction.MaxCapacity"),),
    # -- deployment guardrails ----------------------------------------------------------------
    ("Guardrails", "strategy"): (sagemaker(ENDPOINT, f"{ROUTING}.Type", v.strategy),),
    ("Guardrails", "canary_size_percent"): (sagemaker(ENDPOINT, f"{ROUTING}.CanarySize.Value"),),
    ("Guardrails", "linear_step_percent"): (
        sagemaker(ENDPOINT, f"{ROUTING}.LinearStepSize.Value"),),
    ("Guardrails", "wait_interval_seconds"): (
        sagemaker(ENDPOINT, f"{ROUTING}.WaitIntervalInSeconds"),),
    ("Guardrails", "termination_wait_seconds"): (
        sagemaker(ENDPOINT, f"{BLUE_GREEN}.TerminationWaitInSeconds"),),
    ("Guardrails", "maximum_execution_timeout_seconds"): (
        sagemaker(ENDPOINT, f"{BLUE_GREEN}.MaximumExecutionTimeoutInSeconds"),),
    # -- rolling updates of components (DeploymentConfig exists on the update only) -------
    ("RollingUpdate", "batch_unit"): (
        sagemaker(UPDATE_COMPONENT, f"{ROLLING}.MaximumBatchSize.Type",
                  lambda site, unit: CAPACITY_TYPES[unit]),),
    ("RollingUpdate", "batch_size"): (
        sagemaker(UPDATE_COMPONENT, f"{ROLLING}.MaximumBatchSize.Value"),),
    ("RollingUpdate", "rollback_batch_size"): (
        sagemaker(UPDATE_COMPONENT, f"{ROLLING}.RollbackMaximumBatchSize.Value"),),
    ("RollingUpdate", "wait_interval_seconds"): (
        sagemaker(UPDATE_COMPONENT, f"{ROLLING}.WaitIntervalInSeconds"),),
    ("RollingUpdate", "maximum_execution_timeout_seconds"): (
        sagemaker(UPDATE_COMPONENT, f"{ROLLING}.MaximumExecutionTimeoutInSeconds"),),
    # -- alarms -----------------------------------------------------------------------------
    ("Alarms", "topic_arn"): (alarm("AlarmActions", v.when(v.has_alarms, v.topic_actions)),
                              alarm("OKActions", v.when(v.has_alarms, v.topic_actions))),
    ("Alarms", "period_seconds"): (alarm("Period", v.when(v.has_alarms)),),
    ("Alarms", "max_age_of_oldest_request_seconds"): (
        alarm("Threshold", v.when(v.async_alarms)),),
    ("Alarms", "invocation_failures"): (alarm("Threshold", v.when(v.async_alarms)),),
    ("Alarms", "invocation_5xx_errors"): (alarm("Threshold", v.when(v.realtime_alarms)),),
    ("Alarms", "model_latency_p90_ms"): (
        alarm("Threshold", v.when(v.realtime_alarms, v.microseconds)),),
}

#: Fields whose values reach none of these APIs, and why.
NOT_SENT: dict[tuple[str, str], str] = {
    ("Deployment", "account"): "the stacks' environment (CloudFormation), not a parameter",
    ("Deployment", "region"): "the stacks' environment; it picks the DLC image, whose URI is "
                              "checked under the image's version",
    ("Deployment", "termination_protection"): "a CloudFormation stack setting",
    ("SecretRef", "*"): "a Secrets Manager reference CloudFormation resolves at deploy (its "
                        "variable is counted and checked with the environment)",
    ("Network", "cidr"): "EC2 (the VPC), not these APIs",
    ("Network", "egress"): "EC2 (subnets and NAT gateways)",
    ("Network", "nat_gateways"): "EC2 (NAT gateways)",
    ("Network", "interface_endpoints"): "EC2 (VPC endpoints)",
    ("FlowLogs", "enabled"): "EC2 flow logs and CloudWatch Logs, not PutMetricAlarm",
    ("FlowLogs", "retention_days"): "CloudWatch Logs retention (checked against its own list)",
    ("Encryption", "customer_managed_key"): "a switch: the KMS key's ARN that reaches "
                                            "KmsKeyId is CloudFormation's",
    ("AppConfig", "removal_policy"): "CloudFormation deletion policies",
    ("Endpoint", "mode"): "chooses the resources (async, serverless, components config); "
                          "no value of its own reaches them",
    ("Endpoint", "invoke_principals"): "IAM policies of the invokers",
    ("Component", "instance_type"): "a component runs on the endpoint's instance type (the "
                                    "rules refuse one here)",
    ("ModelSize", "*"): "only the synth-time check that the weights fit the GPUs",
    ("PytorchImage", "code"): "packed into a CDK asset; ModelDataUrl is the asset's "
                              "generated S3 location",
    ("BuildImage", "build"): "built into a CDK image asset; the Image is the asset's "
                             "generated ECR URI",
    ("S3Source", "kms_key_arn"): "IAM (the role's kms:Decrypt), not these APIs",
    ("Adapter", "kms_key_arn"): "IAM (the role's kms:Decrypt), not these APIs",
    ("AsyncInference", "input_path"): "S3 notifications and the invoker Lambda (clients "
                                      "send it to InvokeEndpointAsync at run time)",
    ("AsyncInference", "expire_after_days"): "S3 lifecycle rules and DynamoDB TTL",
    ("AsyncInference", "notifications"): "a switch: the topic ARNs that reach the "
                                         "NotificationConfig are CloudFormation's",
    ("AsyncInference", "runtime"): "a switch for Lambda, SQS and DynamoDB resources",
    ("AsyncInference", "failed_requests_path"): "the result Lambda's S3 copies",
    ("AsyncInference", "max_receive_count"): "SQS redrive policies",
    ("AsyncInference", "invoker_max_concurrency"): "Lambda event source concurrency",
    ("DataCapture", "expire_after_days"): "S3 lifecycle rules of the stack's capture bucket",
    ("Guardrails", "auto_rollback"): "a switch: the alarm names that reach "
                                     "AutoRollbackConfiguration are CloudFormation's",
    ("RollingUpdate", "auto_rollback"): "a switch: the component's alarm names that reach "
                                        "AutoRollbackConfiguration are CloudFormation's",
    ("Alarms", "enabled"): "a switch: whether the alarms exist",
}
