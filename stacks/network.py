"""The shared network (and, when configured, the customer-managed KMS key)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from config import AppConfig
from config.shapes import LOG_RETENTION_DAYS
from llm_constructs import ModelNetwork


#: CloudWatch Logs retention in days -> CDK enum (same order; tests check the synthesized days).
RETENTION = dict(zip(LOG_RETENTION_DAYS, list(logs.RetentionDays)[:len(LOG_RETENTION_DAYS)],
                     strict=True))


def removal_policy(cfg: AppConfig) -> cdk.RemovalPolicy:
    return cdk.RemovalPolicy.RETAIN if cfg.removal_policy == "retain" else cdk.RemovalPolicy.DESTROY


class NetworkStack(cdk.Stack):
    """VPC with private model subnets, S3 gateway endpoint, flow logs; optional CMK."""

    def __init__(self, scope: Construct, id: str, *, config: AppConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, description=f"{config.project}: network for SageMaker "
                                                "model endpoints", **kwargs)
        net = config.network
        policy = removal_policy(config)
        self._zones = config.deployment.availability_zones
        self._max_azs = net.max_azs

        self.key = self._key(config, policy) if config.encryption.customer_managed_key else None

        self.network = ModelNetwork(
            self, "Network",
            cidr=net.cidr,
            max_azs=net.max_azs,
            availability_zones=config.deployment.availability_zones,
            egress=net.egress == "nat",
            nat_gateways=net.nat_gateways,
            interface_endpoints=net.interface_endpoints,
            flow_logs=net.flow_logs.enabled,
            flow_log_retention=RETENTION[net.flow_logs.retention_days],
            encryption_key=self.key,
            removal_policy=policy,
        )
        self.vpc = self.network.vpc
        self.model_subnets = self.network.model_subnets

    def _key(self, config: AppConfig, policy: cdk.RemovalPolicy) -> kms.Key:
        """The customer-managed key: rotated, usable by CloudWatch Logs of this account."""
        key = kms.Key(self, "Key", enable_key_rotation=True, removal_policy=policy,
                      pending_window=cdk.Duration.days(30),
                      description=f"{config.project}: logs and endpoint volumes")
        # CloudWatch Logs encrypts with the key only when its policy lets the service in.
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchLogs",
            principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*",
                     "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                    f"arn:{self.partition}:logs:{self.region}:"
                                    f"{self.account}:log-group:*"}}))
        return key

    @property
    def availability_zones(self) -> list[str]:
        """Zones without a context lookup: the configured ones, else the first ``max_azs``
        of ``Fn::GetAZs`` at deploy time (CDK's default for an environment-agnostic stack
        stops at two, whatever ``max_azs`` says)."""
        if self._zones:
            return list(self._zones)
        return [cdk.Fn.select(i, cdk.Fn.get_azs()) for i in range(self._max_azs)]
