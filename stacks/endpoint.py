"""One stack per model endpoint: its security group, role, model, endpoint, scaling."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from config import AppConfig, Endpoint, backends
from config.schema import (BuildImage, Component, HubSource, InstanceScaling, ModelPackageImage,
                           ModelSpec, PytorchImage, UriImage, key_prefix,
                           project_path)
from llm_constructs import (AsyncInferenceStorage, AsyncJobRuntime, AsyncOutput,
                            BlueGreenDeployment, ComponentEndpoint, EndpointMonitoring,
                            InferenceCode, LlmEndpoint, ModelData, SageMakerExecutionRole,
                            ServerlessCompute)
from llm_constructs.nag import acknowledge

from .network import NetworkStack, removal_policy


def serving_environment(ep: ModelSpec) -> dict[str, str]:
    """vLLM, SGLang, LMI: the variables the ``serving`` block gives the backend, the model
    (Hub id, or /opt/ml/model for S3 artifacts) and the gated-model token."""
    assert ep.backend is not None and ep.backend != "tgi"
    model = (ep.source.hub if isinstance(ep.source, HubSource)
             else "/opt/ml/model" if ep.source is not None else None)
    env = backends.environment(ep.backend, ep.serving, model=model, gpus=ep.num_gpus)
    if isinstance(ep.source, HubSource) and ep.source.token_secret:
        env["HF_TOKEN"] = cdk.SecretValue.secrets_manager(
            ep.source.token_secret, json_field=ep.source.token_secret_key).unsafe_unwrap()
    elif ep.source is not None and not isinstance(ep.source, HubSource):
        env["HF_HUB_OFFLINE"] = "1"
    return env


def environment_overrides(ep: ModelSpec) -> dict[str, tuple[str, str]]:
    """``environment`` keys that replace a value derived from config: key -> (derived,
    given). The raw map wins (backend-specific extras stay possible); the stack warns."""
    derived = container_environment(ep.model_copy(update={"environment": {}}))
    return {k: (derived[k], v) for k, v in sorted(ep.environment.items())
            if k in derived and derived[k] != v}


def container_environment(ep: ModelSpec) -> dict[str, str]:
    """The container's environment. TGI: model location, GPUs, typed settings, then the
    user's extras. Other images: the model id of a Hub source and the user's extras.
    A gated model's token is a deploy-time Secrets Manager reference, never a literal."""
    if ep.backend not in (None, "tgi"):
        return {**serving_environment(ep), **ep.environment}
    env: dict[str, str] = {}
    if isinstance(ep.source, HubSource):
        env["HF_MODEL_ID"] = ep.source.hub
        if ep.source.token_secret:
            token = cdk.SecretValue.secrets_manager(
                ep.source.token_secret, json_field=ep.source.token_secret_key).unsafe_unwrap()
            env["HF_TOKEN"] = token
            if ep.is_pytorch:
                # The Hugging Face inference toolkit passes HF_API_TOKEN to the Hub download.
                env["HF_API_TOKEN"] = token
    elif ep.source is not None and ep.is_tgi:
        # SageMaker puts S3 artifacts in /opt/ml/model; TGI loads a local path given as the
        # model id, and must not try the Hub.
        env["HF_MODEL_ID"] = "/opt/ml/model"
        env["HF_HUB_OFFLINE"] = "1"
    if ep.is_tgi:
        env["SM_NUM_GPUS"] = str(ep.num_gpus)
        env.update(tgi_settings_environment(ep))
        if ep.serving is not None:
            env.update(backends.environment("tgi", ep.serving, model=None, gpus=ep.num_gpus))
    env.update(ep.environment)
    return env


def tgi_settings_environment(ep: ModelSpec) -> dict[str, str]:
    t = ep.tgi_settings
    if t is None:
        return {}
    version = ep.image.version  # type: ignore[union-attr]
    env = {}
    if t.max_input_tokens is not None:
        # TGI 2.0 renamed --max-input-length to --max-input-tokens.
        env["MAX_INPUT_TOKENS" if version >= (2, 0) else "MAX_INPUT_LENGTH"] = str(
            t.max_input_tokens)
    if t.max_total_tokens is not None:
        env["MAX_TOTAL_TOKENS"] = str(t.max_total_tokens)
    if t.max_batch_prefill_tokens is not None:
        env["MAX_BATCH_PREFILL_TOKENS"] = str(t.max_batch_prefill_tokens)
    if t.quantize is not None:
        env["QUANTIZE"] = t.quantize
    if t.messages_api_enabled is not None:
        env["MESSAGES_API_ENABLED"] = "true" if t.messages_api_enabled else "false"
    return env


