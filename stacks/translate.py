"""Config -> construct arguments: what each part of an endpoint stack is made of.

The stack (``stacks/endpoint.py``) only composes; everything that reads the config to
decide a construct's properties is here: the container environment (with the gated-model
token as a Secrets Manager reference), image binding, model artifacts, async storage and
output, scaling, guardrails, monitoring and the stack's outputs.
"""

from __future__ import annotations


import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from config import backends, facts
from config.arns import parse_s3_uri
from config.aws_cron import schedule_expression
from config.rules.arns import arns_of
from config.rules.serving import unknown_flags
from config.shapes import (Alarms, Autoscaling, BuildImage, Component, ComponentAutoscaling,
                           Endpoint, Guardrails, HubSource, ModelSpec, PytorchImage, S3Source,
                           Serverless, UriImage, project_path)
from config.shapes.adapters import Adapter, lora_environment
from config.shapes.operations import Schedule
from llm_constructs import (AsyncInferenceStorage, AsyncJobRuntime, AsyncOutput,
                            BlueGreenDeployment, ComponentEndpoint, DataCapture,
                            DataCaptureBucket, EndpointMonitoring,
                            InferenceCode, LlmEndpoint, ModelData, SageMakerExecutionRole,
                            ServerlessCompute)
from llm_constructs.images import logical_id_part
from llm_constructs.inference_components import InferenceComponent
from llm_constructs.monitoring import ComponentMonitoring
from llm_constructs.partitions import partition_of
from llm_constructs.scaling import VariantAutoScaling
from llm_constructs.variant_capacity import ScaleInPolicy, VariantCapacity, VariantRouting

#: The image a model runs: its URI (None: a model package brings its own) and the ECR
#: repositories the execution role may pull from.
BoundImage = tuple[str | None, list[str]]


# -- container environment ------------------------------------------------------------------
def secret_reference(secret: str, json_key: str | None = None) -> str:
    """A ``{{resolve:secretsmanager:...}}`` reference, resolved by CloudFormation at deploy
    time: the template never holds the value, and the execution role needs no read of it."""
    return cdk.SecretValue.secrets_manager(secret, json_field=json_key).unsafe_unwrap()


def hub_token(source: HubSource) -> str | None:
    """A gated model's token: a deploy-time Secrets Manager reference, never a literal."""
    if not source.token_secret:
        return None
    return secret_reference(source.token_secret, source.token_secret_key)


def secret_environment(spec: ModelSpec) -> dict[str, str]:
    """``secrets``: variable -> a reference to its Secrets Manager secret."""
    return {key: secret_reference(ref) if isinstance(ref, str)
            else secret_reference(ref.secret, ref.json_key)
            for key, ref in sorted(spec.secrets.items())}


def container_environment(spec: ModelSpec) -> dict[str, str]:
    """The container's environment: what the config derives (for a serving backend, from
    its record), then the user's ``environment`` and ``secrets``, which win (the config
    keeps a variable out of one of the two)."""
    return {**derived_environment(spec), **spec.environment, **secret_environment(spec)}


def derived_environment(spec: ModelSpec) -> dict[str, str]:
    source = spec.source
    token = hub_token(source) if isinstance(source, HubSource) else None
    if spec.backend is not None:
        # S3 artifacts are in /opt/ml/model; the backend loads that path, never the Hub.
        model = (source.hub if isinstance(source, HubSource)
                 else "/opt/ml/model" if source is not None else None)
        extra = ({"HF_TOKEN": token} if token else
                 {"HF_HUB_OFFLINE": "1"} if isinstance(source, S3Source) else {})
        env = backends.environment(spec.backend, spec, model=model, source_variables=extra)
        if isinstance(spec, Component) and spec.adapters:
            env.update(lora_environment(spec))  # a base loads its adapters with LoRA on
        return env
    if not isinstance(source, HubSource):
        return {}
    env = {"HF_MODEL_ID": source.hub}
    if token:
        env["HF_TOKEN"] = token
        if spec.is_pytorch:
            # The Hugging Face inference toolkit passes HF_API_TOKEN to the Hub download.
            env["HF_API_TOKEN"] = token
    return env


