"""Scheduled actions (autoscaling.schedules): each bad input is one named error, and the
declaration the scaling guard applies carries them (the guard's own tests drive them)."""

from __future__ import annotations

import json

import pytest

from config import parse_config
from config.aws_cron import cron_problem
from tests.helpers import dev_with, one, problems, statements, synthesize

EP = "endpoints[0] (chat)"
OFFICE = {"name": "office-hours-start", "cron": "0 8 ? * MON-FRI *",
          "timezone": "Europe/Berlin", "min_capacity": 2}


def with_schedules(*schedules, **scaling):
    changes = {f"endpoints.0.autoscaling.{k}": v for k, v in scaling.items()}
    return dev_with(**{"endpoints.0.autoscaling.max_capacity": 4, **changes,
                       "endpoints.0.autoscaling.schedules": list(schedules)})


def schedule(**changes):
    return {**OFFICE, **changes}


AT = f"{EP}.autoscaling.schedules[0] (office-hours-start)"


def test_a_schedule_parses_with_its_cron_normalised():
    cfg = parse_config(with_schedules(schedule(cron="cron(0  8 ? * MON-FRI *)")))
    (parsed,) = cfg.endpoints[0].autoscaling.schedules
    assert (parsed.cron, parsed.timezone, parsed.min_capacity, parsed.max_capacity) == (
        "0 8 ? * MON-FRI *", "Europe/Berlin", 2, None)
    assert parse_config(with_schedules({k: v for k, v in OFFICE.items() if k != "timezone"})
                        ).endpoints[0].autoscaling.schedules[0].timezone == "UTC"


@pytest.mark.parametrize("cron, fragment", [
    ("0 8 * * MON-FRI", "5 fields; AWS cron has 6"),
    ("0 8 * * MON-FRI *", "exactly one of day-of-month and day-of-week must be '?'"),
    ("0 8 ? * ? *", "exactly one of day-of-month and day-of-week must be '?'"),
    ("60 8 ? * MON-FRI *", "minutes '60'"),
    ("0 24 ? * MON-FRI *", "hours '24'"),
    ("0 8 ? * MON-FRY *", "day-of-week 'MON-FRY'"),
    ("0 8 ? FOO * *", "month 'FOO'"),
    ("0/0 8 ? * MON-FRI *", "the increment after '/'"),
    ("0 8 ? * MON-FRI 1969", "year '1969'"),
    ("0 8 32W * ? *", "day-of-month '32W'"),
])
def test_bad_cron_is_named_with_the_field(cron, fragment):
    found = problems(with_schedules(schedule(cron=cron)))
    assert f"'{cron}' is not an AWS cron expression" in found[f"{AT}.cron"]
    assert fragment in found[f"{AT}.cron"]


@pytest.mark.parametrize("cron", [
    "0 8 ? * MON-FRI *", "*/15 8-18 ? * 2-6 *", "30 6 L * ? *", "0 9 ? * 2#1 2027",
    "0 0 15W JAN,JUL ? *", "0 12 ? * 6L *", "5,35 0/2 1-10 * ? 2026-2030", "0 8 LW * ? *",
])
def test_the_documented_forms_pass(cron):
    assert cron_problem(cron) is None


def test_unknown_time_zone_suggests_near_names():
    found = problems(with_schedules(schedule(timezone="Europe/Berln")))
    assert found[f"{AT}.timezone"].startswith(
        "'Europe/Berln' is not an IANA time zone name like 'Europe/Berlin' (did you mean "
        "Europe/Berlin, ")


def test_min_above_max_and_outside_the_endpoints_range():
    found = problems(with_schedules(schedule(min_capacity=3, max_capacity=2),
                                    schedule(name="night", min_capacity=None, max_capacity=5)))
    assert found[f"{AT}.min_capacity"] == "3 is above max_capacity 2"
    assert found[f"{EP}.autoscaling.schedules[1] (night).max_capacity"] == (
        "5 is outside autoscaling 1..4")


def test_a_schedule_below_a_real_time_minimum_is_refused():
    found = problems(with_schedules(schedule(min_capacity=1), min_capacity=2,
                                    **{"max_capacity": 4}))
    assert found[f"{AT}.min_capacity"] == "1 is outside autoscaling 2..4"


def test_a_schedule_without_bounds_and_api_limits():
    found = problems(with_schedules(schedule(min_capacity=None)))
    assert found[AT] == (
        "sets neither min_capacity nor max_capacity; give one or both")
    found = problems(with_schedules(schedule(min_capacity=101)))
    assert "less than or equal to 100" in found[f"{AT}.min_capacity"]


def test_names_are_unique_and_within_the_apis_pattern():
    found = problems(with_schedules(schedule(), schedule(min_capacity=1)))
    assert found[f"{EP}.autoscaling.schedules[1] (office-hours-start).name"] == (
        "'office-hours-start' is used twice; names are unique per endpoint")
    for bad in ("office/hours", "a|b", "a:b", "a" * 257):
        (message,) = problems(with_schedules(schedule(name=bad))).values()
        assert "is not a scheduled action name: 1-256 characters, no ':'" in message, bad


