"""A VPC for SageMaker models: private subnets, S3 gateway endpoint, flow logs."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


class ModelNetwork(Construct):
    """VPC whose private subnets host model containers.

    * ``egress=False``: isolated subnets only, no NAT, no internet gateway.
    * ``egress=True``: public subnets for ``nat_gateways`` NAT gateways, private subnets
      with a default route through them (needed to download models from the Hub).
    * An S3 *gateway* endpoint on the model subnets' route tables: without it a model in
      a VPC cannot read its artifacts from S3.
    * Interface endpoints (e.g. ``sagemaker.runtime``, ``sts``, ``logs``) on request, with a
      security group that admits HTTPS from the VPC only.
    * VPC flow logs (all traffic) to an encrypted CloudWatch log group.

    No context lookup is made: zones are either given or ``Fn::GetAZs`` at deploy time.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cidr: str = "10.0.0.0/16",
        max_azs: int = 2,
        availability_zones: Sequence[str] | None = None,
        egress: bool = False,
        nat_gateways: int = 1,
        interface_endpoints: Sequence[str] = (),
        flow_logs: bool = True,
        flow_log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        encryption_key: kms.IKey | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, id)
        self.model_subnet_type = (ec2.SubnetType.PRIVATE_WITH_EGRESS if egress
                                  else ec2.SubnetType.PRIVATE_ISOLATED)
        subnets = [ec2.SubnetConfiguration(name="model", subnet_type=self.model_subnet_type,
                                           cidr_mask=20)]
        if egress:
            subnets.insert(0, ec2.SubnetConfiguration(name="public",
                                                      subnet_type=ec2.SubnetType.PUBLIC,
                                                      cidr_mask=24))
        zone_props = ({"availability_zones": list(availability_zones)} if availability_zones
                      else {"max_azs": max_azs})
        self.vpc = ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            subnet_configuration=subnets,
            nat_gateways=nat_gateways if egress else 0,
            restrict_default_security_group=True,
            **zone_props,
        )
        #: Where models run (their ENIs) and where the endpoints attach.
        self.model_subnets = ec2.SubnetSelection(subnet_type=self.model_subnet_type)

        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.model_subnets])

        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        if interface_endpoints:
            self.endpoint_security_group = ec2.SecurityGroup(
                self, "EndpointSg", vpc=self.vpc, allow_all_outbound=False,
                description="Interface endpoints: HTTPS from inside the VPC only")
            self.endpoint_security_group.add_ingress_rule(
                ec2.Peer.ipv4(cidr), ec2.Port.tcp(443),
                "HTTPS from the VPC")
            for name in interface_endpoints:
                self.interface_endpoints[name] = self.vpc.add_interface_endpoint(
                    _logical(name),
                    service=ec2.InterfaceVpcEndpointAwsService(name),
                    subnets=self.model_subnets,
                    security_groups=[self.endpoint_security_group],
                    private_dns_enabled=True,
                    open=False,  # our own rule below names the CIDR literally
                )

        self.flow_log_group: logs.LogGroup | None = None
        if flow_logs:
            self.flow_log_group = logs.LogGroup(
                self, "FlowLogs", retention=flow_log_retention, encryption_key=encryption_key,
                removal_policy=removal_policy)
            self.vpc.add_flow_log("FlowLog",
                                  destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                                      self.flow_log_group),
                                  traffic_type=ec2.FlowLogTrafficType.ALL)


def _logical(service: str) -> str:
    return "".join(p.capitalize() for p in service.replace("-", ".").split("."))