def environment_overrides(spec: ModelSpec) -> dict[str, tuple[str, str]]:
    """``environment`` and ``secrets`` keys that replace a value derived from config: key ->
    (derived, given). The raw map wins (backend-specific extras stay possible); the stack
    warns."""
    derived = derived_environment(spec)
    given = {**spec.environment, **dict.fromkeys(spec.secrets, "a secret")}
    return {k: (derived[k], v) for k, v in sorted(given.items())
            if k in derived and derived[k] != v}


def environment_with_warnings(scope: Construct, spec: ModelSpec, label: str) -> dict[str, str]:
    """The container's environment, with a synth warning per value the raw ``environment``
    map overrides."""
    for key, (derived, given) in environment_overrides(spec).items():
        cdk.Annotations.of(scope).add_warning_v2(
            f"llm:environment-override:{key}",
            f"{label}: {_given(spec, key, given)} overrides {derived!r}, which the "
            "config derives (serving, source); the raw value wins")
    for key, why in unknown_flags(spec).items():
        cdk.Annotations.of(scope).add_warning_v2(
            f"llm:unknown-engine-flag:{key}", f"{label}: {key}: {why}; check the name")
    backend, version = spec.backend, spec.backend_version
    engine = backend.engine(version) if backend is not None and version is not None else None
    if backend is not None and engine is not None and engine.assumed_from is not None:
        cdk.Annotations.of(scope).add_warning_v2(
            "llm:engine-options-assumed",
            f"{label}: no source gives the options of {backend.name} {engine.version}; "
            f"its settings were checked against {engine.assumed_from}'s "
            "(config/data/engine_options.json)")
    return container_environment(spec)


def _given(spec: ModelSpec, key: str, value: str) -> str:
    return f"secrets.{key}" if key in spec.secrets else f"environment.{key}={value!r}"


# -- image and artifacts ---------------------------------------------------------------------
def models_of(ep: Endpoint) -> list[tuple[str, ModelSpec]]:
    """(construct-id prefix, model) of each container: the endpoint's one, or one per
    inference component (on the endpoint's instance type)."""
    if not ep.is_components:
        return [("", ep)]
    return [(component_prefix(c), ep.component_view(c)) for c in ep.components or []]


def _construct_prefix(letter: str, name: str) -> str:
    """A construct-id prefix from a config name: ``C`` + ``naver-news`` -> ``CNaverNews``."""
    return f"{letter}{name.title().replace('-', '')}"


def component_prefix(c: Component) -> str:
    """Construct-id prefix of an inference component: ``naver-news`` -> ``CNaverNews``."""
    return _construct_prefix("C", c.name)


def adapter_prefix(a: Adapter) -> str:
    """Construct-id prefix of a LoRA adapter: ``naver-news`` -> ``ANaverNews``."""
    return _construct_prefix("A", a.name)


def add_adapters(stack: cdk.Stack, role: SageMakerExecutionRole, base: InferenceComponent,
                 c: Component, endpoint_name: str) -> None:
    """Each adapter of ``c`` on its component ``base``: the role reads exactly its archive
    (and decrypts with exactly its key); an output names the component to invoke."""
    for a in c.adapters:
        prefix = adapter_prefix(a)
        role.add_model_data(a.artifact)
        if a.kms_key_arn:
            role.add_to_policy(iam.PolicyStatement(
                sid=f"DecryptAdapter{prefix}", actions=["kms:Decrypt"],
                resources=[a.kms_key_arn]))
        adapter = base.add_adapter(prefix, component_name=f"{endpoint_name}-{a.name}",
                                   artifact_url=a.artifact)
        cdk.CfnOutput(stack, f"{prefix}ComponentName", value=adapter.component_name,
                      description=f"InferenceComponentName of adapter {a.name!r} on "
                                  f"{c.name!r} (invoke with it)")


