"""The private buckets of the stacks (async inputs and results, data captures) and their
access-log buckets: one way to make each, so both kinds get the same protections."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .nag import acknowledge


def access_log_bucket(scope: Construct, *, of: str,
                      removal_policy: cdk.RemovalPolicy) -> s3.Bucket:
    """``AccessLogs``: the server access logs of the bucket ``of`` describes. S3-managed
    encryption: server access logs cannot be delivered to an SSE-KMS bucket."""
    bucket = s3.Bucket(
        scope, "AccessLogs", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, versioned=True,
        removal_policy=removal_policy,
        auto_delete_objects=removal_policy == cdk.RemovalPolicy.DESTROY,
        lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365),
                                          noncurrent_version_expiration=cdk.Duration.days(30))])
    acknowledge(bucket, "AwsSolutions-S1", f"this is the server access log bucket of {of}; "
                "logging it into itself would loop")
    return bucket


def private_bucket(scope: Construct, *, key: kms.IKey, access_logs: s3.IBucket,
                   log_prefix: str, expirations: list[s3.LifecycleRule],
                   removal_policy: cdk.RemovalPolicy) -> s3.Bucket:
    """``Bucket``: SSE-KMS with ``key`` (a bucket key), SSL-only, no public access, owner
    enforced, versioned, access-logged; incomplete uploads and old versions cleaned up,
    plus ``expirations``."""
    rules = [s3.LifecycleRule(abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                              noncurrent_version_expiration=cdk.Duration.days(7)),
             *expirations]
    return s3.Bucket(
        scope, "Bucket", encryption=s3.BucketEncryption.KMS, encryption_key=key,
        bucket_key_enabled=True, enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, versioned=True,
        server_access_logs_bucket=access_logs, server_access_logs_prefix=log_prefix,
        lifecycle_rules=rules, removal_policy=removal_policy,
        # "destroy" must mean the stack deletes cleanly, not DELETE_FAILED on a bucket that
        # still holds objects.
        auto_delete_objects=removal_policy == cdk.RemovalPolicy.DESTROY)