def bind_image(stack: cdk.Stack, ep: ModelSpec, prefix: str = "") -> tuple[str | None, list[str]]:
    """(image URI, ECR repository ARNs to pull from) for a model's image. ``prefix`` keeps
    construct ids apart when one stack has several models (inference components)."""
    img = ep.image
    dlc = ep.dlc_image()  # TGI, vLLM, SGLang, LMI, PyTorch: the published DLC table
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
        m = img.parts
        partition = RegionInfo.get(m["region"]).partition or "aws"
        if cdk.Token.is_unresolved(stack.region):
            # Fail the change set at once, with the reason, in any other region.
            cdk.CfnRule(stack, f"{prefix}ImageRegion", assertions=[cdk.CfnRuleAssertion(
                assert_=cdk.Fn.condition_equals(cdk.Aws.REGION, m["region"]),
                assert_description=f"the image {img.uri} is in {m['region']}; SageMaker pulls "
                                   "images from the endpoint's own region")])
        return img.uri, [f"arn:{partition}:ecr:{m['region']}:{m['account']}:"
                         f"repository/{m['repository']}"]
    return None, []  # model package: SageMaker pulls the package's image itself


def component_prefix(c: Component) -> str:
    """Construct-id prefix of an inference component: ``naver-news`` -> ``CNaverNews``."""
    return f"C{c.name.title().replace('-', '')}"


class ModelEndpointStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, config: AppConfig, endpoint: Endpoint,
                 network: NetworkStack, **kwargs: Any) -> None:
        super().__init__(scope, id, description=f"{config.project}: SageMaker endpoint "
                                                f"{endpoint.name!r}", **kwargs)
        ep = endpoint
        name = config.endpoint_name_of(ep)

        in_vpc = not ep.is_serverless  # SageMaker takes no VpcConfig for serverless
        self.security_group: ec2.SecurityGroup | None = None
        subnets: list = []
        if in_vpc:
            # In this stack, not the network stack: removing an endpoint from config then
            # removes its security group with it, and no export pins it.
            self.security_group = ec2.SecurityGroup(
                self, "ModelSg", vpc=network.vpc, allow_all_outbound=False,
                description=f"SageMaker model {name}: no ingress, HTTPS out only")
            self.security_group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
                "HTTPS to S3 (gateway endpoint), AWS APIs and, with egress, the model hub")
            subnets = network.vpc.select_subnets(
                subnet_type=network.network.model_subnet_type).subnets

        # One container for most modes; one per component for mode: components.
        models: list[tuple[str, ModelSpec]] = (
            [(component_prefix(c), ep.component_view(c))
             for c in ep.components or []] if ep.is_components else [("", ep)])
        bound = {prefix: bind_image(self, m, prefix) for prefix, m in models}
        self.execution_role = SageMakerExecutionRole(
            self, "ExecutionRole",
            ecr_repository_arns=sorted({arn for _, arns in bound.values() for arn in arns}),
            endpoint_names=[name],
            vpc=network.vpc if in_vpc else None, subnets=subnets,
            security_groups=[self.security_group] if self.security_group else [],
            kms_keys=[network.key] if network.key else [],
            description=f"Execution role of SageMaker model {name}",
        )
        model_data = {prefix: self._model_data(prefix, m) for prefix, m in models}
        subnet_ids = [s.subnet_id for s in subnets] or None
        sg_ids = [self.security_group.security_group_id] if self.security_group else None

        if ep.is_components:
            self._components(config, ep, name, bound, model_data, subnet_ids, sg_ids, network)
            return
        image_uri, _ = bound[""]
        model_data = model_data[""]

        self.storage: AsyncInferenceStorage | None = None
        async_output = None
        if ep.is_async:
            a = ep.async_settings
            self.storage = AsyncInferenceStorage(
                self, "Async",
                input_prefix=key_prefix(a.input_path), output_prefix=key_prefix(a.output_path),
                failure_prefix=key_prefix(a.failure_path), existing_bucket_name=a.existing_bucket,
                encryption_key=network.key,
                expire_after=cdk.Duration.days(a.expire_after_days) if a.expire_after_days
                else None,
                notifications=a.notifications, removal_policy=removal_policy(config))
            role = self.execution_role.role
            self.storage.grant_read_requests(role)
            self.storage.grant_write_results(role)
            self.storage.grant_publish(role)
            for prefix, why in ((self.storage.input_prefix, "read the async requests"),
                                (self.storage.output_prefix, "write async results"),
                                (self.storage.failure_prefix, "write async failures")):
                self.execution_role.allow_wildcard(
                    self.storage.bucket.arn_for_objects(f"{prefix}*"),
                    f"objects under one prefix of the endpoint's async bucket, to {why}; "
                    "their keys are generated per request")
            async_output = AsyncOutput(
                output_path=self.storage.output_path, failure_path=self.storage.failure_path,
                max_concurrent_invocations_per_instance=a.max_concurrent_invocations_per_instance,
                success_topic_arn=self.storage.success_topic.topic_arn
                if self.storage.success_topic else None,
                error_topic_arn=self.storage.error_topic.topic_arn
                if self.storage.error_topic else None,
                include_inference_response_in=tuple(a.include_inference_response_in),
                kms_key_arn=self.storage.key.key_arn)

        sv = ep.serverless
        self.llm = LlmEndpoint(
            self, "Llm",
            execution_role=self.execution_role,
            image_uri=image_uri,
            model_package_name=ep.image.model_package
            if isinstance(ep.image, ModelPackageImage) else None,
            instance_type=ep.instance_type,
            environment=None if ep.is_model_package else self._environment(ep, name),
            model_data=model_data,
            subnet_ids=subnet_ids,
            security_group_ids=sg_ids,
            serverless=ServerlessCompute(
                memory_size_mb=(sv.memory_size_mb if sv else 2048),
                max_concurrency=(sv.max_concurrency if sv else 5),
                provisioned_concurrency=sv.provisioned_concurrency if sv else None)
            if ep.is_serverless else None,
            endpoint_name=name,
            initial_instance_count=ep.initial_instance_count,
            network_isolation=ep.network_isolation,
            container_startup_health_check_timeout=cdk.Duration.seconds(
                ep.container_startup_health_check_timeout_seconds),
            model_data_download_timeout=cdk.Duration.seconds(
                ep.model_data_download_timeout_seconds),
            volume_size_gb=ep.volume_size_gb,
            volume_kms_key=network.key,
            async_output=async_output,
        )
        sc = ep.autoscaling
        if sc is not None and ep.is_async:
            self.llm.add_backlog_autoscaling(
                min_capacity=sc.min_capacity, max_capacity=sc.max_capacity,
                target_backlog_per_instance=sc.backlog_target,
                scale_in_cooldown=cdk.Duration.seconds(sc.scale_in_cooldown_seconds),
                scale_out_cooldown=cdk.Duration.seconds(sc.scale_out_cooldown_seconds),
                scale_from_zero_cooldown=cdk.Duration.seconds(
                    sc.scale_from_zero_cooldown_seconds))
        elif sc is not None:
            self.llm.add_invocation_autoscaling(
                min_capacity=sc.min_capacity, max_capacity=sc.max_capacity,
                target_invocations_per_instance=sc.invocations_target,
                scale_in_cooldown=cdk.Duration.seconds(sc.scale_in_cooldown_seconds),
                scale_out_cooldown=cdk.Duration.seconds(sc.scale_out_cooldown_seconds))

        al = ep.alarms
        alarm_topic = (sns.Topic.from_topic_arn(self, "AlarmTopic", al.topic_arn)
                       if al.enabled and al.topic_arn else None)
        self.runtime: AsyncJobRuntime | None = None
        if self.storage is not None and ep.async_settings.runtime:
            a = ep.async_settings
            self.runtime = AsyncJobRuntime(
                self, "Runtime", endpoint=self.llm, storage=self.storage,
                failed_prefix=key_prefix(a.failed_requests_path),
                max_receive_count=a.max_receive_count,
                invoker_max_concurrency=a.invoker_max_concurrency,
                ledger_ttl=cdk.Duration.days(a.expire_after_days) if a.expire_after_days
                else None,
                table_key=network.key, alarm_topic=alarm_topic,
                removal_policy=removal_policy(config))

        for i, arn in enumerate(ep.invoke_principals):
            invoker = iam.Role.from_role_arn(self, f"Invoker{i}", arn)
            self.llm.grant_invoke(invoker)
            if self.storage is not None:
                self.storage.grant_submit(invoker)
                self.storage.grant_read_results(invoker)
                st = self.storage
                for prefix in (st.input_prefix, st.output_prefix, st.failure_prefix):
                    acknowledge(invoker, "AwsSolutions-IAM5",
                                "a client submits requests under, and reads results from, "
                                "one prefix each of the endpoint's async bucket; keys are "
                                "per request", resource=st.bucket.arn_for_objects(f"{prefix}*"))
            if self.runtime is not None:
                self.runtime.grant_read_jobs(invoker)
                acknowledge(invoker, "AwsSolutions-IAM5",
                            "llm_client waits on a temporary queue it creates per job, named "
                            "after the endpoint; scoped to that name prefix",
                            resource=self.runtime.grant_wait(invoker))
                for topic in st.topics:
                    acknowledge(invoker, "AwsSolutions-IAM5",
                                "llm_client removes the subscriptions it made to this topic; "
                                "their ARNs end in an id SNS generates",
                                resource=f"{topic.topic_arn}:*")

        if al.enabled:
            self.monitoring = EndpointMonitoring(
                self, "Monitoring", endpoint=self.llm, alarm_topic=alarm_topic,
                period=cdk.Duration.seconds(al.period_seconds),
                max_age_of_oldest_request=cdk.Duration.seconds(
                    al.max_age_of_oldest_request_seconds),
                invocation_failures=al.invocation_failures,
                invocation_5xx_errors=al.invocation_5xx_errors,
                model_latency_p90=cdk.Duration.millis(al.model_latency_p90_ms),
                dashboard_name=name)
        g = ep.guardrails
        if g is not None:
            rollback = ([self.monitoring.alarms[a].alarm_name
                         for a in ("Invocation5XXErrors", "ModelLatencyP90")]
                        if g.auto_rollback else [])
            self.llm.use_blue_green(BlueGreenDeployment(
                traffic=g.strategy.upper(),
                step_percent=g.canary_size_percent if g.strategy == "canary"
                else g.linear_step_percent if g.strategy == "linear" else None,
                wait_interval=cdk.Duration.seconds(g.wait_interval_seconds),
                termination_wait=cdk.Duration.seconds(g.termination_wait_seconds),
                maximum_execution_timeout=cdk.Duration.seconds(
                    g.maximum_execution_timeout_seconds)
                if g.maximum_execution_timeout_seconds else None,
                rollback_alarm_names=tuple(rollback)))

        cdk.CfnOutput(self, "EndpointName", value=self.llm.endpoint_name,
                      description="SageMaker endpoint name (InvokeEndpoint EndpointName)")
        cdk.CfnOutput(self, "EndpointArn", value=self.llm.endpoint_arn)
        cdk.CfnOutput(self, "ExecutionRoleArn", value=self.execution_role.role_arn)
        cdk.CfnOutput(self, "Mode", value=ep.mode)
        if self.storage is not None:
            st = self.storage
            cdk.CfnOutput(self, "AsyncBucket", value=st.bucket.bucket_name)
            cdk.CfnOutput(self, "InputLocation", value=st.input_path,
                          description="Upload requests here; InvokeEndpointAsync InputLocation")
            cdk.CfnOutput(self, "OutputPath", value=st.output_path)
            cdk.CfnOutput(self, "FailurePath", value=st.failure_path)
            cdk.CfnOutput(self, "AsyncKeyArn", value=st.key.key_arn)
            if st.success_topic is not None and st.error_topic is not None:
                cdk.CfnOutput(self, "SuccessTopicArn", value=st.success_topic.topic_arn)
                cdk.CfnOutput(self, "ErrorTopicArn", value=st.error_topic.topic_arn)
        if self.runtime is not None:
            rt = self.runtime
            cdk.CfnOutput(self, "JobTableName", value=rt.table.table_name,
                          description="The job ledger (DynamoDB), keyed by inference id")
            cdk.CfnOutput(self, "FailedRequestsPath", value=self.storage.bucket.s3_url_for_object(
                rt.failed_prefix))
            cdk.CfnOutput(self, "RequestsQueueUrl", value=rt.requests_queue.queue_url)
            cdk.CfnOutput(self, "RequestsDlqUrl", value=rt.requests_dlq.queue_url)
            cdk.CfnOutput(self, "ResultsDlqUrl", value=rt.results_dlq.queue_url)

    def _environment(self, m: ModelSpec, label: str) -> dict[str, str]:
        """The container's environment, with a synth warning per value the raw
        ``environment`` map overrides."""
        for key, (derived, given) in environment_overrides(m).items():
            cdk.Annotations.of(self).add_warning_v2(
                f"llm:environment-override:{key}",
                f"{label}: environment.{key}={given!r} overrides {derived!r}, which the "
                "config derives (serving, source); the raw value wins")
        return container_environment(m)

    def _model_data(self, prefix: str, m: ModelSpec) -> ModelData | None:
        """The model's artifacts, and the role's read of exactly them."""
        if isinstance(m.image, PytorchImage) and m.image.code is not None:
            # The handler, packed as code/inference.py: the whole model archive for a Hub
            # model (the toolkit downloads the weights, then imports /opt/ml/model/code).
            code = InferenceCode(self, f"{prefix}InferenceCode",
                                 directory=project_path(m.image.code))
            self.execution_role.add_to_policy(iam.PolicyStatement(
                sid=f"ReadInferenceCode{prefix}", actions=["s3:GetObject"],
                resources=[code.object_arn]))
            return ModelData(code.s3_uri)
        if m.source is None or isinstance(m.source, HubSource):
            return None
        self.execution_role.add_model_data(m.source.s3)
        if m.source.kms_key_arn:
            self.execution_role.add_to_policy(iam.PolicyStatement(
                sid=f"DecryptModelData{prefix}", actions=["kms:Decrypt"],
                resources=[m.source.kms_key_arn]))
        return ModelData(m.source.s3)

    def _components(self, config: AppConfig, ep: Endpoint, name: str,
                    bound: dict[str, tuple[str | None, list[str]]],
                    model_data: dict[str, ModelData | None], subnet_ids: list[str] | None,
                    sg_ids: list[str] | None, network: NetworkStack) -> None:
        scaling = ep.instance_scaling or InstanceScaling()
        self.endpoint = ComponentEndpoint(
            self, "Components", execution_role=self.execution_role,
            instance_type=ep.instance_type, endpoint_name=name,
            initial_instance_count=ep.initial_instance_count,
            min_instances=scaling.min_instances, max_instances=scaling.max_instances,
            subnet_ids=subnet_ids, security_group_ids=sg_ids, volume_kms_key=network.key)
        for c in ep.components or []:
            prefix = component_prefix(c)
            view = ep.component_view(c)
            ic = self.endpoint.add_component(
                prefix, component_name=f"{name}-{c.name}", image_uri=bound[prefix][0],
                environment=self._environment(view, f"{name}-{c.name}"),
                model_data=model_data[prefix], accelerators=c.accelerators,
                memory_mb=c.memory_mb, cpu_cores=c.cpu_cores, copies=c.copies,
                network_isolation=c.network_isolation,
                container_startup_health_check_timeout=cdk.Duration.seconds(
                    c.container_startup_health_check_timeout_seconds),
                model_data_download_timeout=cdk.Duration.seconds(
                    c.model_data_download_timeout_seconds))
            a = c.autoscaling
            if a is not None:
                ic.add_copy_autoscaling(
                    min_copies=a.min_copies, max_copies=a.max_copies,
                    target_concurrent_requests_per_copy=a.target_concurrent_requests_per_copy,
                    scale_in_cooldown=cdk.Duration.seconds(a.scale_in_cooldown_seconds),
                    scale_out_cooldown=cdk.Duration.seconds(a.scale_out_cooldown_seconds),
                    scale_from_zero_cooldown=cdk.Duration.seconds(
                        a.scale_from_zero_cooldown_seconds))
            cdk.CfnOutput(self, f"{prefix}ComponentName", value=ic.component_name,
                          description=f"InferenceComponentName of {c.name!r} (invoke with it)")
        for i, arn in enumerate(ep.invoke_principals):
            self.endpoint.grant_invoke(iam.Role.from_role_arn(self, f"Invoker{i}", arn))
        cdk.CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name,
                      description="SageMaker endpoint name (InvokeEndpoint EndpointName)")
        cdk.CfnOutput(self, "EndpointArn", value=self.endpoint.endpoint_arn)
        cdk.CfnOutput(self, "ExecutionRoleArn", value=self.execution_role.role_arn)
        cdk.CfnOutput(self, "Mode", value=ep.mode)
