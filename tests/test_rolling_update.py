"""Issue 16, item 2: rolling updates of inference components
(``DeploymentConfig.RollingUpdatePolicy``) with auto-rollback on the component's own alarms
(``AutoRollbackConfiguration``)."""

from __future__ import annotations

from functools import cache

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from config import parse_config
from config.shapes import Endpoint
from llm_constructs import ComponentEndpoint, SageMakerExecutionRole
from llm_constructs.monitoring import ComponentMonitoring
from stacks import translate
from tests.helpers import DELETE, changed, config_data, problems, resources

P = "endpoints[0] (llama3).components[0] (naver-news).rolling_update"
ROLLING = "endpoints.0.components.0.rolling_update"


def _seed_with(**changes) -> dict:
    return changed(config_data("seed-components"), **changes)


# -- the config ---------------------------------------------------------------------------
def test_seed_components_rolls_one_copy_at_a_time_with_auto_rollback():
    (component,) = parse_config(config_data("seed-components")).endpoints[0].components or []
    r = component.rolling_update
    assert r is not None
    assert (r.capacity_type, r.batch_size, r.rollback_batch_size, r.wait_interval_seconds,
            r.maximum_execution_timeout_seconds, r.auto_rollback) == (
        "COPY_COUNT", 1, 1, 300, 3600, True)


def test_auto_rollback_without_alarms_is_refused_by_name():
    found = problems(_seed_with(**{"endpoints.0.alarms.enabled": False}))
    assert found == {f"{P}.auto_rollback": "rolls back on the component's 5XX and latency "
                                           "alarms: set alarms.enabled: true, or "
                                           "auto_rollback: false"}
    assert parse_config(_seed_with(**{"endpoints.0.alarms.enabled": False,
                                      f"{ROLLING}.auto_rollback": False}))


def test_percent_batches_take_what_sagemaker_documents():
    # botocore 1.44.5 sagemaker, InferenceComponentRollingUpdatePolicy.MaximumBatchSize:
    # "between 5% to 50% of the copy count"
    found = problems(_seed_with(**{f"{ROLLING}.batch_unit": "percent",
                                   f"{ROLLING}.batch_size": 60,
                                   f"{ROLLING}.rollback_batch_size": 101}))
    assert found == {
        f"{P}.batch_size": "60%: SageMaker takes 5-50% of the copies per batch",
        f"{P}.rollback_batch_size": "101%: at most 100% of the copies"}
    assert parse_config(_seed_with(**{f"{ROLLING}.batch_unit": "percent",
                                      f"{ROLLING}.batch_size": 50,
                                      f"{ROLLING}.rollback_batch_size": 100}))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("wait_interval_seconds", 3601, "Input should be less than or equal to 3600 (got 3601)"),
    ("maximum_execution_timeout_seconds", 599,
     "Input should be greater than or equal to 600 (got 599)"),
    ("batch_size", 0, "Input should be greater than or equal to 1 (got 0)"),
    ("batch_unit", "instances", "Input should be 'copies' or 'percent' (got 'instances')")])
def test_values_outside_the_api_limits_are_refused_by_name(key, value, message):
    assert problems(_seed_with(**{f"{ROLLING}.{key}": value})) == {f"{P}.{key}": message}


# -- the template --------------------------------------------------------------------------
@cache
def _seed_template(**changes) -> dict:
    """seed-components' endpoint and components with its monitoring and rolling updates,
    as the endpoint stack wires them (no network, images or app: a cheap synth)."""
    ep: Endpoint = parse_config(_seed_with(**changes)).endpoints[0]
    stack = cdk.Stack(cdk.App(), "Rolling")
    endpoint = ComponentEndpoint(stack, "Components", instance_type=ep.instance_type,
                                 execution_role=SageMakerExecutionRole(stack, "Role"),
                                 endpoint_name="llm-seed-ic-llama3")
    for c in ep.components or []:
        endpoint.add_component(translate.component_prefix(c), image_uri="img",
                               component_name=f"llm-seed-ic-llama3-{c.name}",
                               memory_mb=c.memory_mb, accelerators=c.accelerators)
    monitoring = translate.monitoring(stack, endpoint, ep.alarms, None, "llm-seed-ic-llama3")
    assert monitoring is None or isinstance(monitoring, ComponentMonitoring)
    translate.add_rolling_updates(endpoint, ep, monitoring)
    return Template.from_stack(stack).to_json()


def _deployment_config(template: dict) -> dict:
    (component,) = resources(template, "AWS::SageMaker::InferenceComponent").values()
    return component["Properties"]["DeploymentConfig"]


def test_the_rolling_policy_and_the_components_own_alarms_reach_the_component():
    template = _seed_template()
    config = _deployment_config(template)
    assert config["RollingUpdatePolicy"] == {
        "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
        "RollbackMaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
        "WaitIntervalInSeconds": 300, "MaximumExecutionTimeoutInSeconds": 3600}
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    own = {lid for lid, a in alarms.items()
           if a["Properties"]["Dimensions"] == [{"Name": "InferenceComponentName",
                                                 "Value": "llm-seed-ic-llama3-naver-news"}]}
    assert len(own) == 2 == len(alarms)
    assert sorted(a["AlarmName"]["Ref"] for a in config["AutoRollbackConfiguration"]["Alarms"]
                  ) == sorted(own)


def test_without_auto_rollback_the_policy_stands_alone_and_percent_is_capacity_percent():
    config = _deployment_config(_seed_template(**{
        f"{ROLLING}.auto_rollback": False, f"{ROLLING}.batch_unit": "percent",
        f"{ROLLING}.batch_size": 25, f"{ROLLING}.rollback_batch_size": DELETE,
        f"{ROLLING}.maximum_execution_timeout_seconds": DELETE}))
    assert config == {"RollingUpdatePolicy": {
        "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
        "WaitIntervalInSeconds": 300}}


# -- the construct -------------------------------------------------------------------------
def test_the_construct_refuses_an_unknown_unit_and_more_than_ten_alarms():
    stack = cdk.Stack(cdk.App(), "Refused")
    endpoint = ComponentEndpoint(stack, "Ep", instance_type="ml.g5.12xlarge",
                                 execution_role=SageMakerExecutionRole(stack, "Role"))
    component = endpoint.add_component("Chat", component_name="ic-chat", image_uri="img",
                                       memory_mb=1024, accelerators=1)
    with pytest.raises(ValueError, match="unit 'PERCENT': COPY_COUNT or CAPACITY_PERCENT"):
        component.use_rolling_update(unit="PERCENT")
    alarm = component.metric_invocations().create_alarm(stack, "A", threshold=1,
                                                        evaluation_periods=1)
    with pytest.raises(ValueError, match="11 rollback alarms; SageMaker takes 1-10"):
        component.use_rolling_update(rollback_alarms=[alarm] * 11)
    assert component.component.deployment_config is None