def test_at_most_ten_schedules():
    many = [schedule(name=f"s{i}") for i in range(11)]
    assert problems(with_schedules(*many)) == {
        f"{EP}.autoscaling.schedules": "11 schedules; at most 10 per endpoint"}


# -- the template ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def prod():
    return synthesize("prod")


def test_prod_declares_office_hours_to_the_guard(prod):
    (template,) = prod.endpoints.values()
    _, release = one(template, "Custom::ScalingRelease")
    _, target = one(template, "Custom::ScalableVariant")
    assert release["Properties"] == target["Properties"]
    assert (release["Properties"]["MinCapacity"], release["Properties"]["MaxCapacity"]) == (2, 6)
    assert json.loads(release["Properties"]["ScheduledActions"]) == [
        {"ScheduledActionName": "office-hours-start", "Schedule": "cron(0 8 ? * MON-FRI *)",
         "ScalableTargetAction": {"MinCapacity": 3}, "Timezone": "Europe/Berlin"},
        {"ScheduledActionName": "office-hours-end", "Schedule": "cron(0 19 ? * MON-FRI *)",
         "ScalableTargetAction": {"MinCapacity": 2}, "Timezone": "Europe/Berlin"}]
    _, rule = one(template, "AWS::Events::Rule")
    parts = rule["Properties"]["Targets"][0]["Input"]["Fn::Join"][1]
    assert "office-hours-end" in "".join(p for p in parts if isinstance(p, str))


def test_the_guard_may_manage_scheduled_actions(prod):
    (template,) = prod.endpoints.values()
    actions = {a for s in statements(template, "ScalingGuardPolicy")
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
               if "ScheduledAction" in a}
    assert actions == {"application-autoscaling:PutScheduledAction",
                       "application-autoscaling:DeleteScheduledAction",
                       "application-autoscaling:DescribeScheduledActions"}


def test_without_schedules_the_declaration_has_no_key():
    from aws_cdk import App, Stack
    from aws_cdk import aws_applicationautoscaling as appscaling
    from aws_cdk import aws_sagemaker as sagemaker
    from aws_cdk.assertions import Template

    from llm_constructs.scaling import VariantAutoScaling

    stack = Stack(App(), "S")
    endpoint = sagemaker.CfnEndpoint(stack, "E", endpoint_config_name="c", endpoint_name="e1")
    kwargs = {"endpoint": endpoint, "endpoint_name": "e1", "variant_name": "AllTraffic",
              "instance_type": "ml.g5.xlarge", "min_capacity": 1, "max_capacity": 3}
    plain = VariantAutoScaling(stack, "Plain", **kwargs)
    scheduled = VariantAutoScaling(stack, "Scheduled", **kwargs)
    scheduled.scale_on_schedule("night", schedule=appscaling.Schedule.expression(
        "cron(0 19 ? * * *)"), max_capacity=2)
    with pytest.raises(ValueError, match="need 1 <= min_capacity \\(1\\) <= max_capacity "
                                         "\\(4\\) <= 3"):
        scheduled.scale_on_schedule("peak", schedule=appscaling.Schedule.expression(
            "cron(0 8 ? * * *)"), max_capacity=4)
    with pytest.raises(ValueError, match="'night' exists already"):
        scheduled.scale_on_schedule("night", schedule=appscaling.Schedule.expression(
            "cron(0 8 ? * * *)"), min_capacity=2)
    assert scheduled.node.validate() == []
    template = Template.from_stack(stack).to_json()
    props = {c.node.id: template["Resources"][stack.get_logical_id(
        c.release.node.default_child)]["Properties"] for c in (plain, scheduled)}
    assert "ScheduledActions" not in props["Plain"]
    assert json.loads(props["Scheduled"]["ScheduledActions"]) == [
        {"ScheduledActionName": "night", "Schedule": "cron(0 19 ? * * *)",
         "ScalableTargetAction": {"MaxCapacity": 2}}]


def test_a_declaration_too_big_for_the_after_rollback_rule_fails_synth():
    from aws_cdk import App, Stack
    from aws_cdk import aws_applicationautoscaling as appscaling
    from aws_cdk import aws_sagemaker as sagemaker

    from llm_constructs.scaling import VariantAutoScaling

    stack = Stack(App(), "S")
    endpoint = sagemaker.CfnEndpoint(stack, "E", endpoint_config_name="c", endpoint_name="e1")
    scaling = VariantAutoScaling(stack, "V", endpoint=endpoint, endpoint_name="e1",
                                 variant_name="AllTraffic", instance_type="ml.g5.xlarge",
                                 min_capacity=1, max_capacity=3)
    for i in range(30):
        scaling.scale_on_schedule(f"{i}-" + "x" * 250, min_capacity=2,
                                  schedule=appscaling.Schedule.expression("cron(0 8 ? * * *)"))
    (message,) = scaling.node.validate()
    assert message.startswith("endpoint/e1/variant/AllTraffic: the scaling declaration takes "
                              "about ")
    assert "above EventBridge's 8192 for the after-rollback rule's input" in message