def bind_image(stack: cdk.Stack, spec: ModelSpec, prefix: str = "") -> BoundImage:
    """(image URI, ECR repository ARNs to pull from) for a model's image. ``prefix`` keeps
    construct ids apart when one stack has several models (inference components)."""
    img = spec.image
    dlc = spec.dlc_image()  # TGI, vLLM, SGLang, LMI, PyTorch: the published DLC table
    if dlc is not None:
        bound = dlc.bind(stack)
        return bound.image_uri, [bound.repository_arn]
    if isinstance(img, BuildImage):
        # Built and pushed by `cdk deploy` into the bootstrap's asset repository; synth only
        # copies the folder. SageMaker runs linux/amd64 images, also when built on ARM.
        asset = ecr_assets.DockerImageAsset(stack, f"{prefix}ImageAsset",
                                            directory=str(project_path(img.build)),
                                            platform=ecr_assets.Platform.LINUX_AMD64)
        return asset.image_uri, [asset.repository.repository_arn]
    if isinstance(img, UriImage):
        return img.uri, [_pinned_repository(stack, img, prefix)]
    return None, []  # model package: SageMaker pulls the package's image itself


def _pinned_repository(stack: cdk.Stack, img: UriImage, prefix: str) -> str:
    """The repository ARN of your image; an environment-agnostic stack fails its change set
    at once, with the reason, in any other region."""
    parts = img.parts
    partition = partition_of(parts["region"]).name
    if cdk.Token.is_unresolved(stack.region):
        cdk.CfnRule(stack, f"{prefix}ImageRegion", assertions=[cdk.CfnRuleAssertion(
            assert_=cdk.Fn.condition_equals(cdk.Aws.REGION, parts["region"]),
            assert_description=f"the image {img.uri} is in {parts['region']}; SageMaker pulls "
                               "images from the endpoint's own region")])
    return (f"arn:{partition}:ecr:{parts['region']}:{parts['account']}:"
            f"repository/{parts['repository']}")


def arn_rules(stack: cdk.Stack, ep: Endpoint) -> None:
    """An environment-agnostic stack fails its change set at once, with the reason, in a
    region or partition other than its ARNs' (a fixed region is checked in config)."""
    if not cdk.Token.is_unresolved(stack.region):
        return
    for field, arn in arns_of(ep):
        where = arn.region or arn.partition
        pseudo = cdk.Aws.REGION if arn.region else cdk.Aws.PARTITION
        cdk.CfnRule(stack, f"ArnIn{logical_id_part(field)}", assertions=[cdk.CfnRuleAssertion(
            assert_=cdk.Fn.condition_equals(pseudo, where),
            assert_description=f"{field} {arn} is in {where}; deploy this stack there or "
                               "name a resource of the stack's own "
                               f"{'region' if arn.region else 'partition'}")])


def model_data(scope: Construct, role: SageMakerExecutionRole, prefix: str,
               spec: ModelSpec) -> ModelData | None:
    """The model's artifacts, and the role's read of exactly them."""
    if isinstance(spec.image, PytorchImage) and spec.image.code is not None:
        # The handler, packed as code/inference.py: the whole model archive for a Hub
        # model (the toolkit downloads the weights, then imports /opt/ml/model/code).
        code = InferenceCode(scope, f"{prefix}InferenceCode",
                             directory=project_path(spec.image.code))
        role.add_to_policy(iam.PolicyStatement(
            sid=f"ReadInferenceCode{prefix}", actions=["s3:GetObject"],
            resources=[code.object_arn]))
        return ModelData(code.s3_uri)
    if spec.source is None or isinstance(spec.source, HubSource):
        return None
    role.add_model_data(spec.source.s3)
    if spec.source.kms_key_arn:
        role.add_to_policy(iam.PolicyStatement(
            sid=f"DecryptModelData{prefix}", actions=["kms:Decrypt"],
            resources=[spec.source.kms_key_arn]))
    return ModelData(spec.source.s3)


