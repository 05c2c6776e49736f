"""Issue 5: the runtime around async endpoints, end to end against moto (no network).

S3 put -> (S3 event on the requests queue) -> invoker handler -> InvokeEndpointAsync ->
SageMaker's notification on the success/error topic -> (results queue) -> result handler
-> ledger and failed/ copy -> the client's wait.

Issue 15, item 7: the world is built from dev.yaml's synthesized ``batch`` stack
(tests/stack_in_moto.py): its table, queues, topics, subscriptions, bucket notification,
the functions' environments, code assets and event sources, and the outputs the client
reads. Each function runs in-process as Lambda would run it (tests/lambda_in_process.py),
and every AWS call it makes must be allowed by its role's policy in the template: the
``aws`` fixture checks that after each test (tests/iam_check.py). moto runs for the whole
module; each test starts from empty backends and builds its world anew. The template's
own assertions are in tests/test_async_runtime_stack.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path

import boto3
import botocore.handlers
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.base_backend import BackendDict

from llm_client import AsyncEndpoint, JobFailed, JobTimeout, inference_id
from llm_client.client import sse_tokens
from llm_constructs.async_runtime import INVOKER_CODE, RECORDER_CODE
from tests.helpers import Synth, synthesize
from tests.iam_check import Context
from tests.lambda_in_process import Deployed, folder_digest
from tests.moto_runtime import load_handler, one_signing_key, with_version_id
from tests.stack_in_moto import (ACCOUNT, Template, bucket_keys, build, describe_stacks,
                                  shared_session)


#: The handlers' modules. The world runs these (so tests can patch them) after checking
#: that each is, file for file, the code asset of its function in the template.
invoker_mod = load_handler("async_invoker", INVOKER_CODE)
results_mod = load_handler("async_results", RECORDER_CODE)

#: dev.yaml's async endpoint stack. The names CloudFormation would generate for the
#: bucket and the table are these; the rest are the template's.
CONFIG, STACK = "dev", "llm-dev-endpoint-batch"
REGION, BUCKET, TABLE, ENDPOINT = "us-east-1", "llm-async-bucket", "llm-jobs", "llm-dev-batch"
INPUT, FAILED = "input/", "failed/"


@pytest.fixture(scope="module")
def cloud() -> Iterator[Synth]:
    """moto, started and patched once for the module (S3 events with version ids, test
    credentials, one RSA key for every symmetric KMS key); each test's world starts from
    empty backends all the same (``aws``)."""
    from moto.kms import models as kms
    from moto.s3 import notifications
    synth = synthesize(CONFIG)  # once per session, shared with the other tests of dev
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(notifications, "_get_s3_event",
                      with_version_id(notifications._get_s3_event))
        patch.setattr(kms, "generate_private_key", one_signing_key(kms.generate_private_key))
        for var, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            patch.setenv(var, value)
        with mock_aws():
            yield synth


@pytest.fixture
def aws(cloud, monkeypatch):
    """The stack's runtime in moto, with both functions; after the test, every AWS call a
    function made must have been allowed by its role (a missing grant fails here)."""
    BackendDict.reset()  # what mock_aws does on start: no state of an earlier test is left
    world = World(cloud, monkeypatch)
    yield world
    assert world.denied() == []


def _names(template: dict) -> dict[str, str]:
    """Our names for the resources CloudFormation would name: the runtime's bucket (the
    one with the S3 event notification) and the ledger (the client's JobTableName)."""
    (notification,) = [r for r in template["Resources"].values()
                       if r["Type"] == "Custom::S3BucketNotifications"]
    return {notification["Properties"]["BucketName"]["Ref"]: BUCKET,
            template["Outputs"]["JobTableName"]["Value"]["Ref"]: TABLE}


#: The session the worlds are built with (a session costs about 13 ms to make).
_BUILDER = shared_session(REGION)


@cache
def _digest(folder: Path) -> dict[str, str]:
    """A code folder's digest, once per module: neither the assembly nor the code changes
    while it runs."""
    return folder_digest(folder)


class World:
    """The deployed stack in moto. ``invoker``/``recorder`` are the handlers' objects as
    their Lambda entry points built them from the template's environment; ``run_invoker``
    and ``run_results`` deliver their queues as the event source mappings do."""

    def __init__(self, synth: Synth, monkeypatch) -> None:
        template = synth.stack(STACK)
        self.stack = Template(template, region=REGION, stack_name=STACK,
                              names=_names(template))
        functions = build(self.stack, synth.outdir, _BUILDER)
        # every session made from now on answers DescribeStacks with the stack's outputs
        monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", [
            *botocore.handlers.BUILTIN_HANDLERS,
            ("before-call.cloudformation.DescribeStacks", describe_stacks(self.stack))])
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", shared_session(REGION))
        self.context = Context(account=ACCOUNT, region=REGION,
                               bucket_keys=bucket_keys(self.stack))
        self.functions = {
            role: self._deploy(functions, module, code, cached, monkeypatch)
            for role, module, code, cached in (("invoker", invoker_mod, INVOKER_CODE, "_INVOKER"),
                                               ("recorder", results_mod, RECORDER_CODE,
                                                "_RECORDER"))}
        self.s3, self.sqs, self.sns = boto3.client("s3"), boto3.client("sqs"), boto3.client("sns")
        self.requests = self.functions["invoker"].function.queue_url
        self.results = self.functions["recorder"].function.queue_url
        outputs = self.stack.outputs()
        self.topics = {"success": outputs["SuccessTopicArn"], "error": outputs["ErrorTopicArn"]}
        self.invoker = invoker_mod._INVOKER
        self.recorder = results_mod._RECORDER
        self.client = AsyncEndpoint.from_stack(STACK)  # reads the stack's outputs
        self.table = boto3.resource("dynamodb").Table(outputs["JobTableName"])
        assert (outputs["EndpointName"], self.client.input_location) == \
            (ENDPOINT, f"s3://{BUCKET}/{INPUT}")

    def _deploy(self, functions, module, code, cached: str, monkeypatch) -> Deployed:
        """The template's function whose code asset is ``code``, file for file, run as
        ``module`` (the same files, loaded once so tests can patch it); its entry point is
        called once with no records to build the handler object it keeps in ``cached``."""
        (function,) = [f for f in functions.values() if _digest(f.code) == _digest(code)]
        monkeypatch.setattr(module, cached, None)
        deployed = Deployed(function, module, region=REGION,
                            arn=self.stack.attributes(function.logical_id)["Arn"],
                            statements=self.stack.role_statements(function.role))
        assert deployed.invoke({"Records": []}) == {"batchItemFailures": []}
        return deployed

    def denied(self) -> list[str]:
        """Calls a function made that its role does not allow."""
        return [f"{role}: {line}" for role, f in self.functions.items()
                for line in f.denied(self.context)]

    def drain(self, url: str) -> list[dict]:
        """Messages waiting on a queue, as an SQS event for Lambda (deleted from the queue)."""
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append({"messageId": m["MessageId"], "body": m["Body"]})
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def run_invoker(self) -> dict:
        return self.functions["invoker"].poll()

    def run_results(self) -> dict:
        return self.functions["recorder"].poll()

    def item(self, job: str) -> dict:
        return self.table.get_item(Key={"inference_id": job}, ConsistentRead=True).get("Item")

    def notify(self, job: str, *, ok: bool = True, output: str | None = None) -> None:
        """Publish SageMaker's own notification for ``job`` (the documented message)."""
        item = self.item(job) or {}
        message = {
            "awsRegion": REGION, "eventTime": "2026-11-23T10:00:01.000Z",
            "receivedTime": "2026-11-23T10:00:00.000Z",
            "invocationStatus": "Completed" if ok else "Failed",
            "requestParameters": {"contentType": "application/json", "endpointName": ENDPOINT,
                                  "inputLocation": item.get("input_location",
                                                            f"s3://{BUCKET}/{INPUT}x.json")},
            "responseParameters": {"contentType": "application/json",
                                   **({"outputLocation": output or item["output_location"]}
                                      if ok else {})},
            "inferenceId": job, "eventVersion": "1.0", "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult"}
        if not ok:
            message["failureReason"] = "ClientError: Received server error (500) from model"
        self.sns.publish(TopicArn=self.topics["success" if ok else "error"],
                         Message=json.dumps(message))


