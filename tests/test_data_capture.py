"""Data capture (issue 16, item 4): the config's checks, the DataCaptureConfig SageMaker
gets, the capture bucket (encrypted, SSL-only, private, expiring, one writer), the role's
write of exactly the capture prefix, your own bucket and key, and the deploy-risk guard's
judgement of capture changes."""

from __future__ import annotations

import copy
import json

import pytest

from config import parse_config
from tests.helpers import (as_list, dev_with, nag_report_ok, one, problems, resources,
                           seed_async_with, statements, synthesize_data)
from tools import deploy_risk as risk

EP = "endpoints[0] (chat)"
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def capture_problems(capture: dict, **changes) -> dict[str, str]:
    return problems(dev_with(**{"endpoints.0.data_capture": capture}, **changes))


# -- config ------------------------------------------------------------------------------------
def test_defaults_capture_a_tenth_of_both_sides_into_the_stack_bucket():
    cfg = parse_config(dev_with(**{"endpoints.0.data_capture": {}}))
    dc = cfg.endpoints[0].data_capture
    assert dc is not None
    assert (dc.enabled, dc.sampling_percentage, dc.capture_modes, dc.destination,
            dc.own_bucket, dc.expire_after_days) == (True, 10, ["Input", "Output"], "capture/",
                                                     True, 30)


def test_prod_captures_ten_percent():
    from config import load_config

    dc = load_config("prod").endpoints[0].data_capture
    assert dc is not None and dc.sampling_percentage == 10 and dc.own_bucket


@pytest.mark.parametrize(("capture", "field", "says"), [
    ({"sampling_percentage": 101}, "sampling_percentage", "less than or equal to 100"),
    ({"capture": ["input", "input"]}, "capture", "lists a mode twice"),
    ({"capture": []}, "capture", "at least 1 item"),
    ({"capture": ["request"]}, "capture[0]", "'input' or 'output'"),
    ({"destination": "/capture"}, "destination", "neither an S3 prefix"),
    ({"destination": "s3://Not_A_Bucket/x/"}, "destination", "cannot be an S3 bucket name"),
    ({"kms_key_arn": "arn:aws:sns:us-east-1:111122223333:topic"}, "kms_key_arn",
     "is not an ARN of kms key/"),
])
def test_bad_values_are_named(capture, field, says):
    found = capture_problems(capture)
    assert says in found[f"{EP}.data_capture.{field}"]


def test_botocore_checks_the_content_types_and_the_uri_length():
    found = capture_problems({"json_content_types": ["application/json", "not a type"],
                              "destination": "s3://my-captures/" + "p" * 500 + "/"})
    assert "CaptureContentTypeHeader.JsonContentTypes" in (
        found[f"{EP}.data_capture.json_content_types[1]"])
    uri = found[f"{EP}.data_capture.destination"]
    assert "DataCaptureConfig.DestinationS3Uri takes at most 512" in uri
    assert "botocore" in uri


def test_the_stack_bucket_prefix_is_counted_with_the_longest_bucket_name():
    found = capture_problems({"destination": "p" * 450 + "/"})  # 5 + 63 + 1 + 451 > 512
    assert "counting the bucket the stack creates at 63 characters" in (
        found[f"{EP}.data_capture.destination"])
    parse_config(dev_with(**{"endpoints.0.data_capture": {"destination": "p" * 430 + "/"}}))


def test_serverless_endpoints_refuse_capture():
    from tests.helpers import config_data

    data = copy.deepcopy(config_data("seed-containers"))
    (i,) = [i for i, ep in enumerate(data["endpoints"]) if ep.get("mode") == "serverless"]
    data["endpoints"][i]["data_capture"] = {}
    found = problems(data)
    assert found[f"endpoints[{i}] (serverless).data_capture"] == (
        "mode: serverless: SageMaker does not capture data on serverless endpoints; use a "
        "real-time endpoint, or remove data_capture")


def test_components_endpoints_refuse_capture():
    from tests.helpers import config_data

    data = copy.deepcopy(config_data("seed-components"))
    data["endpoints"][0]["data_capture"] = {}
    name = data["endpoints"][0]["name"]
    found = problems(data)
    assert "does not capture on components endpoints" in (
        found[f"endpoints[0] ({name}).data_capture"])


