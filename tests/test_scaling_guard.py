"""The scaling guard custom resource (llm_constructs/scaling/runtime), run against moto.

The whole update story: create -> instance type change (release deregisters, the
endpoint would update, the variant re-registers with the same capacities and policies)
-> delete. Handlers are called directly; CloudFormation's response PUT is captured."""

from __future__ import annotations

import importlib.util
import json

import boto3
import pytest
from moto import mock_aws

from llm_constructs.scaling import RUNTIME_DIR

SPEC = importlib.util.spec_from_file_location(
    "scaling_guard_handler", RUNTIME_DIR / "handler.py")
guard = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(guard)

KEY = {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/e1/variant/AllTraffic",
       "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
BACKLOG = {"PolicyName": "BacklogPerInstance", "PolicyType": "TargetTrackingScaling",
           "TargetTrackingScalingPolicyConfiguration": {
               "TargetValue": 5, "ScaleInCooldown": 600, "ScaleOutCooldown": 100,
               "CustomizedMetricSpecification": {
                   "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
                   "Dimensions": [{"Name": "EndpointName", "Value": "e1"}],
                   "Statistic": "Average"}}}
FROM_ZERO = {"PolicyName": "ScaleFromZero", "PolicyType": "StepScaling",
             "StepScalingPolicyConfiguration": {
                 "AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Average",
                 "Cooldown": 120,
                 "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]}}


def props(instance="ml.g5.12xlarge", policies=(BACKLOG, FROM_ZERO), lo="0", hi="5", **extra):
    # CloudFormation hands custom resources every scalar as a string.
    return {**KEY, "ServiceToken": "arn:aws:lambda:us-east-1:1:function:g", "Fingerprint": instance,
            "MinCapacity": lo, "MaxCapacity": hi, "Policies": json.dumps(list(policies)),
            **extra}


def event(kind, request, new, old=None):
    e = {"RequestType": request, "ResourceType": kind, "ResourceProperties": new,
         "ResponseURL": "https://cfn-response.example/put", "StackId": "arn:stack",
         "RequestId": "r1", "LogicalResourceId": "Target"}
    if old is not None:
        e["OldResourceProperties"] = old
        e["PhysicalResourceId"] = old["ResourceId"]
    return e


@pytest.fixture
def responses(monkeypatch):
    sent = []

    class _Resp:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return b""

    def fake_urlopen(request, timeout):
        assert request.get_method() == "PUT" and timeout == 30
        sent.append(json.loads(request.data))
        return _Resp()

    monkeypatch.setattr(guard.urllib.request, "urlopen", fake_urlopen)
    return sent


@pytest.fixture
def aas():
    with mock_aws():
        yield boto3.client("application-autoscaling", region_name="us-east-1")


def registered(aas):
    return aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]


def policies(aas):
    return {p["PolicyName"]: p for p in aas.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=KEY["ResourceId"])["ScalingPolicies"]}


def test_create_registers_target_and_policies_and_returns_their_arns(aas, responses):
    data = guard.handler(event("Custom::ScalableVariant", "Create", props()), aas=aas)
    (target,) = registered(aas)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 5)
    found = policies(aas)
    assert set(found) == {"BacklogPerInstance", "ScaleFromZero"}
    cfg = found["BacklogPerInstance"]["TargetTrackingScalingPolicyConfiguration"]
    assert cfg["TargetValue"] == 5 and cfg["ScaleInCooldown"] == 600
    assert cfg["CustomizedMetricSpecification"]["Dimensions"] == [
        {"Name": "EndpointName", "Value": "e1"}]
    (resp,) = responses
    assert resp["Status"] == "SUCCESS"
    assert resp["PhysicalResourceId"] == KEY["ResourceId"]
    assert resp["Data"] == data
    assert data["ScaleFromZeroArn"] == found["ScaleFromZero"]["PolicyARN"]


def test_instance_type_change_deregisters_before_and_restores_after(aas, responses):
    guard.handler(event("Custom::ScalableVariant", "Create", props()), aas=aas)
    before = registered(aas)[0]

    # 1. Release runs before the endpoint update: the target must be gone.
    guard.handler(event("Custom::ScalingRelease", "Update", props("ml.g5.24xlarge"),
                        old=props("ml.g5.12xlarge")), aas=aas)
    assert registered(aas) == []
    # 2. (CloudFormation updates the endpoint here.) 3. The variant registers again.
    data = guard.handler(event("Custom::ScalableVariant", "Update", props("ml.g5.24xlarge"),
                               old=props("ml.g5.12xlarge")), aas=aas)
    (after,) = registered(aas)
    assert (after["MinCapacity"], after["MaxCapacity"]) == (before["MinCapacity"],
                                                            before["MaxCapacity"])
    assert set(policies(aas)) == {"BacklogPerInstance", "ScaleFromZero"}
    assert set(data) == {"BacklogPerInstanceArn", "ScaleFromZeroArn"}
    assert [r["Status"] for r in responses] == ["SUCCESS"] * 3


def test_release_leaves_the_target_alone_when_the_instance_type_is_unchanged(aas, responses):
    guard.handler(event("Custom::ScalableVariant", "Create", props()), aas=aas)
    guard.handler(event("Custom::ScalingRelease", "Update", props(hi="9"), old=props()), aas=aas)
    assert len(registered(aas)) == 1
    guard.handler(event("Custom::ScalingRelease", "Create", props()), aas=aas)
    assert len(registered(aas)) == 1


def test_capacity_change_updates_in_place_and_dropped_policy_is_deleted(aas, responses):
    guard.handler(event("Custom::ScalableVariant", "Create", props()), aas=aas)
    guard.handler(event("Custom::ScalableVariant", "Update", props(lo="1", hi="8",
                                                                   policies=(BACKLOG,)),
                        old=props()), aas=aas)
    (target,) = registered(aas)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 8)
    assert set(policies(aas)) == {"BacklogPerInstance"}


def test_delete_deregisters_and_is_idempotent(aas, responses):
    guard.handler(event("Custom::ScalableVariant", "Create", props()), aas=aas)
    guard.handler(event("Custom::ScalableVariant", "Delete", props()), aas=aas)
    assert registered(aas) == []
    guard.handler(event("Custom::ScalableVariant", "Delete", props()), aas=aas)  # retried
    guard.handler(event("Custom::ScalingRelease", "Delete", props()), aas=aas)
    assert [r["Status"] for r in responses] == ["SUCCESS"] * 4


def test_retried_create_is_idempotent(aas, responses):
    first = guard.handler(event("Custom::ScalableVariant", "Create", props()), aas=aas)
    second = guard.handler(event("Custom::ScalableVariant", "Create", props()), aas=aas)
    assert len(registered(aas)) == 1 and set(policies(aas)) == {"BacklogPerInstance",
                                                               "ScaleFromZero"}
    assert set(first) == set(second)


def test_failure_is_reported_to_cloudformation(aas, responses):
    bad = props(policies=({"PolicyName": "X", "PolicyType": "NoSuchType"},))
    assert guard.handler(event("Custom::ScalableVariant", "Create", bad), aas=aas) == {}
    (resp,) = responses
    assert resp["Status"] == "FAILED"
    assert resp["Reason"]


def test_unknown_resource_type_fails_instead_of_hanging(aas, responses):
    guard.handler(event("Custom::Nope", "Create", props()), aas=aas)
    assert responses[0]["Status"] == "FAILED"