def notify_when_watched(world: World, job: str, *, ok: bool = True) -> threading.Thread:
    """``world.notify`` once a waiter's queue is subscribed to the topic it publishes to: a
    notification published before that is lost (SNS has no one to deliver it to), and a
    fixed delay lost that race on a loaded machine."""
    topic = world.topics["success" if ok else "error"]

    def watched() -> bool:
        subs = world.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        return any("-wait-" in s["Endpoint"] for s in subs)

    def run() -> None:
        deadline = time.monotonic() + 30
        while not watched() and time.monotonic() < deadline:
            time.sleep(0.02)
        world.notify(job, ok=ok)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def put(world: World, name: str, body: bytes = b'{"inputs": "hi"}') -> tuple[str, str]:
    key = f"{INPUT}{name}"
    r = world.s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="application/json")
    return key, inference_id(key, r["VersionId"])


# -- the whole path -------------------------------------------------------------------------
def test_drop_a_file_to_result(aws):
    key, job = put(aws, "a b+c.json")  # S3 events carry this key URL-encoded
    assert aws.run_invoker() == {"batchItemFailures": []}
    item = aws.item(job)
    assert item["status"] == "submitted"
    assert item["input_location"] == f"s3://{BUCKET}/{key}"
    assert item["content_type"] == "application/json"
    assert item["output_location"].startswith("s3://") and "claim" not in item
    assert isinstance(item["expires_at"], Decimal)
    aws.notify(job)
    assert aws.run_results() == {"batchItemFailures": []}
    item = aws.item(job)
    assert item["status"] == "succeeded" and item["completed_at"] == "2026-11-23T10:00:01.000Z"
    assert aws.client.job(job).result(timeout=5) == b'{"default": "response"}'


