"""Issue 5: the runtime around async endpoints, end to end against moto (no network).

S3 put -> (S3 event on the requests queue) -> invoker handler -> InvokeEndpointAsync ->
SageMaker's notification on the success/error topic -> (results queue) -> result handler
-> ledger and failed/ copy -> the client's wait. Handlers are called directly with the
messages moto delivered to the queues.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from decimal import Decimal

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from llm_client import AsyncEndpoint, JobFailed, JobTimeout, inference_id
from llm_client.client import sse_tokens
from llm_constructs.async_runtime import INVOKER_CODE, RECORDER_CODE


def _load(name: str, folder):
    spec = importlib.util.spec_from_file_location(name, folder / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


invoker_mod = _load("async_invoker", INVOKER_CODE)
results_mod = _load("async_results", RECORDER_CODE)

REGION, BUCKET, TABLE, ENDPOINT = "us-east-1", "llm-async-bucket", "llm-jobs", "llm-dev-batch"
INPUT, FAILED = "input/", "failed/"


def _with_version_id(original):
    """moto leaves ``versionId`` out of S3 event records; S3 sends it for versioned buckets
    (notification-content-structure), and the invoker relies on it."""
    def event(event_name, bucket, key, notification_id):
        body = original(event_name, bucket, key, notification_id)
        if key.version_id and key.version_id != "null":
            body["Records"][0]["s3"]["object"]["versionId"] = key.version_id
        return body
    return event


@pytest.fixture
def aws(monkeypatch):
    from moto.s3 import notifications
    monkeypatch.setattr(notifications, "_get_s3_event",
                        _with_version_id(notifications._get_s3_event))
    for var, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(var, value)
    with mock_aws():
        s3, sqs, sns = boto3.client("s3"), boto3.client("sqs"), boto3.client("sns")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        boto3.client("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "inference_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "inference_id", "AttributeType": "S"}])
        requests = sqs.create_queue(QueueName="requests")["QueueUrl"]
        results = sqs.create_queue(QueueName="results")["QueueUrl"]
        arn = lambda url: sqs.get_queue_attributes(  # noqa: E731
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn(requests), "Events": ["s3:ObjectCreated:*"],
                                     "Filter": {"Key": {"FilterRules": [
                                         {"Name": "prefix", "Value": INPUT}]}}}]})
        topics = {}
        for name in ("success", "error"):
            topics[name] = sns.create_topic(Name=name)["TopicArn"]
            sns.subscribe(TopicArn=topics[name], Protocol="sqs", Endpoint=arn(results),
                          Attributes={"RawMessageDelivery": "true"})
        yield World(s3, sqs, sns, requests, results, topics)


class World:
    def __init__(self, s3, sqs, sns, requests, results, topics):
        self.s3, self.sqs, self.sns = s3, sqs, sns
        self.requests, self.results, self.topics = requests, results, topics
        self.invoker = invoker_mod.Invoker(endpoint_name=ENDPOINT, table_name=TABLE,
                                           input_prefix=INPUT, ttl_days=7)
        self.recorder = results_mod.ResultRecorder(table_name=TABLE, input_prefix=INPUT,
                                                   failed_prefix=FAILED)
        self.client = AsyncEndpoint(ENDPOINT, f"s3://{BUCKET}/{INPUT}", TABLE,
                                    topics["success"], topics["error"])
        self.table = boto3.resource("dynamodb").Table(TABLE)

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
        return self.invoker.handle({"Records": self.drain(self.requests)})

    def run_results(self) -> dict:
        return self.recorder.handle({"Records": self.drain(self.results)})

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
    assert item["failed_copy"] == f"s3://{BUCKET}/{FAILED}will-fail.json"
    assert aws.s3.get_object(Bucket=BUCKET, Key=f"{FAILED}will-fail.json")["Body"].read() == \
        b'{"inputs": "boom"}'
    with pytest.raises(JobFailed, match="server error"):
        aws.client.job(job).result(timeout=5)
    # replay: the kept request goes back under input/ as a new job, submitted by the invoker
    again = aws.client.replay(job)
    assert again.inference_id != job and again.input_location.startswith(f"s3://{BUCKET}/{INPUT}")
    again._watch.close()
    aws.run_invoker()
    assert aws.item(again.inference_id)["status"] == "submitted"


def test_client_wait_learns_from_the_notification_not_from_s3(aws, monkeypatch):
    job = aws.client.submit(prompt="Write a haiku")
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
    timer = threading.Timer(0.3, aws.notify, args=(job.inference_id,))
    timer.start()
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


def test_a_new_upload_of_the_same_key_is_a_new_job(aws):
    _, first = put(aws, "same.json", b"1")
    _, second = put(aws, "same.json", b"2")
    aws.run_invoker()
    assert first != second and aws.item(first) and aws.item(second)


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
    """The queue's redrive policy does the counting; the handler must fail the message
    each time (not swallow it) for that to happen."""
    sqs = aws.sqs
    dlq = sqs.create_queue(QueueName="requests-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    q = sqs.create_queue(QueueName="requests-redrive", Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})[
        "QueueUrl"]
    sqs.send_message(QueueUrl=q, MessageBody="{not json")
    for _ in range(5):
        for m in sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10).get("Messages", []):
            out = aws.invoker.handle({"Records": [{"messageId": m["MessageId"],
                                                   "body": m["Body"]}]})
            assert out["batchItemFailures"]  # not deleted: Lambda leaves it to SQS
    assert sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"] == "{not json"


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


# -- the stack --------------------------------------------------------------------------------
from tests.helpers import (as_list, dev_with, nag_report_ok, one, problems,  # noqa: E402
                           resources, statements, synthesize, synthesize_data)

EP = "endpoints[0] (chat)"


@pytest.fixture(scope="module")
def batch() -> dict:
    return synthesize("dev").endpoint("batch")


def _by_prefix(template: dict, type_: str, prefix: str) -> dict:
    (res,) = [r for k, r in resources(template, type_).items() if k.startswith(prefix)]
    return res


def test_uploads_under_input_reach_the_requests_queue(batch):
    _, n = one(batch, "Custom::S3BucketNotifications")
    (cfg,) = n["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert cfg["Events"] == ["s3:ObjectCreated:*"]
    assert cfg["Filter"] == {"Key": {"FilterRules": [{"Name": "prefix", "Value": "input/"}]}}
    assert cfg["QueueArn"]["Fn::GetAtt"][0].startswith("RuntimeRequests")


def test_queues_retry_then_dead_letter_with_alarms(batch):
    requests = _by_prefix(batch, "AWS::SQS::Queue", "RuntimeRequests6")
    assert requests["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    assert requests["Properties"]["VisibilityTimeout"] == 2700  # 6x the invoker's timeout
    for q in resources(batch, "AWS::SQS::Queue").values():
        assert q["Properties"]["SqsManagedSseEnabled"] is True
    alarms = [a for k, a in resources(batch, "AWS::CloudWatch::Alarm").items() if "Dlq" in k]
    assert len(alarms) == 2
    for a in alarms:
        assert a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert a["Properties"]["Threshold"] == 1
    for m in resources(batch, "AWS::Lambda::EventSourceMapping").values():
        assert m["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_results_come_from_both_topics_raw(batch):
    subs = resources(batch, "AWS::SNS::Subscription").values()
    assert len(subs) == 2
    assert all(s["Properties"]["Protocol"] == "sqs" and s["Properties"]["RawMessageDelivery"]
               for s in subs)


def test_ledger_is_on_demand_encrypted_recoverable_and_expires(batch):
    _, t = one(batch, "AWS::DynamoDB::Table")
    p = t["Properties"]
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["KeySchema"] == [{"AttributeName": "inference_id", "KeyType": "HASH"}]
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["SSESpecification"]["SSEEnabled"] is True
    assert p["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_functions_are_scoped_to_their_endpoint_table_and_prefixes(batch):
    inv = statements(batch, "RuntimeInvokerRole")
    invoke = [s for s in inv if "sagemaker:InvokeEndpointAsync" in as_list(s["Action"])]
    endpoint_id, _ = one(batch, "AWS::SageMaker::Endpoint")
    assert len(invoke) == 1 and invoke[0]["Resource"] == {"Ref": endpoint_id}  # Ref: its ARN
    (table,) = [s for s in inv if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert set(as_list(table["Action"])) == {"dynamodb:PutItem", "dynamodb:UpdateItem",
                                             "dynamodb:DeleteItem"}
    assert "Fn::GetAtt" in json.dumps(table["Resource"])  # the ledger's ARN, not "*"
    s3_inv = [s for s in inv if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert json.dumps([s["Resource"] for s in s3_inv]).count("/input/*") == 1
    rec = statements(batch, "RuntimeRecorderRole")
    put = [s for s in rec if "s3:PutObject" in as_list(s["Action"])]
    assert len(put) == 1 and json.dumps(put[0]["Resource"]).endswith('/failed/*"]]}')
    for s in inv + rec:
        assert s["Resource"] != "*", s


def test_runtime_functions_run_the_latest_python_on_arm(batch):
    fns = [f for k, f in resources(batch, "AWS::Lambda::Function").items()
           if k.startswith("Runtime")]
    assert len(fns) == 2
    assert all(f["Properties"]["Runtime"] == "python3.14" and
               f["Properties"]["Architectures"] == ["arm64"] for f in fns)


def test_outputs_the_client_reads(batch):
    assert {"EndpointName", "InputLocation", "JobTableName", "SuccessTopicArn",
            "ErrorTopicArn", "RequestsDlqUrl", "ResultsDlqUrl"} <= set(batch["Outputs"])


def test_invoke_principals_may_wait_and_read_the_ledger():
    role = "arn:aws:iam::123456789012:role/analyst"
    data = dev_with(**{"endpoints.0.mode": "async", "endpoints.0.autoscaling": None,
                       "endpoints.0.tgi_settings": None, "endpoints.0.invoke_principals": [role]})
    synth = synthesize_data(data)
    t = synth.endpoint("chat")
    stmts = statements(t, "Invoker0")
    actions = {a for s in stmts for a in as_list(s["Action"])}
    assert {"dynamodb:GetItem", "sns:Subscribe", "sns:Unsubscribe", "sqs:CreateQueue",
            "sqs:ReceiveMessage"} <= actions
    (queues,) = [s for s in stmts if "sqs:CreateQueue" in as_list(s["Action"])]
    assert json.dumps(queues["Resource"]).endswith(':llm-dev-chat-wait-*"]]}')
    assert nag_report_ok(synth)


@pytest.mark.parametrize("settings,path,fragment", [
    ({"notifications": False}, "runtime", "notification topics"),
    ({"existing_bucket": "team-io"}, "runtime", "replace those of your bucket"),
    ({"failed_requests_path": "input/failed/"}, "failed_requests_path", "overlaps input_path"),
])
def test_runtime_config_rules(settings, path, fragment):
    data = dev_with(**{"endpoints.0.mode": "async", "endpoints.0.autoscaling": None,
                       "endpoints.0.tgi_settings": None, "endpoints.0.async_inference": settings})
    assert fragment in problems(data)[f"{EP}.async_inference.{path}"]


def test_runtime_can_be_turned_off():
    data = dev_with(**{"endpoints.0.mode": "async", "endpoints.0.autoscaling": None,
                       "endpoints.0.tgi_settings": None,
                       "endpoints.0.async_inference": {"runtime": False}})
    t = synthesize_data(data, nag=False).endpoint("chat")
    assert not resources(t, "AWS::DynamoDB::Table") and not resources(t, "AWS::SQS::Queue")


# -- the command line -------------------------------------------------------------------------
def test_cli_submit_status_wait_and_replay(aws, monkeypatch, capsys, tmp_path):
    import llm_client.__main__ as cli

    monkeypatch.setattr(cli.AsyncEndpoint, "from_stack",
                        classmethod(lambda cls, name, session=None: aws.client))
    assert cli.main(["--stack", "s", "submit", "--prompt", "hi"]) == 0
    job = capsys.readouterr().out.strip()
    assert len(job) == 48
    assert not [u for u in aws.sqs.list_queues().get("QueueUrls", []) if "-wait-" in u]
    aws.run_invoker()
    assert cli.main(["--stack", "s", "status", job]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "submitted"
    threading.Timer(0.3, aws.notify, args=(job,)).start()
    out = tmp_path / "result.json"
    assert cli.main(["--stack", "s", "wait", job, "--out", str(out), "--timeout", "10"]) == 0
    assert out.read_bytes() == b'{"default": "response"}'
    assert "waiting for" in capsys.readouterr().err
    # a failed job: exit code 2, then replay makes a new job
    aws.s3.put_object(Bucket=BUCKET, Key=f"{INPUT}f.json", Body=b"{}")
    aws.run_invoker()
    (failed,) = [i["inference_id"] for i in aws.table.scan()["Items"]
                 if i["input_location"].endswith("/f.json")]
    threading.Timer(0.3, aws.notify, args=(failed,), kwargs={"ok": False}).start()
    assert cli.main(["--stack", "s", "wait", failed, "--timeout", "10"]) == 2
    assert "server error" in capsys.readouterr().err
    aws.run_results()
    assert cli.main(["--stack", "s", "replay", failed]) == 0
    assert capsys.readouterr().out.strip() != failed
    assert cli.main(["--stack", "s", "status", "nope"]) == 1


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