def test_settings_of_the_other_destination_are_refused():
    own = capture_problems({"kms_key_arn": KEY})
    assert "is for an s3:// destination" in own[f"{EP}.data_capture.kms_key_arn"]
    yours = capture_problems({"destination": "s3://my-captures/llm/", "expire_after_days": 7})
    assert "set a lifecycle rule on your bucket" in yours[f"{EP}.data_capture.expire_after_days"]


def test_a_key_in_another_region_is_refused_with_a_fixed_region():
    found = capture_problems({"destination": "s3://my-captures/llm/",
                              "kms_key_arn": KEY.replace("us-east-1", "eu-west-1")},
                             **{"deployment.region": "us-east-1"})
    assert "is in eu-west-1" in found[f"{EP}.data_capture.kms_key_arn"]


# -- the stack's capture bucket (real-time, dev: no config key, destroy) -------------------------
@pytest.fixture(scope="module")
def realtime():
    return synthesize_data(dev_with(**{"endpoints.0.data_capture": {"sampling_percentage": 25,
                                                                     "capture": ["input"]}}))


def _capture_bucket(template: dict) -> tuple[str, dict]:
    (found,) = [(lid, r) for lid, r in resources(template, "AWS::S3::Bucket").items()
                if lid.startswith("CaptureBucket")]
    return found