def test_failure_is_recorded_and_the_request_kept_for_replay(aws):
    _, job = put(aws, "will-fail.json", b'{"inputs": "boom"}')
    aws.run_invoker()
    aws.notify(job, ok=False)
    aws.run_results()
    item = aws.item(job)
    assert item["status"] == "failed" and "server error (500)" in item["error"]
    assert item["failed_copy"] == f"s3://{BUCKET}/{FAILED}{job}/will-fail.json"
    assert aws.s3.get_object(Bucket=BUCKET, Key=f"{FAILED}{job}/will-fail.json")[
        "Body"].read() == b'{"inputs": "boom"}'
    with pytest.raises(JobFailed, match="server error"):
        aws.client.job(job).result(timeout=5)
    # replay: the kept request goes back under input/ as a new job, submitted by the invoker
    again = aws.client.replay(job)
    assert again.inference_id != job and again.input_location.startswith(f"s3://{BUCKET}/{INPUT}")
    again.close()  # nothing to close: replay without watch=True opens no queue
    assert again._watch is None
    aws.run_invoker()
    assert aws.item(again.inference_id)["status"] == "submitted"
    assert aws.s3.get_object(Bucket=BUCKET, Key=again.input_location.split("/", 3)[3])[
        "Body"].read() == b'{"inputs": "boom"}'


def test_a_reused_key_fails_twice_and_each_job_keeps_its_own_request(aws):
    _, first = put(aws, "same.json", b"first")
    aws.run_invoker()
    _, second = put(aws, "same.json", b"second")
    aws.run_invoker()
    aws.notify(first, ok=False)  # the first job fails after the key was reused
    aws.notify(second, ok=False)
    aws.run_results()
    assert [_failed_copy(aws, job) for job in (first, second)] == [b"first", b"second"]


# -- failed copies (the ledger item as the invoker claims it) ---------------------------------
def _claimed(aws: World, name: str, body: bytes, *, status: str = "submitted") -> str:
    """Upload ``name`` and write its ledger item as the invoker does at claim time
    (``input_version``: the version it submits), without running the invoker."""
    key = f"{INPUT}{name}"
    version = aws.s3.put_object(Bucket=BUCKET, Key=key, Body=body).get("VersionId", "")
    job = inference_id(key, version)
    aws.table.put_item(Item={"inference_id": job, "status": status, "input_version": version,
                             "input_location": f"s3://{BUCKET}/{key}"})
    aws.drain(aws.requests)  # the invoker is not under test here
    return job


