"""Storage and notifications of an asynchronous SageMaker endpoint."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from .buckets import access_log_bucket, private_bucket
from .nag import acknowledge_grant


class AsyncInferenceStorage(Construct):
    """Where an async endpoint reads requests, writes results and announces them.

    * A bucket the stack owns (unless ``existing_bucket_name``): KMS-encrypted with
      ``encryption_key`` (a rotated key of its own when none is given), SSL-only policy,
      public access blocked, versioned, server access logs to a second bucket, and
      lifecycle expiry of requests/results/failures after ``expire_after``.
    * ``input_prefix``, ``output_prefix``, ``failure_prefix``: requests, results, failures.
    * With ``notifications``: success and error SNS topics, encrypted with the same key,
      SSL-only topic policies.

    ``grant_*`` methods give exactly the S3/SNS/KMS rights each party needs.
    """

    def __init__(self, scope: Construct, id: str, *, input_prefix: str = "input/",
                 output_prefix: str = "output/", failure_prefix: str = "failure/",
                 existing_bucket_name: str | None = None,
                 encryption_key: kms.IKey | None = None,
                 expire_after: cdk.Duration | None = cdk.Duration.days(30),
                 notifications: bool = True,
                 removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN) -> None:
        super().__init__(scope, id)
        self.input_prefix, self.output_prefix, self.failure_prefix = (
            input_prefix, output_prefix, failure_prefix)
        self.key: kms.IKey = encryption_key or kms.Key(
            self, "Key", enable_key_rotation=True, removal_policy=removal_policy,
            description="Async inference requests, results and notifications")
        self.owned = existing_bucket_name is None
        self.expire_after = expire_after
        self.access_log_bucket: s3.Bucket | None = None
        if existing_bucket_name is not None:
            self.bucket: s3.IBucket = s3.Bucket.from_bucket_name(self, "Bucket",
                                                                 existing_bucket_name)
        else:
            self.access_log_bucket = access_log_bucket(self, of="the async bucket",
                                                       removal_policy=removal_policy)
            self.bucket = private_bucket(
                self, key=self.key, access_logs=self.access_log_bucket, log_prefix="async/",
                expirations=[s3.LifecycleRule(prefix=p, expiration=expire_after)
                             for p in (input_prefix, output_prefix, failure_prefix)]
                if expire_after is not None else [],
                removal_policy=removal_policy)

        self.success_topic: sns.Topic | None = None
        self.error_topic: sns.Topic | None = None
        if notifications:
            self.success_topic = sns.Topic(self, "Success", master_key=self.key, enforce_ssl=True,
                                           display_name="Async inference succeeded")
            self.error_topic = sns.Topic(self, "Error", master_key=self.key, enforce_ssl=True,
                                         display_name="Async inference failed")

    def add_expiry(self, prefix: str) -> None:
        """Expire what others write under ``prefix`` (the job runtime's failed copies) after
        ``expire_after``, as requests, results and failures do; nothing on a bucket the
        stack does not own, or without ``expire_after``."""
        if isinstance(self.bucket, s3.Bucket) and self.expire_after is not None:
            self.bucket.add_lifecycle_rule(prefix=prefix, expiration=self.expire_after)

    # -- locations ---------------------------------------------------------------------
    def _uri(self, prefix: str) -> str:
        return f"s3://{self.bucket.bucket_name}/{prefix}"

    @property
    def input_path(self) -> str:
        return self._uri(self.input_prefix)

    @property
    def output_path(self) -> str:
        return self._uri(self.output_prefix)

    @property
    def failure_path(self) -> str:
        return self._uri(self.failure_prefix)

    @property
    def topics(self) -> list[sns.Topic]:
        return [t for t in (self.success_topic, self.error_topic) if t is not None]

    # -- grants ------------------------------------------------------------------------
    # Each acknowledges the cdk-nag finding of its wildcard (the objects under a prefix:
    # keys are generated per request) where the grant lands, with the grant's own reason.
    def grant_read_requests(self, grantee: iam.IGrantable) -> iam.Grant:
        """For the endpoint's execution role: read the requests."""
        return self._grant_objects(grantee, ["s3:GetObject"], {
            self.input_prefix: "read the async requests"}).combine(
            self.key.grant_decrypt(grantee))

    def grant_write_results(self, grantee: iam.IGrantable) -> iam.Grant:
        """For the endpoint's execution role: write results and failures, nothing else."""
        return self._grant_objects(grantee, ["s3:PutObject", "s3:AbortMultipartUpload"], {
            self.output_prefix: "write async results",
            self.failure_prefix: "write async failures"}).combine(
            self.key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt"))

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """For the endpoint's execution role: publish to the success and error topics."""
        if not self.topics:
            return iam.Grant.drop(grantee, "publish to async notification topics (none)")
        # Not Topic.grant_publish: it grants kms:GenerateDataKey* where GenerateDataKey is
        # all SNS needs to encrypt a published message.
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["sns:Publish"],
            resource_arns=[t.topic_arn for t in self.topics]).combine(
            self.key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt"))

    def grant_submit(self, grantee: iam.IGrantable) -> iam.Grant:
        """For clients: upload requests."""
        return self._grant_objects(grantee, ["s3:PutObject", "s3:AbortMultipartUpload"], {
            self.input_prefix: "submit requests"}).combine(
            self.key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt"))

    def grant_read_results(self, grantee: iam.IGrantable) -> iam.Grant:
        """For clients: read results and failures."""
        return self._grant_objects(grantee, ["s3:GetObject"], {
            self.output_prefix: "read async results",
            self.failure_prefix: "read async failures"}).combine(
            self.key.grant_decrypt(grantee))

    def _grant_objects(self, grantee: iam.IGrantable, actions: list[str],
                       purposes: dict[str, str]) -> iam.Grant:
        """``actions`` on the objects under each prefix of ``purposes`` (prefix -> why)."""
        resources = {p: self.bucket.arn_for_objects(f"{p}*") for p in purposes}
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=actions,
                                           resource_arns=list(resources.values()))
        for prefix, resource in resources.items():
            acknowledge_grant(grantee, resource, f"objects under one prefix of the endpoint's "
                              f"async bucket, to {purposes[prefix]}; their keys are generated "
                              "per request")
        return grant
