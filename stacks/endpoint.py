"""One stack per model endpoint: its security group, role, model, endpoint, scaling."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from config import AppConfig, Endpoint
from config.schema import HubSource
from llm_constructs import LlmEndpoint, ModelData, SageMakerExecutionRole
from llm_constructs.images import tgi_image

from .network import NetworkStack


def tgi_environment(ep: Endpoint) -> dict[str, str]:
    """The TGI container's environment: model location, GPUs, then the user's extras."""
    env: dict[str, str] = {}
    if isinstance(ep.source, HubSource):
        env["HF_MODEL_ID"] = ep.source.hub
    else:
        # SageMaker puts S3 artifacts in /opt/ml/model; TGI loads a local path given as the
        # model id, and must not try the Hub.
        env["HF_MODEL_ID"] = "/opt/ml/model"
        env["HF_HUB_OFFLINE"] = "1"
    env["SM_NUM_GPUS"] = str(ep.num_gpus)
    env.update(ep.environment)
    return env


class ModelEndpointStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, config: AppConfig, endpoint: Endpoint,
                 network: NetworkStack, **kwargs: Any) -> None:
        super().__init__(scope, id, description=f"{config.project}: SageMaker endpoint "
                                                f"{endpoint.name!r}", **kwargs)
        ep = endpoint
        name = config.endpoint_name_of(ep)
        self.endpoint_config = ep

        # In this stack, not the network stack: removing an endpoint from config then
        # removes its security group with it, and no export pins it.
        self.security_group = ec2.SecurityGroup(
            self, "ModelSg", vpc=network.vpc, allow_all_outbound=False,
            description=f"SageMaker model {name}: no ingress, HTTPS out only")
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
            "HTTPS to S3 (gateway endpoint), AWS APIs and, with egress, the model hub")

        subnets = network.vpc.select_subnets(subnet_type=network.network.model_subnet_type).subnets
        image = tgi_image(ep.image.tgi).bind(self)
        self.execution_role = SageMakerExecutionRole(
            self, "ExecutionRole",
            ecr_repository_arns=[image.repository_arn],
            endpoint_names=[name],
            vpc=network.vpc, subnets=subnets, security_groups=[self.security_group],
            kms_keys=[network.key] if network.key else [],
            description=f"Execution role of SageMaker model {name}",
        )
        model_data = None
        if not isinstance(ep.source, HubSource):
            model_data = ModelData(ep.source.s3)
            self.execution_role.add_model_data(ep.source.s3)

        self.llm = LlmEndpoint(
            self, "Llm",
            execution_role=self.execution_role,
            image_uri=image.image_uri,
            instance_type=ep.instance_type,
            environment=tgi_environment(ep),
            model_data=model_data,
            subnet_ids=[s.subnet_id for s in subnets],
            security_group_ids=[self.security_group.security_group_id],
            endpoint_name=name,
            initial_instance_count=ep.initial_instance_count,
            network_isolation=ep.network_isolation,
            container_startup_health_check_timeout=cdk.Duration.seconds(
                ep.container_startup_health_check_timeout_seconds),
            model_data_download_timeout=cdk.Duration.seconds(
                ep.model_data_download_timeout_seconds),
            volume_size_gb=ep.volume_size_gb,
            volume_kms_key=network.key,
        )
        if ep.autoscaling is not None:
            sc = ep.autoscaling
            self.llm.add_invocation_autoscaling(
                min_capacity=sc.min_capacity, max_capacity=sc.max_capacity,
                target_invocations_per_instance=sc.target_invocations_per_instance,
                scale_in_cooldown=cdk.Duration.seconds(sc.scale_in_cooldown_seconds),
                scale_out_cooldown=cdk.Duration.seconds(sc.scale_out_cooldown_seconds))

        for i, arn in enumerate(ep.invoke_principals):
            self.llm.grant_invoke(iam.Role.from_role_arn(self, f"Invoker{i}", arn))

        cdk.CfnOutput(self, "EndpointName", value=self.llm.endpoint_name,
                      description="SageMaker endpoint name (InvokeEndpoint EndpointName)")
        cdk.CfnOutput(self, "EndpointArn", value=self.llm.endpoint_arn)
        cdk.CfnOutput(self, "ExecutionRoleArn", value=self.execution_role.role_arn)