def _failed_copy(aws: World, job: str) -> bytes:
    copy = aws.item(job)["failed_copy"]
    assert copy == f"s3://{BUCKET}/{FAILED}{job}/same.json"
    return aws.s3.get_object(Bucket=BUCKET, Key=copy.split("/", 3)[3])["Body"].read()


def test_the_failed_copy_is_the_version_submitted_not_the_current_one(aws):
    first = _claimed(aws, "same.json", b"first")
    second = _claimed(aws, "same.json", b"second")  # the key reused: a new job
    aws.notify(first, ok=False)
    aws.notify(second, ok=False)
    assert aws.run_results() == {"batchItemFailures": []}
    assert [_failed_copy(aws, job) for job in (first, second)] == [b"first", b"second"]
    copies = [c for c in aws.functions["recorder"].calls if c.operation == "CopyObject"]
    assert [c.params["CopySource"]["VersionId"] for c in copies] == \
        [aws.item(job)["input_version"] for job in (first, second)]


def test_a_duplicate_failure_notification_copies_nothing_again(aws):
    job = _claimed(aws, "same.json", b"once")
    aws.notify(job, ok=False)
    aws.notify(job, ok=False)
    assert aws.run_results() == {"batchItemFailures": []}
    assert _failed_copy(aws, job) == b"once"
    assert [c.operation for c in aws.functions["recorder"].calls].count("CopyObject") == 1


def test_a_request_uploaded_before_versioning_is_copied_as_the_null_version(aws):
    """``input_version`` "" is an object without a version id: S3 calls it ``null``."""
    aws.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    job = _claimed(aws, "same.json", b"unversioned")
    aws.table.update_item(Key={"inference_id": job}, UpdateExpression="SET input_version = :v",
                          ExpressionAttributeValues={":v": ""})
    aws.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    aws.s3.put_object(Bucket=BUCKET, Key=f"{INPUT}same.json", Body=b"newer")
    aws.notify(job, ok=False)
    aws.run_results()
    assert _failed_copy(aws, job) == b"unversioned"


def test_a_request_expired_before_its_failure_is_recorded_without_a_copy(aws):
    job = _claimed(aws, "same.json", b"gone")
    item = aws.item(job)
    aws.s3.delete_object(Bucket=BUCKET, Key=f"{INPUT}same.json", VersionId=item["input_version"])
    aws.notify(job, ok=False)
    assert aws.run_results() == {"batchItemFailures": []}
    item = aws.item(job)
    assert item["status"] == "failed" and item["failed_copy"] == ""


def test_a_failure_for_a_job_the_ledger_does_not_know_keeps_no_copy(aws):
    """Not submitted by this runtime: its input's current version may be another request,
    so no copy; the failure itself is recorded."""
    aws.s3.put_object(Bucket=BUCKET, Key=f"{INPUT}x.json", Body=b"someone else's")
    aws.drain(aws.requests)
    aws.notify("not-from-us", ok=False)
    assert aws.run_results() == {"batchItemFailures": []}
    item = aws.item("not-from-us")
    assert item["status"] == "failed" and item["failed_copy"] == ""
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=FAILED)


def test_a_missing_grant_fails_the_permission_check(aws):
    """The check the fixture runs after every test: drop the recorder's read of request
    versions from its role and the failed copy's call is reported."""
    job = _claimed(aws, "same.json", b"x")
    aws.notify(job, ok=False)
    aws.run_results()
    recorder = aws.functions["recorder"]
    kept = recorder.statements
    recorder.statements = [s for s in kept if s["Action"] != "s3:GetObjectVersion"]
    assert len(recorder.statements) == len(kept) - 1
    assert aws.denied() == [f"recorder: s3:CopyObject needs s3:GetObjectVersion on "
                            f"arn:aws:s3:::{BUCKET}/{INPUT}same.json"]
    recorder.statements = kept


