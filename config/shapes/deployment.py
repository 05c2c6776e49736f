"""Where the stacks go and the network they share."""

from __future__ import annotations

import ipaddress
from typing import Literal, get_args

from pydantic import Field, field_validator

from .base import Strict, close

#: CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                      1096, 1827, 2192, 2557, 2922, 3288, 3653)

#: Interface endpoints the config may ask for (service name under com.amazonaws.<region>.).
InterfaceEndpoint = Literal["sagemaker.runtime", "sagemaker.api", "sts", "logs", "monitoring",
                            "ecr.api", "ecr.dkr", "kms", "secretsmanager", "sns", "sqs"]
INTERFACE_ENDPOINTS: tuple[str, ...] = get_args(InterfaceEndpoint)


def reserved_tag_keys(tags: dict[str, str]) -> dict[str, str]:
    """Tag keys (``deployment.tags``, an endpoint's ``tags``) may not start with ``aws:``
    in any case: AWS reserves it ("Tagging AWS resources", tag naming limits) although
    botocore's TagKey pattern allows it. Lengths, characters and the count of 50 are checked
    against botocore's shapes with the other API values (``config/api``)."""
    reserved = [key for key in tags if key.lower().startswith("aws:")]
    if reserved:
        raise ValueError(f"tag keys {', '.join(map(repr, reserved))}: the prefix 'aws:' is "
                         "reserved for AWS; rename them")
    return tags


def all_regions() -> list[str]:
    """CDK's regions, botocore's, and those AWS's image tables list (CDK and botocore lag
    behind new regions: me-west-1 is in the tables of sagemaker-core 2.27.0 only)."""
    from aws_cdk.region_info import RegionInfo

    from llm_constructs import images
    from llm_constructs.partitions import listed_regions

    return sorted({r.name for r in RegionInfo.regions} | listed_regions()
                  | images.all_regions())


def check_region(region: str) -> str:
    """A region this project knows (CDK's, botocore's, the image tables')."""
    known = set(all_regions())
    if region not in known:
        raise ValueError(f"{region!r} is not an AWS region{close(region, known)}")
    return region


#: An AWS account ID.
ACCOUNT_PATTERN = r"^\d{12}$"


class Deployment(Strict):
    """Where the stacks go. Leave account/region empty for environment-agnostic stacks
    (synth needs no credentials; the CLI's profile decides at deploy time)."""

    account: str | None = Field(
        default=None, pattern=ACCOUNT_PATTERN,
        description="AWS account of every stack; unset: environment-agnostic (recommended).")
    region: str | None = Field(
        default=None,
        description="AWS region of every stack; unset: environment-agnostic. A region with no "
                    "image for the chosen version is an error.")
    availability_zones: list[str] | None = Field(
        default=None,
        description="At least 2 zones of the region; required when both account and region are "
                    "set (otherwise synth would need an AWS lookup).")
    termination_protection: bool = Field(
        default=False, description="CloudFormation termination protection on every stack.")
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Tags on every resource (plus `project`); an endpoint's `tags` override a key "
                    "on its stack.")

    _tags = field_validator("tags")(reserved_tag_keys)

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return v if v is None else check_region(v)


class FlowLogs(Strict):
    """VPC flow logs (all traffic) to CloudWatch Logs."""

    enabled: bool = Field(default=True, description="Whether the VPC has flow logs.")
    retention_days: int = Field(
        default=90, description="Days CloudWatch Logs keeps them; a value CloudWatch accepts.")

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise ValueError(f"{v} is not a CloudWatch Logs retention; allowed: "
                             f"{', '.join(map(str, LOG_RETENTION_DAYS))}")
        return v


class Network(Strict):
    """The VPC the models run in."""

    cidr: str = Field(default="10.0.0.0/16", description="VPC CIDR block, /16 to /22.")
    max_azs: int = Field(
        default=2, ge=2, le=6,
        description="Availability zones used (2-6) when zones are not listed; the region "
                    "must have that many.")
    egress: Literal["nat", "none"] = Field(
        default="none",
        description="`nat`: public subnets and NAT gateways, models may reach the internet "
                    "(Hub downloads); `none`: isolated subnets, no internet path at all.")
    nat_gateways: int = Field(
        default=1, ge=1, le=6,
        description="NAT gateways with `egress: nat` (at most one per zone).")
    interface_endpoints: list[InterfaceEndpoint] = Field(
        default_factory=list,
        description="VPC interface endpoints to create, reachable over HTTPS from the VPC "
                    "CIDR only.")
    flow_logs: FlowLogs = Field(default_factory=FlowLogs,
                                description="VPC flow logs to CloudWatch Logs.")

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        try:
            net = ipaddress.IPv4Network(v)
        except ValueError as exc:
            raise ValueError(f"{v!r} is not an IPv4 CIDR block ({exc})") from None
        if not 16 <= net.prefixlen <= 22:
            raise ValueError(f"{v!r}: a VPC CIDR needs a prefix from /16 to /22 "
                             "(room for two subnets per AZ)")
        return v


class Encryption(Strict):
    """``customer_managed_key: true`` creates a KMS key (rotation on) for the stacks'
    logs and, where the instance allows it, the endpoint's storage volume."""

    customer_managed_key: bool = Field(
        default=False,
        description="Create a rotated KMS key for the flow logs and, where the instance type "
                    "allows it, the endpoint's storage volume.")