# -- asynchronous inference ------------------------------------------------------------------
def _days(days: int | None) -> cdk.Duration | None:
    return cdk.Duration.days(days) if days else None


def async_storage(scope: Construct, ep: Endpoint, key: kms.IKey | None,
                  policy: cdk.RemovalPolicy) -> AsyncInferenceStorage:
    a = ep.async_settings
    return AsyncInferenceStorage(
        scope, "Async",
        input_prefix=facts.key_prefix(a.input_path), output_prefix=facts.key_prefix(a.output_path),
        failure_prefix=facts.key_prefix(a.failure_path), existing_bucket_name=a.existing_bucket,
        encryption_key=key, expire_after=_days(a.expire_after_days),
        notifications=a.notifications, removal_policy=policy)


def async_output(ep: Endpoint, storage: AsyncInferenceStorage) -> AsyncOutput:
    """The endpoint's AsyncInferenceConfig: where results go, who is notified."""
    a = ep.async_settings
    return AsyncOutput(
        output_path=storage.output_path, failure_path=storage.failure_path,
        max_concurrent_invocations_per_instance=a.max_concurrent_invocations_per_instance,
        success_topic_arn=storage.success_topic.topic_arn if storage.success_topic else None,
        error_topic_arn=storage.error_topic.topic_arn if storage.error_topic else None,
        include_inference_response_in=tuple(a.include_inference_response_in),
        kms_key_arn=storage.key.key_arn)


def async_runtime(scope: Construct, ep: Endpoint, llm: LlmEndpoint,
                  storage: AsyncInferenceStorage, key: kms.IKey | None,
                  alarm_topic: sns.ITopic | None, policy: cdk.RemovalPolicy) -> AsyncJobRuntime:
    a = ep.async_settings
    return AsyncJobRuntime(
        scope, "Runtime", endpoint=llm, storage=storage,
        failed_prefix=facts.key_prefix(a.failed_requests_path),
        max_receive_count=a.max_receive_count, invoker_max_concurrency=a.invoker_max_concurrency,
        ledger_ttl=_days(a.expire_after_days), table_key=key, alarm_topic=alarm_topic,
        removal_policy=policy)


# -- data capture ----------------------------------------------------------------------------
def data_capture(scope: Construct, ep: Endpoint, key: kms.IKey | None,
                 policy: cdk.RemovalPolicy) -> tuple[DataCapture | None, DataCaptureBucket | None]:
    """Where the endpoint's captures go: a prefix of the capture bucket the stack creates
    (encrypted with the config's key), or your s3:// URI (with your key, if given)."""
    dc = ep.data_capture
    if dc is None:
        return None, None
    storage: DataCaptureBucket | None = None
    bucket: s3.IBucket
    capture_key: kms.IKey | None
    if dc.own_bucket:
        storage = DataCaptureBucket(scope, "Capture", encryption_key=key,
                                    expire_after=_days(dc.expire_after_days),
                                    removal_policy=policy)
        bucket, prefix, capture_key = storage.bucket, dc.destination, storage.key
    else:
        bucket_name, prefix = parse_s3_uri(dc.destination)
        bucket = s3.Bucket.from_bucket_name(scope, "CaptureBucket", bucket_name)
        capture_key = (kms.Key.from_key_arn(scope, "CaptureKey", dc.kms_key_arn)
                       if dc.kms_key_arn else None)
    return DataCapture(
        bucket=bucket, prefix=prefix, sampling_percentage=dc.sampling_percentage,
        modes=tuple(dc.capture_modes), enabled=dc.enabled, encryption_key=capture_key,
        json_content_types=tuple(dc.json_content_types),
        csv_content_types=tuple(dc.csv_content_types),
        # The execution role decrypts with the config's key already (its kms_keys).
        key_decrypt=capture_key is not key), storage