def test_client_wait_learns_from_the_notification_not_from_s3(aws, monkeypatch):
    job = aws.client.submit(prompt="Write a haiku", watch=True)
    assert aws.sqs.list_queues()["QueueUrls"][-1].split("/")[-1].startswith(f"{ENDPOINT}-wait-")
    aws.run_invoker()
    assert aws.item(job.inference_id)["status"] == "submitted"
    # the client may not look at S3 until the notification says where the output is
    real_client = boto3.client
    calls = []

    def spy(service, *a, **kw):
        c = real_client(service, *a, **kw)
        if service == "s3":
            for op in ("list_objects_v2", "list_objects", "head_object"):
                monkeypatch.setattr(c, op, lambda *x, op=op, **y: calls.append(op))
        return c
    monkeypatch.setattr(boto3, "client", spy)
    notify_when_watched(aws, job.inference_id)
    seen = []
    out = job.result(timeout=10, progress=lambda i, s, w: seen.append(s))
    assert out == b'{"default": "response"}' and calls == []
    assert seen and seen[0] == "submitted"
    # the temporary queue and its subscriptions are gone
    assert not [u for u in real_client("sqs").list_queues().get("QueueUrls", []) if "-wait-" in u]
    subs = real_client("sns").list_subscriptions()["Subscriptions"]
    assert all("-wait-" not in s["Endpoint"] for s in subs)


def test_wait_times_out(aws):
    _, job = put(aws, "slow.json")
    aws.run_invoker()
    with pytest.raises(JobTimeout):
        aws.client.job(job).result(timeout=1)


# -- faults ---------------------------------------------------------------------------------
def test_the_same_s3_event_twice_creates_one_job(aws, monkeypatch):
    put(aws, "twice.json")
    records = aws.drain(aws.requests)
    calls = []
    real = aws.invoker.runtime.invoke_endpoint_async
    monkeypatch.setattr(aws.invoker.runtime, "invoke_endpoint_async",
                        lambda **kw: calls.append(kw) or real(**kw))
    aws.invoker.handle({"Records": records})
    aws.invoker.handle({"Records": [{**r, "messageId": "redelivered"} for r in records]})
    assert len(calls) == 1
    assert calls[0]["InferenceId"] == inference_id(f"{INPUT}twice.json",
                                                   aws.s3.head_object(Bucket=BUCKET,
                                                                      Key=f"{INPUT}twice.json")["VersionId"])


def test_a_new_upload_of_the_same_key_is_a_new_job(aws, monkeypatch):
    _, first = put(aws, "same.json", b"1")
    aws.run_invoker()
    _, second = put(aws, "same.json", b"2")
    aws.run_invoker()
    assert first != second
    assert aws.item(first)["status"] == aws.item(second)["status"] == "submitted"


def test_an_upload_replaced_before_it_was_submitted_is_not_run_as_the_newer_one(aws,
                                                                              monkeypatch):
    """SageMaker reads InputLocation (no version) when it dequeues: submitting the first
    upload after the second landed would run the second request twice."""
    sent = []
    real = aws.invoker.runtime.invoke_endpoint_async
    monkeypatch.setattr(aws.invoker.runtime, "invoke_endpoint_async",
                        lambda **kw: sent.append(kw["InferenceId"]) or real(**kw))
    _, first = put(aws, "same.json", b"1")
    _, second = put(aws, "same.json", b"2")
    assert aws.run_invoker() == {"batchItemFailures": []}
    assert sent == [second]
    old, new = aws.item(first), aws.item(second)
    assert old["status"] == "failed" and old["error"].startswith(
        f"superseded: s3://{BUCKET}/{INPUT}same.json was uploaded again")
    assert "claim" not in old and new["status"] == "submitted"


def test_s3_test_event_and_other_prefixes_are_ignored(aws):
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    assert aws.invoker.handle({"Records": [{"messageId": "t", "body": body}]}) == \
        {"batchItemFailures": []}
    assert aws.table.scan()["Count"] == 0


def test_a_message_that_keeps_failing_is_reported_alone_and_can_be_claimed_again(aws, monkeypatch):
    put(aws, "ok.json")
    put(aws, "bad.json")

    def fail_for_bad(**kw):
        if kw["InputLocation"].endswith("bad.json"):
            raise ClientError({"Error": {"Code": "ValidationError", "Message": "no endpoint"}},
                              "InvokeEndpointAsync")
        return {"OutputLocation": "s3://x/y.out", "InferenceId": kw["InferenceId"]}
    monkeypatch.setattr(aws.invoker.runtime, "invoke_endpoint_async", fail_for_bad)
    records = aws.drain(aws.requests)
    result = aws.invoker.handle({"Records": records})
    bad = [r["messageId"] for r in records if "bad.json" in r["body"]]
    assert result == {"batchItemFailures": [{"itemIdentifier": bad[0]}]}
    statuses = sorted(i["status"] for i in aws.table.scan()["Items"])
    assert statuses == ["submitted"]  # the failed claim was released for the retry


