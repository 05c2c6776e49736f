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


# -- inference components: components[].autoscaling.schedules ---------------------------------
C = "endpoints[0] (llama3).components[0] (naver-news)"
NIGHT = {"name": "night", "cron": "0 19 ? * MON-FRI *", "timezone": "Asia/Seoul",
         "min_copies": 0}


def components_with(*schedules, **changes) -> dict:
    from tests.helpers import changed, config_data

    scaling = "endpoints.0.components.0.autoscaling"
    return changed(config_data("seed-components"),
                   **{f"{scaling}.max_copies": 3, f"{scaling}.schedules": list(schedules),
                      **{f"{scaling}.{k}": v for k, v in changes.items()}})


def test_the_seed_keeps_seoul_office_hours_on_its_component():
    from config import load_config

    (component,) = load_config("seed-components").endpoints[0].components
    assert [(s.name, s.cron, s.timezone, s.min_copies, s.max_copies)
            for s in component.autoscaling.schedules] == [
        ("office-hours-start", "0 9 ? * MON-FRI *", "Asia/Seoul", 1, None),
        ("office-hours-end", "0 19 ? * MON-FRI *", "Asia/Seoul", 0, None)]


def test_component_schedules_share_the_endpoints_checks():
    at = f"{C}.autoscaling.schedules"
    found = problems(components_with(  # shapes first
        {**NIGHT, "cron": "0 19 * * MON-FRI", "timezone": "Asia/Seul", "min_copies": 1001}))
    assert "5 fields; AWS cron has 6" in found[f"{at}[0] (night).cron"]
    assert found[f"{at}[0] (night).timezone"].startswith("'Asia/Seul' is not an IANA time zone")
    assert "less than or equal to 1000" in found[f"{at}[0] (night).min_copies"]
    found = problems(components_with(  # then the rules
        NIGHT, {**NIGHT, "min_copies": 2, "max_copies": 1}, {**NIGHT, "max_copies": 4},
        {"name": "empty", "cron": "0 8 ? * * *"}))
    assert found[f"{at}[1] (night).name"] == "'night' is used twice; names are unique per component"
    assert found[f"{at}[1] (night).min_copies"] == "2 is above max_copies 1"
    assert found[f"{at}[2] (night).max_copies"] == "4 is outside autoscaling 0..3"
    assert found[f"{at}[3] (empty)"] == "sets neither min_copies nor max_copies; give one or both"
    assert problems(components_with(*[{**NIGHT, "name": f"n{i}"} for i in range(11)])) == {
        f"{C}.autoscaling.schedules": "11 schedules; at most 10 per component"}


def test_zero_copies_on_a_schedule_needs_the_scale_from_zero_policy():
    """Only min_copies: 0 brings the step policy that adds the first copy back; a schedule
    at 0 above that would leave the component without a copy until its next schedule."""
    found = problems(components_with(NIGHT, min_copies=1))
    assert found == {f"{C}.autoscaling.schedules[0] (night).min_copies": (
        "0 copies needs the scale-from-zero alarm and step policy, which exist only with "
        "autoscaling.min_copies: 0 (now 1): set min_copies: 0 and let a schedule keep the "
        "daytime minimum")}


def test_a_schedule_may_stop_a_component_out_of_hours():
    """max_copies: 0 stops the component (instance-scheduler-on-aws #601's use); only within
    an autoscaling range that reaches 0, with the shape's own one-line message otherwise."""
    from config import parse_config

    stop = {**NIGHT, "max_copies": 0}
    (component,) = parse_config(components_with(stop)).endpoints[0].components or []
    assert component.autoscaling and component.autoscaling.schedules[0].max_copies == 0
    assert problems(components_with(stop, min_copies=1)) == {
        f"{C}.autoscaling.schedules[0] (night).min_copies": (
            "0 copies needs the scale-from-zero alarm and step policy, which exist only with "
            "autoscaling.min_copies: 0 (now 1): set min_copies: 0 and let a schedule keep the "
            "daytime minimum"),
        f"{C}.autoscaling.schedules[0] (night).max_copies": "0 is outside autoscaling 1..3"}