# -- the endpoint ----------------------------------------------------------------------------
def serverless_compute(ep: Endpoint) -> ServerlessCompute | None:
    if not ep.is_serverless:
        return None
    settings = ep.serverless or Serverless()  # the model's defaults, not typed again
    return ServerlessCompute(memory_size_mb=settings.memory_size_mb,
                             max_concurrency=settings.max_concurrency,
                             provisioned_concurrency=settings.provisioned_concurrency)


def variant_capacity(ep: Endpoint) -> VariantCapacity | None:
    """Routing, fallback types, reservation and provision timeout (None: none set)."""
    routing, timeout = ep.routing, ep.instance_provision_timeout_seconds
    if ep.is_serverless or not (routing or ep.fallback_instance_types or timeout
                                or ep.capacity_reservation):
        return None
    return VariantCapacity(
        routing=VariantRouting(strategy=routing.api_strategy,
                               prefix_length=routing.prefix_length,
                               concurrency_threshold=routing.concurrency_threshold)
        if routing else None,
        fallback_instance_types=tuple(ep.fallback_instance_types),
        reservation_arn=ep.capacity_reservation.arn if ep.capacity_reservation else None,
        provision_timeout=cdk.Duration.seconds(timeout) if timeout else None)


def scale_in(ep: Endpoint) -> ScaleInPolicy | None:
    policy = ep.instance_scaling.scale_in if ep.instance_scaling else None
    if policy is None:
        return None
    return ScaleInPolicy(strategy=policy.api_strategy, max_step_size=policy.max_step_size,
                         cooldown_minutes=policy.cooldown_minutes)


def model_timeouts(spec: ModelSpec) -> tuple[cdk.Duration, cdk.Duration]:
    """(start-up health check, artifact download) timeouts of a container."""
    return (cdk.Duration.seconds(spec.container_startup_health_check_timeout_seconds),
            cdk.Duration.seconds(spec.model_data_download_timeout_seconds))


def add_autoscaling(llm: LlmEndpoint, ep: Endpoint) -> None:
    """Async: target tracking on the backlog (and scale from zero); real-time: on
    invocations per instance."""
    sc: Autoscaling | None = ep.autoscaling
    if sc is None:
        return
    cooldowns = {"scale_in_cooldown": cdk.Duration.seconds(sc.scale_in_cooldown_seconds),
                 "scale_out_cooldown": cdk.Duration.seconds(sc.scale_out_cooldown_seconds)}
    if ep.is_async:
        scaling = llm.add_backlog_autoscaling(
            min_capacity=sc.min_capacity, max_capacity=sc.max_capacity,
            target_backlog_per_instance=sc.backlog_target, **cooldowns,
            scale_from_zero_cooldown=cdk.Duration.seconds(sc.scale_from_zero_cooldown_seconds))
    else:
        scaling = llm.add_invocation_autoscaling(
            min_capacity=sc.min_capacity, max_capacity=sc.max_capacity,
            target_invocations_per_instance=sc.invocations_target, **cooldowns)
    add_schedules(scaling, sc.schedules)


def add_schedules(scaling: VariantAutoScaling, schedules: list[Schedule]) -> None:
    for s in schedules:
        scaling.scale_on_schedule(
            s.name, schedule=appscaling.Schedule.expression(schedule_expression(s.cron)),
            time_zone=s.timezone, min_capacity=s.min_capacity, max_capacity=s.max_capacity)


