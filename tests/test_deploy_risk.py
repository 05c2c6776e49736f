"""Issue 7: the deploy-risk guard, one before/after pair per rule."""

from __future__ import annotations

import copy
import json

import pytest

from tests.helpers import dev_with, synthesize, synthesize_data
from tools import deploy_risk as risk


def rules(base: dict, head: dict) -> list[str]:
    return sorted({f.rule for f in risk.compare(base, head)})


@pytest.fixture(scope="module")
def dev() -> dict:
    return synthesize("dev").templates


def edit(templates: dict, stack_suffix: str, fn) -> dict:
    out = copy.deepcopy(templates)
    (name,) = [n for n in out if n.endswith(stack_suffix)]
    fn(out[name]["Resources"])
    return out


def of_type(res: dict, type_: str) -> list[dict]:
    return [r for r in res.values() if r["Type"] == type_]


def test_no_change_no_finding(dev):
    assert risk.compare(dev, copy.deepcopy(dev)) == []


def test_safe_changes_pass():
    """Instance type of an autoscaled variant (the scaling guard handles it), the TGI
    version, tokens: Model and EndpointConfig replaced, the Endpoint updated in place."""
    after = synthesize_data(dev_with(**{"endpoints.0.instance_type": "ml.g5.4xlarge",
                                        "endpoints.0.image": {"tgi": "3.2.3"}})).templates
    base = dict(synthesize_data(dev_with()).templates)
    assert rules(base, after) == []


def test_endpoint_replaced_by_a_new_name():
    base = synthesize_data(dev_with()).templates
    head = synthesize_data(dev_with(**{"endpoints.0.endpoint_name": "chat-v2"})).templates
    findings = risk.compare(base, head)
    assert [f.rule for f in findings] == ["endpoint-replaced"]
    assert "REPLACED (changed: EndpointName)" in findings[0].message


def test_endpoint_deleted_with_its_stack(dev):
    head = {k: v for k, v in dev.items() if not k.endswith("-endpoint-batch")}
    findings = risk.compare(dev, head)
    assert {f.rule for f in findings} >= {"endpoint-replaced", "bucket-deleted"}
    assert any("whole stack is removed" in f.message for f in findings)


def test_scaled_instance_type_change_without_the_guard(dev):
    def native(res):  # what a plain CDK app would have: a native scalable target
        res["NativeTarget"] = {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {"ResourceId": "endpoint/llm-dev-chat/variant/AllTraffic",
                           "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                           "ServiceNamespace": "sagemaker", "MinCapacity": 1,
                           "MaxCapacity": 2}}
        for k in [k for k, r in res.items() if r["Type"].startswith("Custom::Scal")]:
            del res[k]
    base = edit(dev, "-endpoint-chat", native)

    def bigger(res):
        native(res)
        for c in of_type(res, "AWS::SageMaker::EndpointConfig"):
            c["Properties"]["ProductionVariants"][0]["InstanceType"] = "ml.g5.4xlarge"
    head = edit(dev, "-endpoint-chat", bigger)
    findings = risk.compare(base, head)
    assert [f.rule for f in findings] == ["scaled-instance-type"]
    assert "ml.g5.2xlarge -> ml.g5.4xlarge" in findings[0].message


def test_bucket_deleted_or_retained(dev):
    def drop_buckets(res):
        for k in [k for k, r in res.items() if r["Type"] == "AWS::S3::Bucket"]:
            del res[k]
    head = edit(dev, "-endpoint-batch", drop_buckets)
    assert "bucket-deleted" in rules(dev, head)

    def retain(res):
        for r in of_type(res, "AWS::S3::Bucket"):
            r["DeletionPolicy"] = "Retain"
    retained = edit(dev, "-endpoint-batch", retain)
    assert "bucket-deleted" not in rules(retained, edit(retained, "-endpoint-batch", drop_buckets))


def test_bucket_weakened(dev):
    def weaken(res):
        for r in of_type(res, "AWS::S3::Bucket"):
            if "aws:kms" in json.dumps(r["Properties"].get("BucketEncryption")):
                r["Properties"]["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
                r["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] = False
        for r in of_type(res, "AWS::S3::BucketPolicy"):
            r["Properties"]["PolicyDocument"]["Statement"] = [
                s for s in r["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] != "Deny"]
    findings = [f for f in risk.compare(dev, edit(dev, "-endpoint-batch", weaken))
                if f.rule == "bucket-weakened"]
    text = " ".join(f.message for f in findings)
    assert "SSE-KMS to SSE-S3" in text and "BlockPublicPolicy" in text and "TLS" in text


def test_topic_weakened(dev):
    def weaken(res):
        for r in of_type(res, "AWS::SNS::Topic"):
            del r["Properties"]["KmsMasterKeyId"]
        for r in of_type(res, "AWS::SNS::TopicPolicy"):
            r["Properties"]["PolicyDocument"]["Statement"] = []
    findings = risk.compare(dev, edit(dev, "-endpoint-batch", weaken))
    assert {f.rule for f in findings} == {"topic-weakened"}
    assert len(findings) == 4  # two topics: key and TLS policy each


def test_encryption_removed(dev):
    def weaken(res):
        for r in of_type(res, "AWS::SQS::Queue"):
            r["Properties"].pop("SqsManagedSseEnabled", None)
        for r in of_type(res, "AWS::KMS::Key"):
            r["Properties"]["EnableKeyRotation"] = False
    findings = risk.compare(dev, edit(dev, "-endpoint-batch", weaken))
    assert {f.rule for f in findings} == {"encryption-removed"}
    assert any("rotation" in f.message for f in findings)


def test_iam_broadened(dev):
    def widen(res):
        (policy,) = [r for k, r in res.items()
                     if r["Type"] == "AWS::IAM::Policy" and k.startswith("ExecutionRolePolicy")]
        policy["Properties"]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    findings = risk.compare(dev, edit(dev, "-endpoint-chat", widen))
    assert [f.rule for f in findings] == ["iam-broadened"]
    assert "s3:* on *" in findings[0].message


def test_network_isolation_removed(prod):
    def open_(res):
        for r in of_type(res, "AWS::SageMaker::Model"):
            r["Properties"]["EnableNetworkIsolation"] = False
    base = prod.templates
    assert rules(base, edit(base, "-endpoint-chat", open_)) == ["iam-broadened"]


def test_command_line_accepts_a_rule_and_writes_markdown(tmp_path):
    base = synthesize_data(dev_with()).outdir
    head = synthesize_data(dev_with(**{"endpoints.0.endpoint_name": "chat-v2"})).outdir
    md = tmp_path / "risk.md"
    assert risk.main([str(base), str(head), "--markdown", str(md)]) == 1
    assert "endpoint-replaced" in md.read_text()
    assert risk.main([str(base), str(head), "--accept", "endpoint-replaced"]) == 0
    assert risk.main([str(base), str(head), "--accept", "nonsense"]) == 2
