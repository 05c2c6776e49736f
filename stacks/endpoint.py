"""One stack per model endpoint: its security group, role, model, endpoint, scaling.

The stack composes parts; what each part is made of (read from the config) is in
``stacks/translate.py``."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from config import AppConfig, Endpoint
from config.shapes import ModelPackageImage, ModelSpec
from llm_constructs import (AsyncInferenceStorage, AsyncJobRuntime, ComponentEndpoint,
                            DataCapture, DataCaptureBucket, EndpointMonitoring, LlmEndpoint,
                            ModelData, SageMakerExecutionRole)
from llm_constructs.monitoring import ComponentMonitoring

from . import translate
from .network import NetworkStack, removal_policy


class ModelEndpointStack(cdk.Stack):
    """One endpoint: placement in the VPC, execution role, images and artifacts, the
    endpoint (one model, or inference components), access, monitoring, outputs."""

    def __init__(self, scope: Construct, id: str, *, config: AppConfig, endpoint: Endpoint,
                 network: NetworkStack, **kwargs: Any) -> None:
        super().__init__(scope, id, description=f"{config.project}: SageMaker endpoint "
                                                f"{endpoint.name!r}", **kwargs)
        self.config, self.network, self.spec = config, network, endpoint
        self.endpoint_name = config.endpoint_name_of(endpoint)
        self.storage: AsyncInferenceStorage | None = None
        self.runtime: AsyncJobRuntime | None = None
        self.monitoring: EndpointMonitoring | ComponentMonitoring | None = None
        self.alarm_topic: sns.ITopic | None = None
        self.capture_bucket: DataCaptureBucket | None = None

        translate.arn_rules(self, endpoint)
        subnets = self._placement()
        models = translate.models_of(endpoint)
        images = {prefix: translate.bind_image(self, m, prefix) for prefix, m in models}
        self.execution_role = self._execution_role(images, subnets)
        artifacts = {prefix: translate.model_data(self, self.execution_role, prefix, m)
                     for prefix, m in models}
        self.endpoint: LlmEndpoint | ComponentEndpoint = (
            self._components(images, artifacts) if endpoint.is_components
            else self._single_model(images[""][0], artifacts[""]))
        self._grant_invokers()
        self._monitor()
        translate.add_outputs(self, endpoint, self.endpoint, self.execution_role,
                              self.storage, self.runtime)
        # On the stack, below the app's deployment.tags: the nearer tag wins a shared key.
        for key, value in endpoint.tags.items():
            cdk.Tags.of(self).add(key, value)

    # -- runtime: where the containers run, with which rights ---------------------------------
    def _placement(self) -> list[ec2.ISubnet]:
        """The security group and subnets of the model (none for serverless: SageMaker takes
        no VpcConfig for it)."""
        self.security_group: ec2.SecurityGroup | None = None
        if self.spec.is_serverless:
            return []
        # In this stack, not the network stack: removing an endpoint from config then
        # removes its security group with it, and no export pins it.
        self.security_group = ec2.SecurityGroup(
            self, "ModelSg", vpc=self.network.vpc, allow_all_outbound=False,
            description=f"SageMaker model {self.endpoint_name}: no ingress, HTTPS out only")
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
            "HTTPS to S3 (gateway endpoint), AWS APIs and, with egress, the model hub")
        return self.network.vpc.select_subnets(
            subnet_type=self.network.network.model_subnet_type).subnets

    def _execution_role(self, images: dict[str, translate.BoundImage],
                        subnets: list[ec2.ISubnet]) -> SageMakerExecutionRole:
        in_vpc, key = self.security_group is not None, self.network.key
        self.subnet_ids = [s.subnet_id for s in subnets] or None
        self.security_group_ids = ([self.security_group.security_group_id]
                                   if self.security_group else None)
        return SageMakerExecutionRole(
            self, "ExecutionRole",
            ecr_repository_arns=sorted({arn for _, arns in images.values() for arn in arns}),
            endpoint_names=[self.endpoint_name],
            vpc=self.network.vpc if in_vpc else None, subnets=subnets,
            security_groups=[self.security_group] if self.security_group else [],
            kms_keys=[key] if key else [],
            description=f"Execution role of SageMaker model {self.endpoint_name}")

    # -- the endpoint -------------------------------------------------------------------------
    def _single_model(self, image_uri: str | None, model_data: ModelData | None) -> LlmEndpoint:
        ep, key, policy = self.spec, self.network.key, removal_policy(self.config)
        startup, download = translate.model_timeouts(ep)
        if ep.is_async:
            self.storage = translate.async_storage(self, ep, key, policy)
            self._grant_async_storage(self.storage)
        capture, self.capture_bucket = translate.data_capture(self, ep, key, policy)
        llm = LlmEndpoint(
            self, "Llm", execution_role=self.execution_role, image_uri=image_uri,
            model_package_name=ep.image.model_package
            if isinstance(ep.image, ModelPackageImage) else None,
            instance_type=ep.instance_type,
            environment=None if ep.is_model_package else self._environment(ep, self.endpoint_name),
            model_data=model_data, subnet_ids=self.subnet_ids,
            security_group_ids=self.security_group_ids,
            serverless=translate.serverless_compute(ep), endpoint_name=self.endpoint_name,
            initial_instance_count=ep.initial_instance_count,
            network_isolation=ep.network_isolation,
            container_startup_health_check_timeout=startup, model_data_download_timeout=download,
            volume_size_gb=ep.volume_size_gb, volume_kms_key=key,
            inference_ami_version=ep.host_ami,
            async_output=translate.async_output(ep, self.storage) if self.storage else None,
            data_capture=capture, capacity=translate.variant_capacity(ep))
        if capture is not None:
            self._capture_access(capture)
        translate.add_autoscaling(llm, ep)
        self.alarm_topic = translate.alarm_topic(self, ep.alarms)
        if self.storage is not None and ep.async_settings.runtime:
            self.runtime = translate.async_runtime(self, ep, llm, self.storage, key,
                                                   self.alarm_topic, policy)
        return llm

    def _components(self, images: dict[str, translate.BoundImage],
                    artifacts: dict[str, ModelData | None]) -> ComponentEndpoint:
        ep, name = self.spec, self.endpoint_name
        scaling = ep.managed_scaling
        endpoint = ComponentEndpoint(
            self, "Components", execution_role=self.execution_role,
            instance_type=ep.instance_type, endpoint_name=name,
            initial_instance_count=ep.initial_instance_count,
            min_instances=scaling.min_instances, max_instances=scaling.max_instances,
            subnet_ids=self.subnet_ids, security_group_ids=self.security_group_ids,
            volume_kms_key=self.network.key, inference_ami_version=ep.host_ami,
            capacity=translate.variant_capacity(ep), scale_in=translate.scale_in(ep))
        self.alarm_topic = translate.alarm_topic(self, ep.alarms)
        for c in ep.components or []:
            prefix, view = translate.component_prefix(c), ep.component_view(c)
            startup, download = translate.model_timeouts(c)
            component = endpoint.add_component(
                prefix, component_name=f"{name}-{c.name}", image_uri=images[prefix][0],
                environment=self._environment(view, f"{name}-{c.name}"),
                model_data=artifacts[prefix], accelerators=c.accelerators,
                memory_mb=c.memory_mb, cpu_cores=c.cpu_cores, copies=c.copies,
                network_isolation=c.network_isolation,
                container_startup_health_check_timeout=startup,
                model_data_download_timeout=download)
            translate.add_copy_autoscaling(component, c.autoscaling)
            translate.add_adapters(self, self.execution_role, component, c, name)
            cdk.CfnOutput(self, f"{prefix}ComponentName", value=component.component_name,
                          description=f"InferenceComponentName of {c.name!r} (invoke with it)")
        translate.idle_instances_warning(self, ep)
        return endpoint

    def _environment(self, spec: ModelSpec, label: str) -> dict[str, str]:
        return translate.environment_with_warnings(self, spec, label)

    # -- access -------------------------------------------------------------------------------
    def _grant_async_storage(self, storage: AsyncInferenceStorage) -> None:
        """The endpoint reads requests, writes results and notifies."""
        role = self.execution_role.role
        storage.grant_read_requests(role)
        storage.grant_write_results(role)
        storage.grant_publish(role)

    def _capture_access(self, capture: DataCapture) -> None:
        """The stack's capture bucket admits the execution role's writes only; operators
        find the captures at the output."""
        if self.capture_bucket is not None:
            self.capture_bucket.allow_only(self.execution_role.role, capture)
        cdk.CfnOutput(self, "CaptureLocation", value=capture.destination_s3_uri,
                      description="Data capture: <this>/<endpoint>/<variant>/yyyy/mm/dd/hh/"
                                  "*.jsonl")

    def _grant_invokers(self) -> None:
        """Each invoke principal may invoke the endpoint and, for async, submit requests,
        read results and wait on its jobs."""
        for i, arn in enumerate(self.spec.invoke_principals):
            invoker = iam.Role.from_role_arn(self, f"Invoker{i}", arn)
            self.endpoint.grant_invoke(invoker)
            # llm-client --stack reads this stack's outputs (endpoint, bucket, ledger, topics)
            iam.Grant.add_to_principal(grantee=invoker, actions=["cloudformation:DescribeStacks"],
                                       resource_arns=[self.stack_id])
            if self.storage is not None:
                self._grant_client(invoker, self.storage)
            if self.runtime is not None:
                self._grant_job_waiter(invoker, self.runtime)

    @staticmethod
    def _grant_client(invoker: iam.IRole, storage: AsyncInferenceStorage) -> None:
        storage.grant_submit(invoker)
        storage.grant_read_results(invoker)

    @staticmethod
    def _grant_job_waiter(invoker: iam.IRole, runtime: AsyncJobRuntime) -> None:
        runtime.grant_read_jobs(invoker)
        runtime.grant_wait(invoker)
        runtime.grant_replay(invoker)

    # -- monitoring ---------------------------------------------------------------------------
    def _monitor(self) -> None:
        """Alarms and dashboard; guardrails roll back on the alarms."""
        ep = self.spec
        self.monitoring = translate.monitoring(self, self.endpoint, ep.alarms, self.alarm_topic,
                                               self.endpoint_name)
        if isinstance(self.endpoint, ComponentEndpoint):
            translate.add_rolling_updates(self.endpoint, ep, self.monitoring)
        if (ep.guardrails is not None and isinstance(self.endpoint, LlmEndpoint)
                and not isinstance(self.monitoring, ComponentMonitoring)):
            self.endpoint.use_blue_green(translate.blue_green(ep.guardrails, self.monitoring))