def add_copy_autoscaling(component: InferenceComponent, a: ComponentAutoscaling | None) -> None:
    if a is None:
        return
    component.add_copy_autoscaling(
        min_copies=a.min_copies, max_copies=a.max_copies,
        target_concurrent_requests_per_copy=a.target_concurrent_requests_per_copy,
        scale_in_cooldown=cdk.Duration.seconds(a.scale_in_cooldown_seconds),
        scale_out_cooldown=cdk.Duration.seconds(a.scale_out_cooldown_seconds),
        scale_from_zero_cooldown=cdk.Duration.seconds(a.scale_from_zero_cooldown_seconds))
    for s in a.schedules:
        component.scale_copies_on_schedule(
            s.name, schedule=appscaling.Schedule.expression(schedule_expression(s.cron)),
            time_zone=cdk.TimeZone.of(s.timezone), min_copies=s.min_copies,
            max_copies=s.max_copies)


def idle_instances_warning(scope: Construct, ep: Endpoint) -> None:
    """Copies at zero save money only when the instances may go too: managed instance
    scaling keeps ``instance_scaling.min_instances`` even with no copy on them. With every
    component able to reach 0 copies (``min_copies: 0``, which schedules at 0 need) and a
    minimum above 0, the idle endpoint still bills those instances. A warning, not an
    error: a warm instance shortens the first request's wait (no instance to launch)."""
    kept = ep.managed_scaling.min_instances
    components = ep.components or []
    if components and kept > 0 and all(c.min_copies == 0 for c in components):
        cdk.Annotations.of(scope).add_warning_v2(
            "llm:idle-instances",
            f"{ep.name}: every component can scale to 0 copies, but instance_scaling."
            f"min_instances is {kept}: with no copy, {kept} instance(s) of {ep.instance_type}"
            " stay and bill; set min_instances: 0 for the endpoint to scale to zero")


def add_rolling_updates(endpoint: ComponentEndpoint, ep: Endpoint,
                        monitoring: EndpointMonitoring | ComponentMonitoring | None) -> None:
    """Each component's ``rolling_update``; auto-rollback watches that component's own
    alarms (the rules require alarms for it)."""
    if not isinstance(monitoring, ComponentMonitoring):
        monitoring = None
    for c in ep.components or []:
        r, prefix = c.rolling_update, component_prefix(c)
        if r is None:
            continue
        alarms = (list(monitoring.component_alarms[prefix].values())
                  if r.auto_rollback and monitoring is not None else [])
        timeout = r.maximum_execution_timeout_seconds
        endpoint.components[prefix].use_rolling_update(
            batch_size=r.batch_size, unit=r.capacity_type,
            wait_interval=cdk.Duration.seconds(r.wait_interval_seconds),
            maximum_execution_timeout=cdk.Duration.seconds(timeout) if timeout else None,
            rollback_batch_size=r.rollback_batch_size, rollback_alarms=alarms)


def blue_green(g: Guardrails, monitoring: EndpointMonitoring | None) -> BlueGreenDeployment:
    """Guardrails -> the endpoint's blue/green policy; auto-rollback watches the stack's
    5XX and latency alarms (the rules require alarms for it)."""
    rollback = ([monitoring.alarms[a].alarm_name
                 for a in ("Invocation5XXErrors", "ModelLatencyP90")]
                if g.auto_rollback and monitoring is not None else [])
    step = {"canary": g.canary_size_percent, "linear": g.linear_step_percent}.get(g.strategy)
    timeout = g.maximum_execution_timeout_seconds
    return BlueGreenDeployment(
        traffic=g.strategy.upper(), step_percent=step,
        wait_interval=cdk.Duration.seconds(g.wait_interval_seconds),
        termination_wait=cdk.Duration.seconds(g.termination_wait_seconds),
        maximum_execution_timeout=cdk.Duration.seconds(timeout) if timeout else None,
        rollback_alarm_names=tuple(rollback))


# -- monitoring and outputs ------------------------------------------------------------------
def alarm_topic(scope: Construct, alarms: Alarms) -> sns.ITopic | None:
    if alarms.enabled and alarms.topic_arn:
        return sns.Topic.from_topic_arn(scope, "AlarmTopic", alarms.topic_arn)
    return None


