"""The scaling guard custom resources (llm_constructs/scaling/runtime), run against moto.

Every outcome of a stack operation is driven through the handler with the events
CloudFormation sends (through CDK's Provider framework, which answers CloudFormation with
what the handler returns): Create; Update with OldResourceProperties; in a rollback, Update
with the old template's properties as ResourceProperties and the failed ones as
OldResourceProperties; Delete. Application Auto Scaling is moto's; SageMaker is a fake whose
deployed instance type and status each step sets (moto's SageMaker knows no g5 types and
has no UpdateEndpoint). After each path the registration must be exactly the scaling the
deployed template declares: range, policies and scheduled actions (moto keeps a target's
scheduled actions when it is deregistered; AWS deletes them, and so does the client the
tests give the guard, so every path must put them back)."""

from __future__ import annotations

import importlib.util
import json
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from llm_constructs.scaling import RUNTIME_DIR
from tests.helpers import nag_report, nag_report_ok, one, resources, statements, synthesize

SPEC = importlib.util.spec_from_file_location(
    "scaling_guard_handler", RUNTIME_DIR / "handler.py")
guard = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(guard)

RELEASE, VARIANT = "Custom::ScalingRelease", "Custom::ScalableVariant"
G12, G24 = "ml.g5.12xlarge", "ml.g5.24xlarge"
KEY = {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/e1/variant/AllTraffic",
       "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
PROVIDER = "arn:aws:lambda:us-east-1:111111111111:function:stack-ScalingGuardProviderframework"
GUARD = "arn:aws:lambda:us-east-1:111111111111:function:stack-ScalingGuardFunction"
STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/llm-endpoint/6a7e8feb"
RULE = "llm-endpoint-Llm-Scaling-A4C1B1C0"
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
DAY = {"ScheduledActionName": "office-hours-start", "Schedule": "cron(0 8 ? * MON-FRI *)",
       "Timezone": "Europe/Berlin", "ScalableTargetAction": {"MinCapacity": 2}}
NIGHT = {"ScheduledActionName": "office-hours-end", "Schedule": "cron(0 19 ? * MON-FRI *)",
         "Timezone": "Europe/Berlin", "ScalableTargetAction": {"MinCapacity": 0}}
LATER_DAY = {**DAY, "Schedule": "cron(0 9 ? * MON-FRI *)",
             "ScalableTargetAction": {"MinCapacity": 3, "MaxCapacity": 8}}


def props(instance=G12, policies=(BACKLOG, FROM_ZERO), lo="0", hi="5", token=PROVIDER,
          schedules=(DAY, NIGHT)):
    # CloudFormation hands custom resources every scalar as a string; both resources
    # carry the same declaration. Without schedules the template has no ScheduledActions.
    declared_schedules = {"ScheduledActions": json.dumps(list(schedules))} if schedules else {}
    return {**KEY, "ServiceToken": token, "Fingerprint": instance,
            "MinCapacity": lo, "MaxCapacity": hi, "Policies": json.dumps(list(policies)),
            **declared_schedules}


OLD = props()                                                  # the deployed template
NEW = props(G24, policies=(BACKLOG,), lo="1", hi="8",          # type and scaling change
            schedules=(LATER_DAY,))
SCALING_ONLY = props(hi="9", policies=(BACKLOG,), schedules=(NIGHT,))


def event(kind, request, new, old=None):
    e = {"RequestType": request, "ResourceType": kind, "ResourceProperties": new,
         "ResponseURL": "https://cfn-response.example/put", "StackId": "arn:stack",
         "RequestId": "r1", "LogicalResourceId": kind.split("::")[1],
         "ServiceToken": new["ServiceToken"]}
    if request != "Create":
        e["PhysicalResourceId"] = (old or new)["ResourceId"]
    if old is not None:
        e["OldResourceProperties"] = old
    return e


class FakeSageMaker:
    """DescribeEndpoint / DescribeEndpointConfig as botocore shapes them, for one endpoint
    whose deployed instance type (None: no endpoint) and status the test sets."""

    def __init__(self):
        self.instance_type: str | None = None
        self.statuses: list[str] = []  # statuses to report before "InService"
        self.final_status = "InService"

    def runs(self, instance_type: str | None) -> None:
        self.instance_type = instance_type

    def describe_endpoint(self, EndpointName):
        if self.instance_type is None:
            raise ClientError({"Error": {"Code": "ValidationException", "Message":
                                         f'Could not find endpoint "{EndpointName}".'}},
                              "DescribeEndpoint")
        status = self.statuses.pop(0) if self.statuses else self.final_status
        return {"EndpointName": EndpointName, "EndpointStatus": status,
                "EndpointConfigName": f"{EndpointName}-{self.instance_type}"}

    def describe_endpoint_config(self, EndpointConfigName):
        instance_type = EndpointConfigName.split("-", 1)[1]
        return {"EndpointConfigName": EndpointConfigName,
                "ProductionVariants": [{"VariantName": "AllTraffic",
                                        "InstanceType": instance_type,
                                        "InitialInstanceCount": 1}]}


class FakeCloudFormation:
    """DescribeStacks for the one stack, whose status the test sets."""

    def __init__(self):
        self.status = "UPDATE_ROLLBACK_COMPLETE"

    def describe_stacks(self, StackName):
        assert StackName == STACK_ID
        return {"Stacks": [{"StackId": StackName, "StackStatus": self.status}]}


class AwsLikeAutoscaling:
    """moto's Application Auto Scaling, except that deregistering a target deletes its
    scheduled actions, as AWS does."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def deregister_scalable_target(self, **key):
        for action in self._client.describe_scheduled_actions(**key)["ScheduledActions"]:
            self._client.delete_scheduled_action(
                ScheduledActionName=action["ScheduledActionName"], **key)
        return self._client.deregister_scalable_target(**key)


@pytest.fixture(scope="module")
def moto_clients():
    with mock_aws():  # started once per module (about 0.4 s each time)
        yield (AwsLikeAutoscaling(boto3.client("application-autoscaling",
                                               region_name="us-east-1")),
               boto3.client("events", region_name="us-east-1"))


@pytest.fixture
def aas(moto_clients):
    aas, rules = moto_clients
    yield aas
    # moto keeps a target's policies when it is deregistered (AWS deletes them; the guard
    # puts every declared policy on each registration, so no outcome depends on that)
    for policy in aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]:
        aas.delete_scaling_policy(**{k: policy[k] for k in ("PolicyName", *KEY)})
    for action in aas.describe_scheduled_actions(ServiceNamespace="sagemaker")["ScheduledActions"]:
        aas.delete_scheduled_action(**{k: action[k] for k in ("ScheduledActionName", *KEY)})
    for target in aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]:
        aas.deregister_scalable_target(**{k: target[k] for k in KEY})
    for rule in rules.list_rules()["Rules"]:
        rules.remove_targets(Rule=rule["Name"], Ids=["Target0"])
        rules.delete_rule(Name=rule["Name"])


@pytest.fixture
def rules(moto_clients, aas):
    return moto_clients[1]


@pytest.fixture
def stack():
    return FakeCloudFormation()


@pytest.fixture
def endpoint():
    return FakeSageMaker()


@pytest.fixture
def slept():
    return []


@pytest.fixture
def aws(aas, endpoint, slept, rules, stack):
    return guard.Aws(aas, endpoint, remaining_ms=lambda: 600_000, sleep=slept.append,
                     events=rules, cloudformation=stack)


@pytest.fixture
def send(aws):
    """Deliver one event to the handler as the Provider framework does."""
    context = SimpleNamespace(invoked_function_arn=GUARD)

    def deliver(kind, request, new, old=None):
        return guard.handler(event(kind, request, new, old), context, aws=aws)
    return deliver


def registration(aas):
    """(min, max, {policy: its configuration}, {scheduled action: (schedule, time zone,
    bounds)}) as Application Auto Scaling holds it."""
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    if not targets:
        return None
    (target,) = targets
    found = aas.describe_scaling_policies(ServiceNamespace="sagemaker",
                                          ResourceId=KEY["ResourceId"])["ScalingPolicies"]
    return (target["MinCapacity"], target["MaxCapacity"],
            {p["PolicyName"]: _config(p) for p in found}, scheduled(aas))


def scheduled(aas):
    found = aas.describe_scheduled_actions(ServiceNamespace="sagemaker",
                                           ResourceId=KEY["ResourceId"])["ScheduledActions"]
    return {a["ScheduledActionName"]: _schedule(a) for a in found}


def declared(template_props):
    return (int(template_props["MinCapacity"]), int(template_props["MaxCapacity"]),
            {p["PolicyName"]: _config(p) for p in json.loads(template_props["Policies"])},
            {a["ScheduledActionName"]: _schedule(a)
             for a in json.loads(template_props.get("ScheduledActions", "[]"))})


def _schedule(action):
    return action["Schedule"], action.get("Timezone"), action["ScalableTargetAction"]


def _config(policy):
    return policy.get("TargetTrackingScalingPolicyConfiguration") or \
        policy["StepScalingPolicyConfiguration"]


@pytest.fixture
def deployed(send, endpoint):
    """A stack created with OLD: the endpoint runs ml.g5.12xlarge, registered with OLD."""
    send(RELEASE, "Create", OLD)
    endpoint.runs(G12)
    send(VARIANT, "Create", OLD)
    return OLD


# -- every path ends registered as the deployed template declares ---------------------
def test_a_variant_with_instance_pools_is_told_by_its_types_in_priority_order():
    """DescribeEndpointConfig gives a pooled variant InstancePools and no InstanceType
    (botocore's ProductionVariant shape has both members): the guard's reading is the pool
    types by priority, as VariantAutoScaling's fingerprint joins them."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    variant_shape = model.shape_for("ProductionVariant")
    assert {"InstanceType", "InstancePools"} <= set(variant_shape.members)
    pool_shape = variant_shape.members["InstancePools"].member
    assert {"InstanceType", "Priority"} <= set(pool_shape.members)
    pooled = {"VariantName": "AllTraffic", "InstancePools": [
        {"InstanceType": "ml.g6.12xlarge", "Priority": 3},
        {"InstanceType": "ml.g5.12xlarge", "Priority": 1},
        {"InstanceType": "ml.g6e.12xlarge", "Priority": 2}]}
    assert guard.variant_instance_types(pooled) == (
        "ml.g5.12xlarge, ml.g6e.12xlarge, ml.g6.12xlarge")
    assert guard.variant_instance_types({"VariantName": "AllTraffic",
                                         "InstanceType": "ml.g5.2xlarge"}) == "ml.g5.2xlarge"
    assert guard.variant_instance_types({"VariantName": "AllTraffic"}) is None


def test_create(send, endpoint, aas):
    send(RELEASE, "Create", OLD)           # no endpoint yet: nothing to register
    assert registration(aas) is None
    endpoint.runs(G12)                      # CloudFormation creates the endpoint
    result = send(VARIANT, "Create", OLD)
    assert registration(aas) == declared(OLD)
    assert result["PhysicalResourceId"] == KEY["ResourceId"]
    assert set(result["Data"]) == {"BacklogPerInstanceArn", "ScaleFromZeroArn"}


def test_update_with_an_instance_type_change(deployed, send, endpoint, aas):
    send(RELEASE, "Update", NEW, OLD)       # the endpoint still runs g5.12xlarge
    assert registration(aas) is None        # so SageMaker accepts the type change
    endpoint.runs(G24)
    send(VARIANT, "Update", NEW, OLD)
    assert registration(aas) == declared(NEW)


def test_endpoint_update_fails_and_the_rollback_restores_the_old_scaling(
        deployed, send, endpoint, aas):
    send(RELEASE, "Update", NEW, OLD)
    assert registration(aas) is None
    # SageMaker fails the update and keeps g5.12xlarge; the Target was never updated, so
    # the rollback sends it nothing. The Release's rollback Update restores the scaling.
    send(RELEASE, "Update", OLD, NEW)
    assert registration(aas) == declared(OLD)


def test_later_failure_after_the_endpoint_rolls_both_back(deployed, send, endpoint, aas):
    send(RELEASE, "Update", NEW, OLD)
    endpoint.runs(G24)
    send(VARIANT, "Update", NEW, OLD)
    assert registration(aas) == declared(NEW)
    # another resource fails: the rollback runs in dependency order of the old template
    send(RELEASE, "Update", OLD, NEW)       # g5.24xlarge runs: the way back changes type
    assert registration(aas) is None
    endpoint.runs(G12)                      # the endpoint's rollback
    send(VARIANT, "Update", OLD, NEW)
    assert registration(aas) == declared(OLD)


def test_release_update_fails_and_its_rollback_restores(deployed, send, endpoint, aas):
    aas.deregister_scalable_target(**KEY)   # the release got this far, then failed
    send(RELEASE, "Update", OLD, NEW)       # CloudFormation rolls the failed release back
    assert registration(aas) == declared(OLD)


def test_scaling_only_change_and_its_rollback(deployed, send, endpoint, aas):
    send(RELEASE, "Update", SCALING_ONLY, OLD)  # no type change ahead: applied at once
    assert registration(aas) == declared(SCALING_ONLY)
    # a later resource fails before the Target's turn: the release alone restores
    send(RELEASE, "Update", OLD, SCALING_ONLY)
    assert registration(aas) == declared(OLD)
    send(RELEASE, "Update", SCALING_ONLY, OLD)  # deployed again, this time to the end
    send(VARIANT, "Update", SCALING_ONLY, OLD)
    assert registration(aas) == declared(SCALING_ONLY)


def test_scheduled_actions_are_put_and_converged(deployed, send, aas):
    assert scheduled(aas) == {"office-hours-start": _schedule(DAY),
                              "office-hours-end": _schedule(NIGHT)}
    aas.put_scheduled_action(**KEY, ScheduledActionName="by-hand", Schedule="rate(1 day)",
                             ScalableTargetAction={"MaxCapacity": 1})
    send(VARIANT, "Update", props(schedules=(LATER_DAY,)), OLD)
    assert scheduled(aas) == {"office-hours-start": _schedule(LATER_DAY)}  # others deleted
    send(VARIANT, "Update", props(schedules=()), OLD)  # the template declares none
    assert scheduled(aas) == {}


def test_a_type_change_and_its_rollback_put_the_schedules_back(deployed, send, endpoint, aas):
    send(RELEASE, "Update", NEW, OLD)
    assert scheduled(aas) == {}             # deregistered: AWS deleted them with the target
    send(RELEASE, "Update", OLD, NEW)       # the endpoint update failed: rollback
    assert registration(aas)[3] == {"office-hours-start": _schedule(DAY),
                                    "office-hours-end": _schedule(NIGHT)}
    send(RELEASE, "Update", NEW, OLD)       # deployed again, this time to the end
    endpoint.runs(G24)
    send(VARIANT, "Update", NEW, OLD)
    assert registration(aas)[3] == {"office-hours-start": _schedule(LATER_DAY)}


def test_delete(deployed, send, endpoint, aas):
    result = send(VARIANT, "Delete", OLD)
    assert registration(aas) is None
    assert result["PhysicalResourceId"] == KEY["ResourceId"]
    endpoint.runs(None)
    send(RELEASE, "Delete", OLD)
    send(VARIANT, "Delete", OLD)            # retried
    assert registration(aas) is None


def test_retried_events_change_nothing(deployed, send, endpoint, aas):
    # a redeploy of an unchanged template sends no event; a retried one is harmless
    send(RELEASE, "Update", OLD, OLD)
    send(VARIANT, "Create", OLD)
    assert registration(aas) == declared(OLD)


def settle(rules, template_props):
    """The after-rollback rule as CloudFormation leaves it (its target's input holds the
    current template's declaration), and the event it sends once the rollback completed."""
    declaration = {k: v for k, v in template_props.items() if k != "ServiceToken"}
    body = json.dumps({"SettledStack": {**declaration, "Rule": RULE, "StackId": STACK_ID}})
    rules.put_rule(Name=RULE, EventPattern=json.dumps({"source": ["aws.cloudformation"]}))
    rules.put_targets(Rule=RULE, Targets=[{"Id": "Target0", "Arn": GUARD, "Input": body}])
    return json.loads(body)


def test_later_failure_during_the_endpoint_update_is_repaired_once_rolled_back(
        deployed, send, endpoint, aas, rules, aws):
    send(RELEASE, "Update", NEW, OLD)
    endpoint.runs(G24)
    # another resource failed while the endpoint updated: the Target's turn never came
    send(RELEASE, "Update", OLD, NEW)       # the way back changes type: deregister
    endpoint.runs(G12)                      # the endpoint's rollback; the Target: no event
    assert registration(aas) is None
    guard.handler(settle(rules, OLD), aws=aws)  # UPDATE_ROLLBACK_COMPLETE
    assert registration(aas) == declared(OLD)


def test_after_rollback_reads_the_rule_as_it_is_now(deployed, aas, rules, aws, stack):
    stale = settle(rules, OLD)              # a retried event from an earlier rollback...
    settle(rules, NEW)                      # ...after a deployment declared g5.24xlarge
    aas.deregister_scalable_target(**KEY)   # (whose release deregistered; g5.12xlarge runs)
    guard.handler(stale, aws=aws)
    assert registration(aas) is None        # NEW's type does not run: leave it alone
    stack.status = "UPDATE_IN_PROGRESS"
    settle(rules, OLD)
    guard.handler(stale, aws=aws)
    assert registration(aas) is None        # an operation is under way: not now
    rules.remove_targets(Rule=RULE, Ids=["Target0"])
    rules.delete_rule(Name=RULE)            # autoscaling removed since
    stack.status = "UPDATE_COMPLETE"
    guard.handler(stale, aws=aws)
    assert registration(aas) is None


# -- the endpoint's state -----------------------------------------------------------------
def test_release_waits_out_an_endpoint_mid_update(deployed, send, endpoint, aas, slept):
    aas.deregister_scalable_target(**KEY)
    endpoint.statuses = ["Updating", "SystemUpdating"]
    send(RELEASE, "Update", OLD, NEW)
    assert slept == [guard.POLL_SECONDS] * 2
    assert registration(aas) == declared(OLD)
    endpoint.statuses = ["SystemUpdating"]  # maintenance: "cannot be re-scaled" until done
    send(VARIANT, "Update", SCALING_ONLY, OLD)
    assert slept == [guard.POLL_SECONDS] * 3
    assert registration(aas) == declared(SCALING_ONLY)


def test_release_gives_up_in_time_and_fails(deployed, endpoint, aas):
    endpoint.statuses = ["Updating"] * 10
    aws = guard.Aws(aas, endpoint, remaining_ms=lambda: guard.SPARE_MS, sleep=print)
    with pytest.raises(TimeoutError, match="e1 is still Updating"):
        guard.handler(event(RELEASE, "Update", OLD, NEW), aws=aws)


@pytest.mark.parametrize("status", ["Failed", "OutOfService", "UpdateRollbackFailed"])
def test_release_deregisters_an_endpoint_that_cannot_scale(deployed, send, endpoint, aas,
                                                           status):
    endpoint.final_status = status
    send(RELEASE, "Update", OLD, NEW)
    assert registration(aas) is None


# -- answers to the framework -----------------------------------------------------------
def test_failure_raises_for_the_framework_to_report(deployed, send):
    bad = props(policies=({"PolicyName": "X", "PolicyType": "NoSuchType"},))
    with pytest.raises(ClientError):
        send(VARIANT, "Update", bad, OLD)
    with pytest.raises(ValueError, match="unknown resource type 'Custom::Nope'"):
        send("Custom::Nope", "Create", OLD)


def test_resources_made_before_the_provider_are_retired_without_deregistering(
        deployed, send, aas, monkeypatch):
    sent = []

    class _Response:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return b""

    def fake_urlopen(request, timeout):
        assert request.get_method() == "PUT" and timeout == 30
        sent.append(json.loads(request.data))
        return _Response()

    monkeypatch.setattr(guard.urllib.request, "urlopen", fake_urlopen)
    # the first deployment with the Provider: the new resources registered, then
    # CloudFormation deletes the old ones, which it invokes the guard for directly
    assert send(VARIANT, "Delete", props(token=GUARD)) == {}
    assert registration(aas) == declared(OLD)
    assert send(VARIANT, "Update", props(token=GUARD), OLD) == {}
    assert [(r["Status"], r["PhysicalResourceId"]) for r in sent] == [
        ("SUCCESS", KEY["ResourceId"]), ("FAILED", KEY["ResourceId"])]


# -- the template ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def seed():
    return synthesize("seed-async")


def test_the_provider_framework_serves_both_resources(seed):
    template = seed.endpoint("flan-t5-xxl")
    (framework_id,) = [k for k, f in resources(template, "AWS::Lambda::Function").items()
                       if f["Properties"].get("Handler") == "framework.onEvent"
                       and k.startswith("ScalingGuardProvider")]
    framework = template["Resources"][framework_id]["Properties"]
    guard_id = framework["Environment"]["Variables"]["USER_ON_EVENT_FUNCTION_ARN"][
        "Fn::GetAtt"][0]
    assert template["Resources"][guard_id]["Properties"]["Handler"] == "handler.handler"
    for kind in (RELEASE, VARIANT):
        _, resource = one(template, kind)
        assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [framework_id, "Arn"]}
    invoke = [s for s in statements(template, "ScalingGuardProviderRole")
              if s["Action"] == "lambda:InvokeFunction"]
    assert invoke[0]["Resource"][0] == {"Fn::GetAtt": [guard_id, "Arn"]}
    logs = resources(template, "AWS::Logs::LogGroup")
    assert framework["LoggingConfig"]["LogGroup"]["Ref"] in logs
    assert logs[framework["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"][
        "RetentionInDays"] == 90


def test_release_carries_the_whole_declaration_and_the_order_holds(seed):
    template = seed.endpoint("flan-t5-xxl")
    endpoint_id, endpoint = one(template, "AWS::SageMaker::Endpoint")
    release_id, release = one(template, RELEASE)
    _, target = one(template, VARIANT)
    assert release_id in endpoint["DependsOn"] and endpoint_id in target["DependsOn"]
    assert release["Properties"] == target["Properties"]
    assert (release["Properties"]["MinCapacity"], release["Properties"]["MaxCapacity"]) == (0, 5)
    assert {p["PolicyName"] for p in json.loads(release["Properties"]["Policies"])} == {
        "BacklogPerInstance", "ScaleFromZero"}


def test_framework_findings_are_acknowledged_with_reasons(seed):
    assert nag_report_ok(seed)
    reasons = {v["ruleName"]: v["reason"] for v in nag_report(seed)["suppressedViolations"]
               if "ScalingGuard/ProviderRole" in v["violatingConstructs"][0]["constructPath"]}
    assert set(reasons) == {
        "AwsSolutions-IAM5[Resource::<ScalingGuardProviderLogs75EEB1F0.Arn>:*]",
        "AwsSolutions-IAM5[Resource::<ScalingGuardFunctionA7106B56.Arn>:*]"}
    assert all(reason for reason in reasons.values())


def test_after_rollback_rule_holds_the_declaration_and_the_guard_reads_only_it(seed):
    template = seed.endpoint("flan-t5-xxl")
    _, rule = one(template, "AWS::Events::Rule")
    _, release = one(template, RELEASE)
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail"] == {"stack-id": [{"Ref": "AWS::StackId"}],
                                 "status-details": {"status": ["UPDATE_ROLLBACK_COMPLETE"]}}
    assert pattern["detail-type"] == ["CloudFormation Stack Status Change"]
    (target,) = rule["Properties"]["Targets"]
    parts = target["Input"]["Fn::Join"][1]
    settled = json.loads("".join(p if isinstance(p, str) else STACK_ID for p in parts))
    declaration = {k: v for k, v in release["Properties"].items() if k != "ServiceToken"}
    name = rule["Properties"]["Name"]
    assert settled["SettledStack"] == {**declaration, "Rule": name, "StackId": STACK_ID}
    by_action = {s["Action"]: s["Resource"] for s in statements(template, "ScalingGuardPolicy")
                 if isinstance(s["Action"], str)}
    assert by_action["cloudformation:DescribeStacks"] == {"Ref": "AWS::StackId"}
    assert by_action["events:ListTargetsByRule"]["Fn::Join"][1][-1] == f":rule/{name}"