def test_a_components_endpoint_sends_its_schedules_to_its_scalable_target():
    template = synthesize("seed-components").endpoint("llama3")
    _, target = one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    props = target["Properties"]
    assert (props["ResourceId"], props["ScalableDimension"], props["MinCapacity"],
            props["MaxCapacity"]) == ("inference-component/llm-seed-ic-llama3-naver-news",
                                      "sagemaker:inference-component:DesiredCopyCount", 0, 1)
    assert props["ScheduledActions"] == [
        {"ScheduledActionName": "office-hours-start", "Schedule": "cron(0 9 ? * MON-FRI *)",
         "ScalableTargetAction": {"MinCapacity": 1}, "Timezone": "Asia/Seoul"},
        {"ScheduledActionName": "office-hours-end", "Schedule": "cron(0 19 ? * MON-FRI *)",
         "ScalableTargetAction": {"MinCapacity": 0}, "Timezone": "Asia/Seoul"}]
    # the step policy that brings the first copy back at night is there
    steps = [r for r in template["Resources"].values()
             if r["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"
             and r["Properties"]["PolicyType"] == "StepScaling"]
    assert len(steps) == 1


def test_the_construct_keeps_copy_schedules_within_its_range():
    from aws_cdk import App, Stack
    from aws_cdk import aws_applicationautoscaling as appscaling

    from llm_constructs import ComponentEndpoint, SageMakerExecutionRole

    stack = Stack(App(), "S")
    role = SageMakerExecutionRole(stack, "Role", endpoint_names=["e1"])
    endpoint = ComponentEndpoint(stack, "E", execution_role=role, instance_type="ml.g5.xlarge",
                                 endpoint_name="e1")
    component = endpoint.add_component("C", component_name="e1-c", image_uri="img",
                                       memory_mb=1024, accelerators=1)
    nightly = appscaling.Schedule.expression("cron(0 19 ? * * *)")
    with pytest.raises(ValueError, match="call add_copy_autoscaling first"):
        component.scale_copies_on_schedule("night", schedule=nightly, min_copies=0)
    component.add_copy_autoscaling(min_copies=1, max_copies=3)
    with pytest.raises(ValueError, match=r"need 1 <= min_copies \(0\) <= max_copies "
                                         r"\(None\) <= 3"):
        component.scale_copies_on_schedule("night", schedule=nightly, min_copies=0)
    with pytest.raises(ValueError, match="give min_copies, max_copies or both"):
        component.scale_copies_on_schedule("night", schedule=nightly)
    component.scale_copies_on_schedule("night", schedule=nightly, max_copies=1)
    with pytest.raises(ValueError, match="'night' exists already on e1-c"):
        component.scale_copies_on_schedule("night", schedule=nightly, max_copies=2)


@pytest.mark.parametrize(("min_instances", "warned"), [(0, False), (1, True)])
def test_copies_at_zero_with_instances_kept_warn(min_instances, warned):
    """Managed instance scaling keeps min_instances with no copy on them: the idle
    endpoint still bills them (a warning: a warm instance shortens the first wait)."""
    from aws_cdk import App, Stack

    from config import parse_config
    from stacks.translate import idle_instances_warning
    from tests.helpers import changed

    cfg = parse_config(changed(components_with(NIGHT), **{
        "endpoints.0.instance_scaling.min_instances": min_instances}))
    stack = Stack(App(), "S")
    idle_instances_warning(stack, cfg.endpoints[0])
    found = [m.data for m in stack.node.metadata if m.type == "aws:cdk:warning"]
    assert len(found) == int(warned)
    if warned:
        assert found[0].startswith(
            "llama3: every component can scale to 0 copies, but instance_scaling.min_instances "
            "is 1: with no copy, 1 instance(s) of ml.g5.12xlarge stay and bill; set "
            "min_instances: 0")