def test_endpoint_config_gets_the_capture(realtime):
    template = realtime.endpoint("chat")
    _, config = one(template, "AWS::SageMaker::EndpointConfig")
    dc = config["Properties"]["DataCaptureConfig"]
    bucket_id, _ = _capture_bucket(template)
    assert dc["EnableCapture"] is True and dc["InitialSamplingPercentage"] == 25
    assert dc["CaptureOptions"] == [{"CaptureMode": "Input"}]
    assert dc["CaptureContentTypeHeader"] == {"JsonContentTypes": ["application/json"]}
    assert dc["DestinationS3Uri"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/capture/"]]}
    (key_id,) = [lid for lid in resources(template, "AWS::KMS::Key") if lid.startswith("Capture")]
    assert dc["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_capture_bucket_is_encrypted_private_and_expiring(realtime):
    template = realtime.endpoint("chat")
    bucket_id, bucket = _capture_bucket(template)
    props = bucket["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    assert {"ExpirationInDays": 30, "Status": "Enabled"}.items() <= next(
        r for r in props["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r).items()
    (policy,) = [p for p in resources(template, "AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    policy_statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in policy_statements if "Sid" in s}
    assert {"Effect": "Deny", "Action": "s3:*", "Principal": {"AWS": "*"},
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}.items() <= (
        policy_statements[0].items())
    role = {"Fn::GetAtt": [_role(template), "Arn"]}
    allow, deny = by_sid["EndpointWritesCaptures"], by_sid["NoOtherWriter"]
    assert allow["Principal"] == {"AWS": role} and allow["Action"] == "s3:PutObject"
    assert allow["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]},
                                                   "/capture/*"]]}
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": role}}


def _role(template: dict) -> str:
    (lid,) = [lid for lid in resources(template, "AWS::IAM::Role")
              if lid.startswith("ExecutionRole")]
    return lid


def test_role_writes_exactly_the_capture_prefix(realtime):
    template = realtime.endpoint("chat")
    bucket_id, _ = _capture_bucket(template)
    writes = [s for s in statements(template, "ExecutionRole")
              if "s3:PutObject" in as_list(s["Action"])]
    assert [w["Resource"] for w in writes] == [
        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/capture/*"]]}]
    (key_id,) = [lid for lid in resources(template, "AWS::KMS::Key") if lid.startswith("Capture")]
    (kms,) = [s for s in statements(template, "ExecutionRole")
              if s.get("Resource") == {"Fn::GetAtt": [key_id, "Arn"]}]
    assert sorted(as_list(kms["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_capture_location_is_an_output(realtime):
    outputs = realtime.endpoint("chat")["Outputs"]
    bucket_id, _ = _capture_bucket(realtime.endpoint("chat"))
    assert outputs["CaptureLocation"]["Value"] == {
        "Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/capture/"]]}


def test_cdk_nag_has_no_finding(realtime):
    assert nag_report_ok(realtime)


def test_cfn_lint_has_no_error(realtime):
    from tests.test_lint_and_nag import lint

    text = json.dumps(realtime.endpoint("chat"))
    assert [m for m in lint(text) if m.rule.id.startswith("E")] == []


# -- deploy risk ------------------------------------------------------------------------------
def _edited(templates: dict, fn) -> dict:
    out = copy.deepcopy(templates)
    (name,) = [n for n in out if n.endswith("-endpoint-chat")]
    fn(out[name]["Resources"])
    return out


def _capture_config(res: dict) -> dict:
    (config,) = [r for r in res.values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    return config["Properties"]["DataCaptureConfig"]


def test_turning_capture_off_or_resampling_is_no_risk(realtime):
    """The endpoint config is replaced on every change (it has no name), the captures
    stay where they are: nothing to flag."""
    off = _edited(realtime.templates, lambda r: _capture_config(r).update(EnableCapture=False))
    more = _edited(realtime.templates,
                   lambda r: _capture_config(r).update(InitialSamplingPercentage=100))
    assert risk.compare(realtime.templates, off) == []
    assert risk.compare(realtime.templates, more) == []


def test_removing_the_capture_bucket_under_destroy_is_flagged(realtime):
    def drop(res: dict) -> None:
        for lid in [lid for lid in res if lid.startswith("Capture")]:
            del res[lid]
    findings = risk.compare(realtime.templates, _edited(realtime.templates, drop))
    bucket_id, _ = _capture_bucket(realtime.endpoint("chat"))
    assert ("bucket-deleted", bucket_id) in {(f.rule, f.resource) for f in findings}


# -- your bucket and key (async) ---------------------------------------------------------------
@pytest.fixture(scope="module")
def yours():
    data = seed_async_with(**{"endpoints.0.data_capture": {
        "destination": "s3://my-captures/llm/", "kms_key_arn": KEY,
        "csv_content_types": ["text/csv"]}})
    return synthesize_data(data, nag=True).endpoint("flan-t5-xxl")


def test_async_endpoint_captures_into_your_bucket_with_your_key(yours):
    _, config = one(yours, "AWS::SageMaker::EndpointConfig")
    dc = config["Properties"]["DataCaptureConfig"]
    assert dc["DestinationS3Uri"] == "s3://my-captures/llm/" and dc["KmsKeyId"] == KEY
    assert dc["CaptureContentTypeHeader"] == {"JsonContentTypes": ["application/json"],
                                              "CsvContentTypes": ["text/csv"]}
    assert "AsyncInferenceConfig" in config["Properties"]
    assert not [lid for lid in resources(yours, "AWS::S3::Bucket") if lid.startswith("Capture")]


def test_role_writes_exactly_your_prefix_with_your_key(yours):
    role = statements(yours, "ExecutionRole")
    writes = [json.dumps(s["Resource"]) for s in role if "s3:PutObject" in as_list(s["Action"])]
    assert [w for w in writes if "my-captures" in w] == [json.dumps(
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::my-captures/llm/*"]]})]
    (kms,) = [s for s in role if KEY in as_list(s.get("Resource"))]
    assert sorted(as_list(kms["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]


# -- the construct's own checks ------------------------------------------------------------------
@pytest.mark.parametrize(("change", "says"), [
    ({"sampling_percentage": 101}, "sampling_percentage 101: 0 to 100"),
    ({"modes": ("Input", "Input")}, "Input, Output or both, once each"),
    # SageMaker's enum has InputAndOutput too; the construct takes one option per side, as
    # the SageMaker Python SDK sends them, so each appears one way only.
    ({"modes": ("InputAndOutput",)}, "Input, Output or both, once each"),
    ({"prefix": "capture"}, "a key prefix ending in '/'"),
])
def test_data_capture_refuses_bad_props(change, says):
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    from llm_constructs import DataCapture

    bucket = s3.Bucket.from_bucket_name(cdk.Stack(), "B", "my-captures")
    with pytest.raises(ValueError, match=says):
        DataCapture(bucket=bucket, **change)
