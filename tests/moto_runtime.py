"""What the async runtime's moto tests and benchmarks share: loading a function's handler
from its code folder, S3 events with the version id S3 sends, and the runtime's resources
made by hand (bucket, ledger, queues, topics) for tests of the client and its benchmark.

The end-to-end tests build the same resources from the synthesized template instead
(tests/stack_in_moto.py); these hand-made ones are for tests about the client, where the
template is not what is under test.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple


def load_handler(module_name: str, folder: Path) -> ModuleType:
    """A function's ``handler.py`` as a module of its own (the runtime folders are assets,
    not packages: each test file loads its own copy, so patches stay local)."""
    spec = importlib.util.spec_from_file_location(module_name, folder / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_version_id(original: Any) -> Any:
    """moto leaves ``versionId`` out of S3 event records; S3 sends it for versioned buckets
    (notification-content-structure), and the invoker relies on it. Wraps moto's
    ``moto.s3.notifications._get_s3_event``."""
    def event(event_name: str, bucket: Any, key: Any, notification_id: str) -> Any:
        body = original(event_name, bucket, key, notification_id)
        if key.version_id and key.version_id != "null":
            body["Records"][0]["s3"]["object"]["versionId"] = key.version_id
        return body
    event.adds_version_id = True  # type: ignore[attr-defined]
    return event


def one_signing_key(original: Any) -> Any:
    """moto gives every KMS key an RSA-2048 signing key, symmetric ones too (about 70 ms
    each), though only asymmetric keys sign; symmetric keys share one generated on first use.
    Wraps ``moto.kms.models.generate_private_key``."""
    shared: list[Any] = []

    def generate(key_spec: str) -> Any:
        if key_spec != "SYMMETRIC_DEFAULT":
            return original(key_spec)
        if not shared:
            shared.append(original(key_spec))
        return shared[0]
    return generate


def s3_events_with_version_ids() -> None:
    """Patch moto for the rest of the process (benchmarks); tests use monkeypatch with
    ``with_version_id`` instead."""
    from moto.s3 import notifications
    if not getattr(notifications._get_s3_event, "adds_version_id", False):
        notifications._get_s3_event = with_version_id(notifications._get_s3_event)


class Resources(NamedTuple):
    s3: Any
    sqs: Any
    sns: Any
    requests: str                 # queue URLs
    results: str
    topics: dict[str, str]        # "success"/"error" -> topic ARN


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"])


def create_bucket_and_ledger(session: Any, *, bucket: str, table: str) -> None:
    """The versioned async bucket and the job ledger (key ``inference_id``)."""
    s3 = session.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    session.client("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "inference_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "inference_id", "AttributeType": "S"}])


def create_runtime_resources(session: Any, *, bucket: str, table: str,
                             input_prefix: str) -> Resources:
    """The runtime's resources as the stack wires them: a versioned bucket whose uploads
    under ``input_prefix`` notify the requests queue, the ledger (key ``inference_id``),
    and the success and error topics delivering raw to the results queue."""
    s3, sqs, sns = (session.client(s) for s in ("s3", "sqs", "sns"))
    create_bucket_and_ledger(session, bucket=bucket, table=table)
    requests, results = (sqs.create_queue(QueueName=n)["QueueUrl"]
                         for n in ("requests", "results"))
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn(sqs, requests),
                                 "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {
                                     "FilterRules": [{"Name": "prefix",
                                                      "Value": input_prefix}]}}}]})
    topics = {n: sns.create_topic(Name=n)["TopicArn"] for n in ("success", "error")}
    for topic in topics.values():
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, results),
                      Attributes={"RawMessageDelivery": "true"})
    return Resources(s3, sqs, sns, requests, results, topics)
