"""Least-privilege execution role for a SageMaker model."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from .nag import acknowledge


class SageMakerExecutionRole(Construct):
    """The role a SageMaker Model runs as.

    Grants exactly:
    * ECR pull of the given repositories (``ecr:GetAuthorizationToken`` is the one ``*``:
      it has no resource-level permission);
    * read of the given S3 objects or prefixes (``add_model_data``);
    * the ENI calls SageMaker makes for VPC mode, scoped to this account and region, the
      given subnets and security groups (the ``Describe*`` calls have no resource scope);
    * CloudWatch Logs for the named endpoints' log groups, and metrics;
    * ``kms:Decrypt`` on the given keys.

    All statements live in one ``iam.Policy`` (``self.policy``). Resources that use the
    role must depend on this construct, not only the role: SageMaker checks the image
    pull when the Model is created, so the policy must exist first (``depend_on_me``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        ecr_repository_arns: Sequence[str] = (),
        endpoint_names: Sequence[str] = (),
        vpc: ec2.IVpc | None = None,
        subnets: Sequence[ec2.ISubnet] = (),
        security_groups: Sequence[ec2.ISecurityGroup] = (),
        kms_keys: Sequence[kms.IKey] = (),
        description: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self, "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=description or "SageMaker model execution role (least privilege)",
        )
        self.policy = iam.Policy(self, "Policy", roles=[self.role])

        if ecr_repository_arns:
            self.add_to_policy(iam.PolicyStatement(
                sid="PullModelImage",
                actions=["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                         "ecr:BatchGetImage"],
                resources=list(ecr_repository_arns)))
            self.add_to_policy(iam.PolicyStatement(
                sid="EcrAuthToken", actions=["ecr:GetAuthorizationToken"], resources=["*"]))

        if vpc is not None:
            arn = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}"
            self.add_to_policy(iam.PolicyStatement(
                sid="VpcDescribe",
                actions=["ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                         "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"],
                resources=["*"]))
            self.add_to_policy(iam.PolicyStatement(
                sid="VpcCreateEni",
                actions=["ec2:CreateNetworkInterface"],
                resources=[f"{arn}:network-interface/*"]
                + [f"{arn}:subnet/{s.subnet_id}" for s in subnets]
                + [f"{arn}:security-group/{g.security_group_id}" for g in security_groups]))
            self.add_to_policy(iam.PolicyStatement(
                sid="VpcManageEni",
                actions=["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                         "ec2:DeleteNetworkInterfacePermission"],
                resources=[f"{arn}:network-interface/*"]))
            self.allow_wildcard(
                f"{arn}:network-interface/*",
                "SageMaker creates and deletes the model's ENIs at run time, so their IDs "
                "cannot be known; scoped to this account and region, and creation also to "
                "the model's subnets and security groups")

        if endpoint_names:
            base = (f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:"
                    "log-group:/aws/sagemaker/Endpoints/")
            groups = [f"{base}{name}" for name in endpoint_names]
            self.add_to_policy(iam.PolicyStatement(
                sid="EndpointLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                         "logs:DescribeLogStreams"],
                resources=groups + [f"{g}:*" for g in groups]))
            for g in groups:
                self.allow_wildcard(
                    f"{g}:*", "log streams of this endpoint's own log group, named by SageMaker "
                    "per instance at run time")
        self.add_to_policy(iam.PolicyStatement(
            sid="Metrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*",
                                                                 "AWS/SageMaker"]}}))
        self.allow_wildcard(
            "*", "cloudwatch:PutMetricData (conditioned on the SageMaker namespaces), "
            "ecr:GetAuthorizationToken and the ec2:Describe* calls of VPC mode support no "
            "resource-level permissions")
        if kms_keys:
            # In the role's own policy (not the key policy): no cross-stack cycle, and the
            # key's default policy already delegates to IAM in this account.
            self.add_to_policy(iam.PolicyStatement(
                sid="DecryptWithKeys", actions=["kms:Decrypt"],
                resources=[k.key_arn for k in kms_keys]))

    def add_to_policy(self, statement: iam.PolicyStatement) -> None:
        self.policy.add_statements(statement)

    def allow_wildcard(self, resource: str, reason: str) -> None:
        """Acknowledge the cdk-nag IAM5 finding for exactly this wildcard resource, in any
        policy of this role (``grant_*`` of other constructs land in its default policy)."""
        acknowledge(self, "AwsSolutions-IAM5", reason, resource=resource)

    def add_model_data(self, s3_uri: str) -> None:
        """Allow reading ``s3://bucket/key`` (one object) or ``s3://bucket/prefix/`` (all below)."""
        bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
        partition = cdk.Stack.of(self).partition
        prefix = key.endswith("/")
        objects = f"arn:{partition}:s3:::{bucket}/{key}{'*' if prefix else ''}"
        self.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
        if prefix:
            self.allow_wildcard(objects, "the files of an uncompressed model under one "
                                          "prefix; read-only, that prefix only")
        self.add_to_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[f"arn:{partition}:s3:::{bucket}"],
            conditions={"StringLike": {"s3:prefix": [f"{key}*" if prefix else key]}}))

    @property
    def role_arn(self) -> str:
        return self.role.role_arn