def test_poison_message_lands_in_the_dead_letter_queue_after_n_attempts(aws):
    """The template's redrive policy does the counting; the handler must fail the message
    each time (not swallow it) for that to happen. Visibility 0 stands for the timeout
    passing between deliveries."""
    queue = aws.stack.resolve(aws.stack.properties(_queue_id(aws, aws.requests)))
    redrive = queue["RedrivePolicy"]
    aws.sqs.set_queue_attributes(QueueUrl=aws.requests, Attributes={"VisibilityTimeout": "0"})
    aws.sqs.send_message(QueueUrl=aws.requests, MessageBody="{not json")
    invocations = []
    real = aws.functions["invoker"].invoke
    aws.functions["invoker"].invoke = lambda event: invocations.append(event) or real(event)
    assert len(aws.run_invoker()["batchItemFailures"]) == redrive["maxReceiveCount"] == 5
    assert len(invocations) == 5
    dlq = [u for u in aws.sqs.list_queues()["QueueUrls"]
           if u.endswith("/" + redrive["deadLetterTargetArn"].rsplit(":", 1)[1])]
    assert dlq == [aws.stack.outputs()["RequestsDlqUrl"]]
    assert aws.sqs.receive_message(QueueUrl=dlq[0])["Messages"][0]["Body"] == "{not json"


def _queue_id(aws: World, url: str) -> str:
    (logical_id,) = [k for k in aws.stack.of_type("AWS::SQS::Queue")
                     if aws.stack.attributes(k)["QueueUrl"] == url]
    return logical_id


def test_the_world_is_the_template(aws):
    """What the build took from the template is what moto holds (nothing dropped)."""
    for url, visibility in ((aws.requests, "2700"), (aws.results, "180")):
        attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"]
        assert attributes["VisibilityTimeout"] == visibility
        assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 5
    subscriptions = aws.sns.list_subscriptions()["Subscriptions"]
    assert sorted(s["TopicArn"] for s in subscriptions) == sorted(aws.topics.values())
    for s in subscriptions:
        assert s["Endpoint"].endswith(":" + _queue_id(aws, aws.results))
        assert aws.sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])[
            "Attributes"]["RawMessageDelivery"] == "true"
    (rule,) = aws.s3.get_bucket_notification_configuration(Bucket=BUCKET)["QueueConfigurations"]
    assert rule["Events"] == ["s3:ObjectCreated:*"]
    assert rule["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": INPUT}]
    ttl = aws.table.meta.client.describe_time_to_live(TableName=TABLE)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert aws.functions["recorder"].environment["TABLE_NAME"] == TABLE
    assert aws.functions["invoker"].function.timeout == 450  # 5 messages x 85 s worst case + 12 s


def test_notification_for_an_unknown_id_is_kept(aws):
    aws.notify("not-from-us", output="s3://x/out")
    assert aws.run_results() == {"batchItemFailures": []}
    item = aws.item("not-from-us")
    assert item["status"] == "succeeded" and item["output_location"] == "s3://x/out"


def test_duplicate_and_out_of_order_notifications_do_not_corrupt_the_record(aws):
    _, job = put(aws, "order.json")
    aws.run_invoker()
    aws.notify(job)
    aws.notify(job)                       # duplicate
    aws.notify(job, ok=False)             # a late, contradictory one
    assert aws.run_results() == {"batchItemFailures": []}
    item = aws.item(job)
    assert item["status"] == "succeeded" and item["error"] == ""
    assert "failed_copy" not in item


def test_result_before_the_invoker_recorded_the_submission(aws, monkeypatch):
    """SageMaker can notify before the invoker's second write; the final status stays."""
    put(aws, "fast.json")
    real = aws.invoker.runtime.invoke_endpoint_async

    def and_finish(**kw):
        r = real(**kw)
        aws.recorder.record({"inferenceId": kw["InferenceId"], "invocationStatus": "Completed",
                             "responseParameters": {"outputLocation": r["OutputLocation"]},
                             "requestParameters": {"inputLocation": kw["InputLocation"]}})
        return r
    monkeypatch.setattr(aws.invoker.runtime, "invoke_endpoint_async", and_finish)
    aws.run_invoker()
    (item,) = aws.table.scan()["Items"]
    assert item["status"] == "succeeded" and "submitted_at" in item