def monitoring(scope: Construct, endpoint: LlmEndpoint | ComponentEndpoint, alarms: Alarms,
               topic: sns.ITopic | None,
               name: str) -> EndpointMonitoring | ComponentMonitoring | None:
    """Alarms and dashboard: of the endpoint, or per inference component."""
    if not alarms.enabled:
        return None
    if isinstance(endpoint, ComponentEndpoint):
        return ComponentMonitoring(
            scope, "Monitoring", endpoint=endpoint, alarm_topic=topic,
            period=cdk.Duration.seconds(alarms.period_seconds),
            invocation_5xx_errors=alarms.invocation_5xx_errors,
            model_latency_p90=cdk.Duration.millis(alarms.model_latency_p90_ms),
            dashboard_name=name)
    return EndpointMonitoring(
        scope, "Monitoring", endpoint=endpoint, alarm_topic=topic,
        period=cdk.Duration.seconds(alarms.period_seconds),
        max_age_of_oldest_request=cdk.Duration.seconds(alarms.max_age_of_oldest_request_seconds),
        invocation_failures=alarms.invocation_failures,
        invocation_5xx_errors=alarms.invocation_5xx_errors,
        model_latency_p90=cdk.Duration.millis(alarms.model_latency_p90_ms),
        dashboard_name=name)


def add_outputs(stack: cdk.Stack, ep: Endpoint, endpoint: LlmEndpoint | ComponentEndpoint,
                role: SageMakerExecutionRole, storage: AsyncInferenceStorage | None,
                runtime: AsyncJobRuntime | None) -> None:
    """What clients and operators look up: names, ARNs, the async locations."""
    cdk.CfnOutput(stack, "EndpointName", value=endpoint.endpoint_name,
                  description="SageMaker endpoint name (InvokeEndpoint EndpointName)")
    cdk.CfnOutput(stack, "EndpointArn", value=endpoint.endpoint_arn)
    cdk.CfnOutput(stack, "ExecutionRoleArn", value=role.role_arn)
    cdk.CfnOutput(stack, "Mode", value=ep.mode)
    if storage is not None:
        _storage_outputs(stack, storage)
    if runtime is not None:
        _runtime_outputs(stack, runtime)


def _storage_outputs(stack: cdk.Stack, st: AsyncInferenceStorage) -> None:
    cdk.CfnOutput(stack, "AsyncBucket", value=st.bucket.bucket_name)
    cdk.CfnOutput(stack, "InputLocation", value=st.input_path,
                  description="Upload requests here; InvokeEndpointAsync InputLocation")
    cdk.CfnOutput(stack, "OutputPath", value=st.output_path)
    cdk.CfnOutput(stack, "FailurePath", value=st.failure_path)
    cdk.CfnOutput(stack, "AsyncKeyArn", value=st.key.key_arn)
    if st.success_topic is not None and st.error_topic is not None:
        cdk.CfnOutput(stack, "SuccessTopicArn", value=st.success_topic.topic_arn)
        cdk.CfnOutput(stack, "ErrorTopicArn", value=st.error_topic.topic_arn)


def _runtime_outputs(stack: cdk.Stack, rt: AsyncJobRuntime) -> None:
    cdk.CfnOutput(stack, "JobTableName", value=rt.table.table_name,
                  description="The job ledger (DynamoDB), keyed by inference id")
    cdk.CfnOutput(stack, "FailedRequestsPath",
                  value=rt.storage.bucket.s3_url_for_object(rt.failed_prefix))
    cdk.CfnOutput(stack, "RequestsQueueUrl", value=rt.requests_queue.queue_url)
    cdk.CfnOutput(stack, "RequestsDlqUrl", value=rt.requests_dlq.queue_url)
    cdk.CfnOutput(stack, "ResultsDlqUrl", value=rt.results_dlq.queue_url)
