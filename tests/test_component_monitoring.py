"""Issue 16, item 3: a components endpoint's ``alarms:`` is honoured (per-component alarms
and a dashboard with a row per component) or refused by name, never ignored."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from config import parse_config
from config.shapes import Alarms
from llm_constructs import ComponentEndpoint, SageMakerExecutionRole
from llm_constructs.monitoring import ComponentMonitoring
from stacks import translate
from tests.helpers import changed, config_data, problems, resources, synthesize

COMPONENT = "llm-seed-ic-llama3-naver-news"


def _seed_alarms() -> dict[str, dict]:
    """The monitoring alarms of seed-components' endpoint stack, by logical ID."""
    template = synthesize("seed-components").endpoint("llama3")
    return {lid: r["Properties"] for lid, r in resources(template, "AWS::CloudWatch::Alarm")
            .items() if lid.startswith("Monitoring")}


def _dashboard(template: dict) -> dict:
    """The dashboard body as JSON, with every reference written as its logical ID."""
    (body,) = [r["Properties"]["DashboardBody"]
               for r in resources(template, "AWS::CloudWatch::Dashboard").values()]
    parts = body["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else _ref(p) for p in parts))


def _ref(token: Any) -> str:
    if "Ref" in token:
        return token["Ref"]
    return token["Fn::GetAtt"][0]


# -- the config ---------------------------------------------------------------------------
def test_seed_components_turns_alarms_on():
    ep = parse_config(config_data("seed-components")).endpoints[0]
    assert ep.is_components and "alarms" in ep.model_fields_set
    assert (ep.alarms.enabled, ep.alarms.invocation_5xx_errors,
            ep.alarms.model_latency_p90_ms) == (True, 5, 30000)


def test_the_asynchronous_alarm_keys_are_refused_by_name_on_components():
    data = changed(config_data("seed-components"),
                   **{"endpoints.0.alarms.invocation_failures": 2,
                      "endpoints.0.alarms.max_age_of_oldest_request_seconds": 600})
    found = problems(data)
    message = "an asynchronous endpoint's alarm; a components endpoint is real-time: remove it"
    assert found == {"endpoints[0] (llama3).alarms.invocation_failures": message,
                     "endpoints[0] (llama3).alarms.max_age_of_oldest_request_seconds": message}


# -- seed-components' template ----------------------------------------------------------
def test_each_component_gets_a_5xx_and_a_p90_latency_alarm_on_its_own_metrics():
    alarms = {p["MetricName"]: p for p in _seed_alarms().values()}
    assert set(alarms) == {"Invocation5XXErrors", "ModelLatency"}
    for props in alarms.values():
        assert props["Namespace"] == "AWS/SageMaker"
        assert props["Dimensions"] == [{"Name": "InferenceComponentName", "Value": COMPONENT}]
        assert props["Period"] == 300 and props["TreatMissingData"] == "notBreaching"
    errors, latency = alarms["Invocation5XXErrors"], alarms["ModelLatency"]
    assert (errors["Statistic"], errors["Threshold"], errors["EvaluationPeriods"],
            errors["ComparisonOperator"]) == ("Sum", 5, 1, "GreaterThanOrEqualToThreshold")
    # 30,000 ms in the microseconds SageMaker reports ModelLatency in
    assert (latency["ExtendedStatistic"], latency["Threshold"], latency["EvaluationPeriods"],
            latency["ComparisonOperator"]) == ("p90", 30_000_000, 3, "GreaterThanThreshold")
    assert "AlarmActions" not in errors  # the seed names no topic


def test_the_dashboard_has_the_instances_then_a_row_per_component_then_the_alarms():
    template = synthesize("seed-components").endpoint("llama3")
    (name,) = [r["Properties"]["DashboardName"]
               for r in resources(template, "AWS::CloudWatch::Dashboard").values()]
    assert name == "llm-seed-ic-llama3"
    widgets = _dashboard(template)["widgets"]
    rows: dict[int, list[dict]] = {}
    for w in widgets:
        rows.setdefault(w["y"], []).append(w)
    text, instances, component, status = (rows[y] for y in sorted(rows))
    assert "llm-seed-ic-llama3" in text[0]["properties"]["markdown"]
    assert {m[1] for w in instances for m in w["properties"]["metrics"]} >= {
        "CPUUtilization", "GPUReservation", "GPUUtilizationNormalized"}
    assert [w["properties"]["title"] for w in component] == [
        f"{COMPONENT}: invocations", f"{COMPONENT}: errors",
        f"{COMPONENT}: model latency p90 (us)", f"{COMPONENT}: copies' utilisation (%)"]
    metrics = [m for w in component for m in w["properties"]["metrics"]]
    assert {(m[0], m[2], m[3]) for m in metrics} == {
        ("AWS/SageMaker", "InferenceComponentName", COMPONENT),
        ("/aws/sagemaker/InferenceComponents", "InferenceComponentName", COMPONENT)}
    assert {m[1] for m in metrics} >= {"Invocation5XXErrors", "Invocation4XXErrors",
                                       "ModelLatency", "GPUUtilizationNormalized"}
    assert len(status[0]["properties"]["alarms"]) == 2


# -- the construct ------------------------------------------------------------------------
def _two_components() -> tuple[cdk.Stack, ComponentEndpoint, sns.Topic]:
    stack = cdk.Stack(cdk.App(), "Mon")
    role = SageMakerExecutionRole(stack, "Role")
    endpoint = ComponentEndpoint(stack, "Ep", execution_role=role,
                                 instance_type="ml.g5.12xlarge", endpoint_name="ic")
    for name in ("chat", "code"):
        endpoint.add_component(name.title(), component_name=f"ic-{name}", image_uri="img",
                               memory_mb=1024, accelerators=2)
    return stack, endpoint, sns.Topic(stack, "Topic")


def test_alarms_notify_the_topic_per_component_and_the_4xx_alarm_is_opt_in():
    stack, endpoint, topic = _two_components()
    monitoring = ComponentMonitoring(stack, "Monitoring", endpoint=endpoint, alarm_topic=topic,
                                     invocation_4xx_errors=20)
    template = Template.from_stack(stack).to_json()
    assert {c: sorted(a) for c, a in monitoring.component_alarms.items()} == {
        c: ["Invocation4XXErrors", "Invocation5XXErrors", "ModelLatencyP90"]
        for c in ("Chat", "Code")}
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    by_component: dict[str, set[str]] = {}
    for a in alarms:
        p = a["Properties"]
        by_component.setdefault(p["Dimensions"][0]["Value"], set()).add(p["MetricName"])
        assert p["AlarmActions"] == p["OKActions"] == [{"Ref": _topic_id(template)}]
    assert by_component == {c: {"Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency"}
                            for c in ("ic-chat", "ic-code")}
    four = [a["Properties"] for a in alarms
            if a["Properties"]["MetricName"] == "Invocation4XXErrors"]
    assert {p["Threshold"] for p in four} == {20}
    titles = [w["properties"].get("title") for w in _dashboard(template)["widgets"]]
    assert titles.count("ic-chat: errors") == titles.count("ic-code: errors") == 1


def test_alarms_enabled_false_builds_no_alarm_and_no_dashboard():
    stack, endpoint, topic = _two_components()
    assert translate.monitoring(stack, endpoint, Alarms(enabled=False), topic, "ic") is None
    template = Template.from_stack(stack).to_json()
    assert resources(template, "AWS::CloudWatch::Alarm") == {}
    assert resources(template, "AWS::CloudWatch::Dashboard") == {}


def _topic_id(template: dict) -> str:
    (lid,) = resources(template, "AWS::SNS::Topic")
    return lid
