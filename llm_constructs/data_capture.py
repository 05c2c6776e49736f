"""Data capture: where SageMaker writes a sample of an endpoint's requests and responses,
and the rights to write exactly there."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from .buckets import access_log_bucket, private_bucket
from .nag import acknowledge_grant

#: CaptureOptions' CaptureMode values.
CAPTURE_MODES = ("Input", "Output")


@dataclass(frozen=True)
class DataCapture:
    """The DataCaptureConfig of an endpoint: ``sampling_percentage`` of requests, their
    ``modes`` (``Input``, ``Output``), written under ``prefix`` of ``bucket``, encrypted
    with ``encryption_key`` (else the bucket's default encryption). Content types in
    ``json_content_types``/``csv_content_types`` are captured as text, others base64.
    ``enabled=False`` keeps the settings and captures nothing. ``key_decrypt=False``
    leaves ``kms:Decrypt`` out of ``grant_write`` when the role has it already (the
    execution role's ``kms_keys``); S3 needs it for multipart uploads."""

    bucket: s3.IBucket
    prefix: str = "capture/"
    sampling_percentage: int = 10
    modes: tuple[str, ...] = CAPTURE_MODES
    enabled: bool = True
    encryption_key: kms.IKey | None = None
    json_content_types: tuple[str, ...] = ("application/json",)
    csv_content_types: tuple[str, ...] = ()
    key_decrypt: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.sampling_percentage <= 100:
            raise ValueError(f"sampling_percentage {self.sampling_percentage}: 0 to 100")
        if not self.modes or set(self.modes) - set(CAPTURE_MODES) \
                or len(set(self.modes)) != len(self.modes):
            raise ValueError(f"modes {self.modes!r}: Input, Output or both, once each")
        if self.prefix.startswith("/") or (self.prefix and not self.prefix.endswith("/")):
            raise ValueError(f"prefix {self.prefix!r}: a key prefix ending in '/', like "
                             "'capture/'")

    @property
    def destination_s3_uri(self) -> str:
        return f"s3://{self.bucket.bucket_name}/{self.prefix}"

    @property
    def objects_arn(self) -> str:
        """Every capture: SageMaker writes ``<prefix><endpoint>/<variant>/yyyy/mm/dd/hh/``."""
        return self.bucket.arn_for_objects(f"{self.prefix}*")

    def config(self) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        headers = None
        if self.json_content_types or self.csv_content_types:
            headers = sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                json_content_types=list(self.json_content_types) or None,
                csv_content_types=list(self.csv_content_types) or None)
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=self.enabled, initial_sampling_percentage=self.sampling_percentage,
            destination_s3_uri=self.destination_s3_uri,
            capture_options=[sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=m)
                             for m in self.modes],
            kms_key_id=self.encryption_key.key_arn if self.encryption_key else None,
            capture_content_type_header=headers)

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """For the endpoint's execution role (SageMaker writes captures as it): put objects
        under ``prefix``, nothing else, and encrypt with the key."""
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["s3:PutObject"],
                                           resource_arns=[self.objects_arn])
        acknowledge_grant(grantee, self.objects_arn,
                          "objects under the endpoint's data capture prefix: SageMaker "
                          "names each capture file by endpoint, variant, hour and a "
                          "generated id")
        if self.encryption_key is not None:
            actions = ["kms:GenerateDataKey", *(["kms:Decrypt"] if self.key_decrypt else [])]
            grant = grant.combine(self.encryption_key.grant(grantee, *actions))
        return grant


class DataCaptureBucket(Construct):
    """A bucket for one endpoint's captures: KMS-encrypted with ``encryption_key`` (a
    rotated key of its own when none is given), SSL-only, public access blocked, owner-
    enforced, versioned, server access logs to a second bucket, captures expiring after
    ``expire_after``. ``allow_only`` makes the execution role its one writer.

    Attributes: ``bucket``, ``key``, ``access_log_bucket``."""

    def __init__(self, scope: Construct, id: str, *,
                 encryption_key: kms.IKey | None = None,
                 expire_after: cdk.Duration | None = cdk.Duration.days(30),
                 removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN) -> None:
        super().__init__(scope, id)
        self.key: kms.IKey = encryption_key or kms.Key(
            self, "Key", enable_key_rotation=True, removal_policy=removal_policy,
            description="Endpoint data capture")
        self.access_log_bucket = access_log_bucket(self, of="the capture bucket",
                                                   removal_policy=removal_policy)
        self.bucket = private_bucket(
            self, key=self.key, access_logs=self.access_log_bucket, log_prefix="capture/",
            expirations=[s3.LifecycleRule(expiration=expire_after)] if expire_after else [],
            removal_policy=removal_policy)

    def allow_only(self, role: iam.IRole, capture: DataCapture) -> None:
        """The bucket policy: ``role`` may put objects under the capture's prefix, and no
        other principal may put any (captures record what the endpoint saw: nobody else
        writes there)."""
        self.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="EndpointWritesCaptures", principals=[iam.ArnPrincipal(role.role_arn)],
            actions=["s3:PutObject"], resources=[capture.objects_arn]))
        self.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="NoOtherWriter", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"], resources=[self.bucket.arn_for_objects("*")],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": role.role_arn}}))