def test_client_and_invoker_derive_the_same_id():
    assert inference_id("input/a.json", '"etag"') == \
        invoker_mod.inference_id("input/a.json", "etag")
    assert inference_id("input/a.json", "v1") != inference_id("input/b.json", "v1")


def test_streamed_tokens_are_reassembled_across_chunks():
    chunks = [b'data:{"token":{"text":"Hel', b'lo","special":false}}\n\ndata:{"token":',
              b'{"text":" world","special":false}}\ndata:{"token":{"text":"</s>","special":true},'
              b'"generated_text":"Hello world"}\n']
    assert list(sse_tokens(iter(chunks))) == ["Hello", " world"]


# -- the command line -------------------------------------------------------------------------
def test_cli_submit_status_wait_and_replay(aws, monkeypatch, capsys, tmp_path):
    import llm_client.__main__ as cli

    assert cli.main(["--stack", "nope", "submit", "--prompt", "hi"]) == 1  # no such stack
    assert "nope" in capsys.readouterr().err
    assert cli.main(["--stack", STACK, "submit", "--prompt", "hi"]) == 0
    job = capsys.readouterr().out.strip()
    assert len(job) == 48
    assert not [u for u in aws.sqs.list_queues().get("QueueUrls", []) if "-wait-" in u]
    aws.run_invoker()
    assert cli.main(["--stack", STACK, "status", job]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "submitted"
    notify_when_watched(aws, job)
    out = tmp_path / "result.json"
    assert cli.main(["--stack", STACK, "wait", job, "--out", str(out), "--timeout", "60"]) == 0
    assert out.read_bytes() == b'{"default": "response"}'
    assert "waiting for" in capsys.readouterr().err
    # a failed job: exit code 2, then replay makes a new job
    aws.s3.put_object(Bucket=BUCKET, Key=f"{INPUT}f.json", Body=b"{}")
    aws.run_invoker()
    (failed,) = [i["inference_id"] for i in aws.table.scan()["Items"]
                 if i["input_location"].endswith("/f.json")]
    notify_when_watched(aws, failed, ok=False)
    assert cli.main(["--stack", STACK, "wait", failed, "--timeout", "60"]) == 2
    assert "server error" in capsys.readouterr().err
    aws.run_results()
    assert cli.main(["--stack", STACK, "replay", failed]) == 0
    assert capsys.readouterr().out.strip() != failed
    assert cli.main(["--stack", STACK, "status", "nope"]) == 1


def test_an_upload_deleted_before_the_invoker_runs_is_skipped(aws):
    key, job = put(aws, "gone.json")
    aws.s3.delete_object(Bucket=BUCKET, Key=key,
                         VersionId=aws.s3.head_object(Bucket=BUCKET, Key=key)["VersionId"])
    assert aws.run_invoker() == {"batchItemFailures": []}
    assert aws.item(job) is None


def test_realtime_invoke_sends_the_tgi_payload(aws, monkeypatch):
    from llm_client import RealtimeEndpoint

    import requests
    requests.post("http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
                  json={"results": [{"Body": '[{"generated_text": "an ML service"}]',
                                     "ContentType": "application/json"}]})
    sent = {}
    endpoint = RealtimeEndpoint("llm-dev-chat")
    runtime = boto3.client("sagemaker-runtime")
    real = runtime.invoke_endpoint
    monkeypatch.setattr(runtime, "invoke_endpoint", lambda **kw: sent.update(kw) or real(**kw))
    monkeypatch.setattr(endpoint, "_runtime", lambda: runtime)
    assert endpoint.invoke("What is SageMaker?", {"max_new_tokens": 8}) == \
        [{"generated_text": "an ML service"}]
    assert sent["EndpointName"] == "llm-dev-chat"
    assert json.loads(sent["Body"]) == {"inputs": "What is SageMaker?",
                                        "parameters": {"max_new_tokens": 8}}
    assert sent["ContentType"] == "application/json"
