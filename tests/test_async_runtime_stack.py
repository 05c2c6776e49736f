"""Issue 5: the runtime around async endpoints as the stack declares it (dev.yaml's
``batch`` stack: notification, queues, ledger, functions and their grants, outputs) and
its config rules. The runtime running in moto is tests/test_async_runtime.py; these tests
need no AWS mock (split from it so each module is one shorter unit of work for xdist)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import (as_list, dev_with, nag_report_ok, one, problems, resources,
                           statements, synthesize, synthesize_data)

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


def test_failed_copies_expire_with_the_requests(batch):
    """dev's batch endpoint keeps requests 7 days (expire_after_days): the failed copies
    under failed/ too, so none outlives its job's request."""
    (bucket,) = [b for k, b in resources(batch, "AWS::S3::Bucket").items()
                 if k.startswith("AsyncBucket")]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    days = {r.get("Prefix"): r.get("ExpirationInDays") for r in rules}
    assert days["failed/"] == days["input/"] == days["output/"] == days["failure/"]
    assert days["failed/"] is not None


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
    for s in inv + statements(batch, "RuntimeRecorderRole"):
        assert s["Resource"] != "*", s


def test_the_recorder_reads_submitted_versions_and_writes_failed_copies_only(batch):
    rec = statements(batch, "RuntimeRecorderRole")
    put = [s for s in rec if "s3:PutObject" in as_list(s["Action"])]
    assert len(put) == 1 and json.dumps(put[0]["Resource"]).endswith('/failed/*"]]}')
    # the failed copy reads the submitted version of a request, and nothing else under input/
    (read,) = [s for s in rec if any(a.startswith("s3:Get") for a in as_list(s["Action"]))]
    assert read["Action"] == "s3:GetObjectVersion"
    assert json.dumps(read["Resource"]).endswith('/input/*"]]}')
    (ledger,) = [s for s in rec if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert sorted(as_list(ledger["Action"])) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]


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
    assert {"dynamodb:GetItem", "dynamodb:BatchGetItem", "sns:Subscribe", "sns:Unsubscribe",
            "sqs:CreateQueue", "sqs:ReceiveMessage", "cloudformation:DescribeStacks"} <= actions
    kept = [s for s in stmts if as_list(s["Action"]) == ["s3:GetObject"]
            and "/failed/*" in json.dumps(s["Resource"])]
    assert len(kept) == 1  # replay reads the kept copies
    (describe,) = [s for s in stmts if s["Action"] == "cloudformation:DescribeStacks"]
    assert describe["Resource"] == {"Ref": "AWS::StackId"}
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
