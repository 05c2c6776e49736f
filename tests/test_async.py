"""Asynchronous endpoints: seed 001 reproduced number for number, scaling from and to
zero on the async metrics (EndpointName dimension only), storage and notifications
encrypted and SSL-only, least-privilege S3, update safety, alarms, dashboard, outputs."""

from __future__ import annotations

import json

import pytest

from tests.helpers import (problems, as_list, dev_with, nag_report_ok, one, resources,
                           seed_async_with, statements, synthesize_data)

EP = "endpoints[0] (flan-t5-xxl)"


@pytest.fixture(scope="module")
def seed(request) -> dict:
    return request.getfixturevalue("shipped_seed").endpoint("flan-t5-xxl")


@pytest.fixture(scope="module")
def shipped_seed():
    from tests.helpers import synthesize

    return synthesize("seed-async")


def policies_of(template: dict) -> dict[str, dict]:
    _, target = one(template, "Custom::ScalableVariant")
    return {p["PolicyName"]: p for p in json.loads(target["Properties"]["Policies"])}


# -- the seed's numbers -------------------------------------------------------------------
def test_seed_instance_gpus_and_concurrency(seed):
    _, model = one(seed, "AWS::SageMaker::Model")
    env = model["Properties"]["PrimaryContainer"]["Environment"]
    assert env["SM_NUM_GPUS"] == "4" and env["HF_MODEL_ID"] == "google/flan-t5-xxl"
    _, config = one(seed, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["InstanceType"] == "ml.g5.12xlarge"
    assert variant["InitialInstanceCount"] == 1  # SageMaker requires >= 1 at creation
    client = config["Properties"]["AsyncInferenceConfig"]["ClientConfig"]
    assert client == {"MaxConcurrentInvocationsPerInstance": 10}


def test_seed_scaling_numbers(seed):
    _, target = one(seed, "Custom::ScalableVariant")
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (0, 5)
    cfg = policies_of(seed)["BacklogPerInstance"]["TargetTrackingScalingPolicyConfiguration"]
    assert cfg["TargetValue"] == 5
    assert (cfg["ScaleInCooldown"], cfg["ScaleOutCooldown"]) == (600, 100)


def test_backlog_metric_has_only_the_endpoint_name_dimension(seed):
    metric = policies_of(seed)["BacklogPerInstance"]["TargetTrackingScalingPolicyConfiguration"][
        "CustomizedMetricSpecification"]
    assert metric == {"MetricName": "ApproximateBacklogSizePerInstance",
                      "Namespace": "AWS/SageMaker", "Statistic": "Average",
                      "Dimensions": [{"Name": "EndpointName",
                                      "Value": "llm-seed-async-flan-t5-xxl"}]}


def test_scale_from_zero_alarm_and_step_policy(seed):
    alarms = {k: v["Properties"] for k, v in resources(seed, "AWS::CloudWatch::Alarm").items()
              if v["Properties"]["MetricName"] == "HasBacklogWithoutCapacity"}
    (alarm,) = alarms.values()
    assert alarm["Namespace"] == "AWS/SageMaker"
    assert alarm["Dimensions"] == [{"Name": "EndpointName", "Value": "llm-seed-async-flan-t5-xxl"}]
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (60, 1, 1)
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    target_id, _ = one(seed, "Custom::ScalableVariant")
    assert alarm["AlarmActions"] == [{"Fn::GetAtt": [target_id, "ScaleFromZeroArn"]}]
    step = policies_of(seed)["ScaleFromZero"]
    assert step["PolicyType"] == "StepScaling"
    assert step["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ChangeInCapacity"
    assert step["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]


def test_no_scale_from_zero_policy_when_min_is_one():
    t = synthesize_data(seed_async_with(**{"endpoints.0.autoscaling.min_capacity": 1}),
                        nag=False).endpoint("flan-t5-xxl")
    assert set(policies_of(t)) == {"BacklogPerInstance"}
    assert not [a for a in resources(t, "AWS::CloudWatch::Alarm").values()
                if a["Properties"]["MetricName"] == "HasBacklogWithoutCapacity"]


# -- update safety --------------------------------------------------------------------
def test_scaling_is_released_before_and_restored_after_the_endpoint(seed):
    endpoint_id, endpoint = one(seed, "AWS::SageMaker::Endpoint")
    release_id, release = one(seed, "Custom::ScalingRelease")
    _, target = one(seed, "Custom::ScalableVariant")
    assert release_id in endpoint["DependsOn"]
    assert endpoint_id in target["DependsOn"]
    assert release["Properties"]["Fingerprint"] == target["Properties"]["Fingerprint"] == \
        "ml.g5.12xlarge"
    assert release["Properties"]["ResourceId"] == target["Properties"]["ResourceId"] == \
        "endpoint/llm-seed-async-flan-t5-xxl/variant/AllTraffic"
    assert not resources(seed, "AWS::ApplicationAutoScaling::ScalableTarget")


def test_instance_type_change_changes_both_guard_fingerprints(seed):
    after = synthesize_data(seed_async_with(**{"endpoints.0.instance_type": "ml.g5.24xlarge"}),
                            nag=False).endpoint("flan-t5-xxl")
    for type_ in ("Custom::ScalingRelease", "Custom::ScalableVariant"):
        lid, res = one(after, type_)
        assert lid == one(seed, type_)[0]
        assert res["Properties"]["Fingerprint"] == "ml.g5.24xlarge"


def test_guard_function_permissions_are_scoped(seed):
    by_action = {}
    for s in statements(seed, "ScalingGuard"):
        for a in as_list(s["Action"]):
            by_action[a] = s
    scoped = sorted(r["Fn::Join"][1][-1] for r in by_action["sagemaker:DescribeEndpoint"][
        "Resource"])
    assert scoped == [":endpoint-config/*", ":endpoint/llm-seed-async-flan-t5-xxl"]
    assert json.dumps(by_action["cloudwatch:PutMetricAlarm"]["Resource"]).endswith(
        ':alarm:TargetTracking-endpoint/llm-seed-async-flan-t5-xxl/*"]]}')
    assert by_action["iam:CreateServiceLinkedRole"]["Condition"] == {"StringLike": {
        "iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}}
    (fn,) = [f for k, f in resources(seed, "AWS::Lambda::Function").items()
             if k.startswith("ScalingGuard") and f["Properties"]["Handler"] == "handler.handler"]
    assert fn["Properties"]["Architectures"] == ["arm64"]
    assert fn["Properties"]["Runtime"].startswith("python3.1")


# -- storage and notifications --------------------------------------------------------
def buckets(t: dict) -> tuple[dict, dict]:
    found = resources(t, "AWS::S3::Bucket")
    data = [b for b in found.values() if "LoggingConfiguration" in b["Properties"]]
    logs = [b for b in found.values() if "LoggingConfiguration" not in b["Properties"]]
    assert len(data) == 1 and len(logs) == 1
    return data[0], logs[0]


def test_bucket_is_kms_encrypted_private_versioned_logged_and_expires(seed):
    data, log_bucket = buckets(seed)
    p = data["Properties"]
    (rule,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key_id = next(iter(resources(seed, "AWS::KMS::Key")))
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": [key_id, "Arn"]}
    assert p["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    expiring = {r.get("Prefix"): r.get("ExpirationInDays") for r in
                p["LifecycleConfiguration"]["Rules"] if "Prefix" in r}
    assert expiring == {"async-llm-output/input/": 30, "async-llm-output/output/": 30,
                        "async-llm-output/failure/": 30, "failed/": 30}  # the runtime's copies
    assert log_bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]


def test_buckets_and_topics_deny_insecure_transport(seed):
    for type_ in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy"):
        pols = resources(seed, type_)
        assert len(pols) == 2, type_
        for pol in pols.values():
            denies = [s for s in pol["Properties"]["PolicyDocument"]["Statement"]
                      if s["Effect"] == "Deny"
                      and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
            assert denies, (type_, pol)


def test_topics_are_encrypted_with_the_async_key(seed):
    key_id, key = one(seed, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    topics = resources(seed, "AWS::SNS::Topic")
    assert len(topics) == 2
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_destroy_empties_buckets_and_retain_keeps_them(seed):
    # seed-async uses the default removal_policy: destroy.
    emptied = {r["Properties"]["BucketName"]["Ref"]
               for r in resources(seed, "Custom::S3AutoDeleteObjects").values()}
    assert emptied == set(resources(seed, "AWS::S3::Bucket"))
    kept = synthesize_data(seed_async_with(removal_policy="retain"), nag=False
                           ).endpoint("flan-t5-xxl")
    assert not resources(kept, "Custom::S3AutoDeleteObjects")
    for bucket in resources(kept, "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
    assert one(kept, "AWS::KMS::Key")[1]["DeletionPolicy"] == "Retain"


def test_async_output_config_points_at_the_bucket_and_topics(seed):
    _, config = one(seed, "AWS::SageMaker::EndpointConfig")
    out = config["Properties"]["AsyncInferenceConfig"]["OutputConfig"]
    bucket_id = next(k for k, b in resources(seed, "AWS::S3::Bucket").items()
                     if "LoggingConfiguration" in b["Properties"])
    assert out["S3OutputPath"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket_id},
                                                     "/async-llm-output/output/"]]}
    assert out["S3FailurePath"]["Fn::Join"][1][-1] == "/async-llm-output/failure/"
    topic_ids = set(resources(seed, "AWS::SNS::Topic"))
    note = out["NotificationConfig"]
    assert {note["SuccessTopic"]["Ref"], note["ErrorTopic"]["Ref"]} == topic_ids
    assert "IncludeInferenceResponseIn" not in note


def test_role_writes_only_results_and_failures_and_reads_only_requests(seed):
    s3 = [s for s in statements(seed, "ExecutionRole")
          if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    writes = [s for s in s3 if "s3:PutObject" in as_list(s["Action"])]
    reads = [s for s in s3 if "s3:GetObject" in as_list(s["Action"])]
    assert len(writes) == 1 and len(reads) == 1
    suffixes = sorted(r["Fn::Join"][1][-1] for r in as_list(writes[0]["Resource"]))
    assert suffixes == ["/async-llm-output/failure/*", "/async-llm-output/output/*"]
    assert reads[0]["Resource"]["Fn::Join"][1][-1] == "/async-llm-output/input/*"
    assert {a for s in s3 for a in as_list(s["Action"])} == {
        "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}
    publish = [s for s in statements(seed, "ExecutionRole") if s["Action"] == "sns:Publish"]
    assert len(publish) == 1 and len(publish[0]["Resource"]) == 2


def test_include_inference_response_in_is_passed_through():
    t = synthesize_data(seed_async_with(**{
        "endpoints.0.async_inference.include_inference_response_in":
            ["SUCCESS_NOTIFICATION_TOPIC"]}), nag=False).endpoint("flan-t5-xxl")
    _, config = one(t, "AWS::SageMaker::EndpointConfig")
    assert config["Properties"]["AsyncInferenceConfig"]["OutputConfig"]["NotificationConfig"][
        "IncludeInferenceResponseIn"] == ["SUCCESS_NOTIFICATION_TOPIC"]


def test_existing_bucket_and_prod_key(prod):
    data = dev_with(**{"endpoints.0.mode": "async", "endpoints.0.autoscaling": None,
                       "endpoints.0.async_inference": {
                           "existing_bucket": "team-llm-io", "runtime": False,
                           "output_path": "s3://team-llm-io/results/"},
                       "encryption": {"customer_managed_key": True}})
    synth = synthesize_data(data)
    t = synth.endpoint("chat")
    assert not resources(t, "AWS::S3::Bucket")
    _, config = one(t, "AWS::SageMaker::EndpointConfig")
    out = config["Properties"]["AsyncInferenceConfig"]["OutputConfig"]
    assert out["S3OutputPath"] == "s3://team-llm-io/results/"
    assert not resources(t, "AWS::KMS::Key")  # the configured CMK is used
    assert "Fn::GetStackOutput" in json.dumps(out["KmsKeyId"])
    assert nag_report_ok(synth)


def test_async_invoke_principals_may_submit_and_read_results():
    arn = "arn:aws:iam::123456789012:role/batch-client"
    t = synthesize_data(seed_async_with(**{"endpoints.0.invoke_principals": [arn]})
                        ).endpoint("flan-t5-xxl")
    stmts = [s for r in resources(t, "AWS::IAM::Policy").values()
             if r["Properties"].get("Roles") == ["batch-client"]
             for s in r["Properties"]["PolicyDocument"]["Statement"]]
    actions = {a for s in stmts for a in as_list(s["Action"])}
    assert "sagemaker:InvokeEndpointAsync" in actions
    assert "sagemaker:InvokeEndpoint" not in actions
    put = [s for s in stmts if "s3:PutObject" in as_list(s["Action"])]
    assert [r["Fn::Join"][1][-1] for r in as_list(put[0]["Resource"])] == [
        "/async-llm-output/input/*"]


# -- alarms, dashboard, outputs ----------------------------------------------------------
def test_async_alarms(seed):
    alarms = {a["Properties"]["MetricName"]: a["Properties"]
              for a in resources(seed, "AWS::CloudWatch::Alarm").values()}
    assert alarms["ApproximateAgeOfOldestRequest"]["Threshold"] == 1800
    assert alarms["ApproximateAgeOfOldestRequest"]["Dimensions"] == [
        {"Name": "EndpointName", "Value": "llm-seed-async-flan-t5-xxl"}]
    assert alarms["InvocationFailures"]["Statistic"] == "Sum"
    assert alarms["InvocationFailures"]["Threshold"] == 1


def test_realtime_alarms_with_topic_actions():
    topic = "arn:aws:sns:us-east-1:123456789012:ops-alerts"
    t = synthesize_data(dev_with(**{"endpoints.0.alarms": {
        "topic_arn": topic, "invocation_5xx_errors": 3, "model_latency_p90_ms": 2000}}),
        nag=False).endpoint("chat")
    alarms = {a["Properties"]["MetricName"]: a["Properties"]
              for a in resources(t, "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {"Invocation5XXErrors", "ModelLatency"}
    assert alarms["Invocation5XXErrors"]["Threshold"] == 3
    assert alarms["ModelLatency"]["Threshold"] == 2_000_000  # microseconds
    assert alarms["ModelLatency"]["ExtendedStatistic"] == "p90"
    for a in alarms.values():
        assert a["AlarmActions"] == [topic] and a["OKActions"] == [topic]
        assert {"Name": "VariantName", "Value": "AllTraffic"} in a["Dimensions"]


def test_alarms_can_be_disabled():
    t = synthesize_data(dev_with(**{"endpoints.0.alarms": {"enabled": False}}),
                        nag=False).endpoint("chat")
    assert not resources(t, "AWS::CloudWatch::Alarm")
    assert not resources(t, "AWS::CloudWatch::Dashboard")


def test_dashboard_shows_what_operators_need(seed):
    _, dash = one(seed, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dash["Properties"]["DashboardBody"])
    for metric in ("ApproximateBacklogSize", "ApproximateBacklogSizePerInstance",
                   "HasBacklogWithoutCapacity", "ApproximateAgeOfOldestRequest",
                   "InvocationFailures", "GPUUtilization", "CPUUtilization",
                   "TotalProcessingTime", "ModelLatency"):
        assert f'\\\\"{metric}\\\\"' in body or f'\\"{metric}\\"' in body, metric
    assert dash["Properties"]["DashboardName"] == "llm-seed-async-flan-t5-xxl"


def test_async_outputs_tell_a_client_everything(seed):
    outputs = seed["Outputs"]
    for key in ("EndpointName", "InputLocation", "OutputPath", "FailurePath",
                "SuccessTopicArn", "ErrorTopicArn", "AsyncBucket", "AsyncKeyArn"):
        assert key in outputs, key
    assert outputs["Mode"]["Value"] == "async"
    assert outputs["InputLocation"]["Value"]["Fn::Join"][1][-1] == "/async-llm-output/input/"


def test_dev_has_a_realtime_and_an_async_endpoint(dev):
    assert sorted(dev.endpoints) == ["llm-dev-endpoint-batch", "llm-dev-endpoint-chat"]
    assert dev.endpoint("batch")["Outputs"]["Mode"]["Value"] == "async"
    _, target = one(dev.endpoint("batch"), "Custom::ScalableVariant")
    assert target["Properties"]["MinCapacity"] == 0


# -- bad input -------------------------------------------------------------------------
def test_async_settings_on_a_realtime_endpoint():
    p = problems(dev_with(**{"endpoints.0.async_inference": {}}))
    assert "async settings on a real-time endpoint" in p["endpoints[0] (chat).async_inference"]


def test_async_max_below_min():
    p = problems(seed_async_with(**{"endpoints.0.autoscaling.min_capacity": 6}))
    assert "6 is above max_capacity 5" in p[f"{EP}.autoscaling.min_capacity"]


@pytest.mark.parametrize("bad", [0, -1])
def test_concurrency_must_be_positive(bad):
    p = problems(seed_async_with(**{
        "endpoints.0.async_inference.max_concurrent_invocations_per_instance": bad}))
    msg = p[f"{EP}.async_inference.max_concurrent_invocations_per_instance"]
    assert "greater than or equal to 1" in msg and repr(bad) in msg


def test_output_path_outside_the_owned_bucket():
    p = problems(seed_async_with(**{
        "endpoints.0.async_inference.output_path": "s3://someone-elses-bucket/out/"}))
    msg = p[f"{EP}.async_inference.output_path"]
    assert "outside the bucket this stack owns" in msg and "existing_bucket" in msg


def test_path_in_another_bucket_than_the_existing_one():
    p = problems(seed_async_with(**{
        "endpoints.0.async_inference.existing_bucket": "mine",
        "endpoints.0.async_inference.output_path": "s3://other/out/"}))
    assert "not in existing_bucket 'mine'" in p[f"{EP}.async_inference.output_path"]


def test_overlapping_prefixes():
    p = problems(seed_async_with(**{"endpoints.0.async_inference.failure_path":
                                    "async-llm-output/output/failed/"}))
    assert "overlaps output_path" in p[f"{EP}.async_inference.failure_path"]


def test_inference_response_needs_notifications():
    p = problems(seed_async_with(**{
        "endpoints.0.async_inference.notifications": False,
        "endpoints.0.async_inference.include_inference_response_in":
            ["ERROR_NOTIFICATION_TOPIC"]}))
    assert "notifications: true" in p[f"{EP}.async_inference.include_inference_response_in"]


def test_invocation_target_on_async_and_backlog_target_on_realtime():
    p = problems(seed_async_with(**{"endpoints.0.autoscaling.target_invocations_per_instance": 3}))
    assert "use target_backlog_per_instance" in p[
        f"{EP}.autoscaling.target_invocations_per_instance"]
    p = problems(dev_with(**{"endpoints.0.autoscaling.target_backlog_per_instance": 3}))
    assert "only async endpoints have a backlog" in p[
        "endpoints[0] (chat).autoscaling.target_backlog_per_instance"]


def test_bad_alarm_topic_arn():
    p = problems(dev_with(**{"endpoints.0.alarms": {"topic_arn": "ops-alerts"}}))
    assert "ops-alerts" in p["endpoints[0] (chat).alarms.topic_arn"]
