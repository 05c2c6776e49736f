"""The APIs' own constraints (config/api/): every config field is either mapped to the
SageMaker, Application Auto Scaling or CloudWatch parameter it reaches or listed as sent to
none of them; the constraints come from botocore; a value beyond them is a config error
naming the field. Config layer only (no synth): the values are compared with the shipped
configs' snapshot templates."""

from __future__ import annotations

import copy
import json
import re

import pytest

from config import ConfigError, available, load_config, parse_config
from config.api import NOT_SENT, SENT, api_problems, botocore_model, decision, field_paths
from config.api.botocore_model import Parameter
from config.api.values import Site, environment, tag_list
from config.shapes import AppConfig
from tests.helpers import ROOT, changed, config_data, dev_with

ENVIRONMENT = Parameter("sagemaker", "CreateModel", "PrimaryContainer.Environment")


def problems_of(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return caught.value.problems


def only_problem(data: dict) -> tuple[str, str]:
    problems = problems_of(data)
    assert len(problems) == 1, problems
    return problems[0]


# -- coverage: a decision for every field ---------------------------------------------------

def test_every_config_field_reaches_a_parameter_or_says_why_not():
    """A new field fails here until the table says which parameter it reaches, or why it
    reaches none of these APIs."""
    paths = list(field_paths(AppConfig))
    undecided = [path for path, cls, field in paths if decision(cls, field) is None]
    assert not undecided, f"add to config/api/fields.py SENT or NOT_SENT: {undecided}"
    sent = [p for p, cls, f in paths if isinstance(decision(cls, f), tuple)]
    not_sent = [p for p, cls, f in paths if isinstance(decision(cls, f), str)]
    assert len(sent) + len(not_sent) == len(paths) > 100
    assert "endpoints[].components[].environment" in sent
    assert "network.cidr" in not_sent and "endpoints[].image.tgi" in sent


def test_every_table_entry_is_a_field_of_the_config():
    """No stale entries: each key is reached by some field path."""
    used = set()
    for _, cls, field in field_paths(AppConfig):
        for owner in cls.__mro__:
            used |= {k for k in ((owner.__name__, field), (owner.__name__, "*"))
                     if k in SENT or k in NOT_SENT}
            if used & {(owner.__name__, field), (owner.__name__, "*")}:
                break
    assert set(SENT) | set(NOT_SENT) == used
    assert not set(SENT) & set(NOT_SENT)


def test_every_parameter_is_a_member_of_its_operation_with_python_patterns():
    for key, entries in SENT.items():
        for sent in entries:
            parameter = sent.parameter
            assert parameter.operation in {
                "CreateModel", "CreateEndpointConfig", "CreateEndpoint",
                "CreateInferenceComponent", "UpdateInferenceComponent",
                "RegisterScalableTarget", "PutScalingPolicy",
                "PutScheduledAction", "PutMetricAlarm"}, key
            assert parameter.shape_name, key  # raises KeyError for a member botocore lacks
            for pattern in _patterns(parameter.service, parameter.shape_name):
                botocore_model.python_pattern(pattern)
            if sent.part_of is not None:
                owner, field = sent.part_of.split(".")
                assert (owner, field) in SENT, sent.part_of


def _patterns(service: str, name: str) -> list[str]:
    spec = botocore_model.shape(service, name)
    found = [spec["pattern"]] if "pattern" in spec else []
    for ref in ([spec["member"]] if "member" in spec else []) + \
            [spec[k] for k in ("key", "value") if k in spec] + \
            list(spec.get("members", {}).values()):
        found += _patterns(service, ref["shape"])
    return found


def test_java_pattern_classes_mean_what_they_mean_in_java():
    tag = botocore_model.python_pattern(botocore_model.shape("sagemaker", "TagKey")["pattern"])
    assert tag.fullmatch("Kostenstelle äöü 42_.:/=+-@")
    assert not tag.fullmatch("team#1") and not tag.fullmatch("tab\there")
    printable = botocore_model.python_pattern("\\p{Print}+")
    assert printable.fullmatch("Scale out!") and not printable.fullmatch("é")


# -- the constraints are botocore's -------------------------------------------------------

def test_the_environment_limits_are_read_from_botocore(monkeypatch):
    value_shape = botocore_model.shape("sagemaker", "EnvironmentValue")
    assert value_shape["max"] == 1024
    assert botocore_model.shape("sagemaker", ENVIRONMENT.shape_name)["max"] == 100
    data = dev_with(**{"endpoints.0.environment": {"MY_VAR": "x" * 40}})
    assert api_problems(parse_config(data)) == []

    smaller = {**value_shape, "max": 39}
    real = botocore_model.shape
    monkeypatch.setattr(botocore_model, "shape", lambda service, name: smaller
                        if (service, name) == ("sagemaker", "EnvironmentValue")
                        else real(service, name))
    assert [p for p, _ in api_problems(load_like(data))] == [
        "endpoints[0] (chat).environment.MY_VAR"]


def load_like(data: dict) -> AppConfig:
    """The validated config, without the rules (which now see the patched limits too)."""
    return AppConfig.model_validate(copy.deepcopy(data))


# -- the values are what reaches the API -------------------------------------------------------

def snapshot(name: str) -> dict[str, dict]:
    path = ROOT / "tests" / "__snapshots__" / "test_snapshots" / \
        f"test_templates_match_snapshots[{name}].json"
    return json.loads(path.read_text())


def test_environment_and_tags_are_checked_as_the_templates_send_them():
    cfg = load_config("prod")
    endpoint = cfg.endpoints[0]
    template = snapshot("prod")[f"{cfg.project}-endpoint-{endpoint.name}"]
    model = next(r["Properties"] for r in template["Resources"].values()
                 if r["Type"] == "AWS::SageMaker::Model")
    site = Site(cfg, endpoint, endpoint, "endpoints[0]")
    assert environment(site, endpoint.environment) == model["PrimaryContainer"]["Environment"]
    # the global tags, project and the endpoint's own (CDK sorts them by key)
    assert sorted(tag_list(site, cfg.deployment.tags), key=lambda t: t["Key"]) == model["Tags"]
    assert {"Key": "cost-centre", "Value": "4711"} in model["Tags"]


@pytest.mark.parametrize("name", available())
def test_shipped_configs_meet_every_api_constraint(name):
    assert api_problems(load_config(name)) == []


# -- named errors ------------------------------------------------------------------------

def test_an_environment_value_too_long_names_the_variable():
    path, message = only_problem(dev_with(**{"endpoints.0.environment": {"MY_VAR": "x" * 2000}}))
    assert path == "endpoints[0] (chat).environment.MY_VAR"
    assert message == ("value is 2000 characters; SageMaker's ContainerDefinition.Environment "
                       "values take at most 1024 (botocore 1.44.5 sagemaker CreateModel)")


def test_too_many_variables_count_the_derived_ones():
    derived = len(environment(_site(parse_config(dev_with())), None))
    mine = {f"VAR_{i}": "1" for i in range(101 - derived)}
    path, message = only_problem(dev_with(**{"endpoints.0.environment": mine}))
    assert path == "endpoints[0] (chat).environment"
    assert message.startswith("101 entries; SageMaker's ContainerDefinition.Environment "
                              "takes at most 100")


def _site(cfg: AppConfig) -> Site:
    return Site(cfg, cfg.endpoints[0], cfg.endpoints[0], "endpoints[0] (chat)")


def test_a_derived_variable_names_the_field_it_comes_from():
    path, message = only_problem(dev_with(**{"endpoints.0.source": {"hub": "org/" + "m" * 1100}}))
    assert path == "endpoints[0] (chat).source.hub"
    assert "1104 characters" in message and "at most 1024" in message


def test_an_endpoint_name_beyond_the_api_names_the_field():
    """The shape validator refuses these first; the mechanism refuses them on its own."""
    cfg = parse_config(dev_with())
    for name, expected in (("a" * 64, "value is 64 characters; SageMaker's "
                                      "CreateEndpointInput.EndpointName takes at most 63"),
                           ("bad_name", "'bad_name' does not match the pattern of SageMaker's "
                                        "CreateEndpointInput.EndpointName")):
        endpoint = cfg.endpoints[0].model_copy(update={"endpoint_name": name})
        found = api_problems(cfg.model_copy(update={"endpoints": [endpoint]}))
        assert found[0][0] == "endpoints[0] (chat).endpoint_name"
        assert found[0][1].startswith(expected), found


def test_a_default_endpoint_name_names_the_endpoint_and_how_it_was_made():
    cfg = parse_config(dev_with())
    endpoint = cfg.endpoints[0].model_copy(update={"name": "n" * 70})
    path, message = api_problems(cfg.model_copy(update={"endpoints": [endpoint]}))[0]
    assert path == f"endpoints[0] ({'n' * 70}).name"
    assert message.startswith(f"the endpoint name '{cfg.project}-{'n' * 70}' is "
                              "<project>-<name>: value is")


def test_a_scaling_capacity_beyond_the_api_range():
    cfg = parse_config(dev_with())
    scaling = cfg.endpoints[0].autoscaling
    assert scaling is not None
    endpoint = cfg.endpoints[0].model_copy(
        update={"autoscaling": scaling.model_copy(update={"max_capacity": 2**31})})
    assert api_problems(cfg.model_copy(update={"endpoints": [endpoint]})) == [(
        "endpoints[0] (chat).autoscaling.max_capacity",
        "2147483648 does not fit Application Auto Scaling's "
        "RegisterScalableTargetRequest.MaxCapacity, a 32-bit integer (-2147483648 to "
        "2147483647) (botocore 1.44.5 application-autoscaling RegisterScalableTarget)")]


def test_an_infinite_scaling_target():
    path, message = only_problem(changed(config_data("seed-async"), **{
        "endpoints.0.autoscaling.target_backlog_per_instance": float("inf")}))
    assert path == "endpoints[0] (flan-t5-xxl).autoscaling.target_backlog_per_instance"
    assert message.startswith("inf is not a number Application Auto Scaling's "
                              "TargetTrackingScalingPolicyConfiguration.TargetValue takes")


def test_an_alarm_period_beyond_the_api_range():
    """The config's own bound (a day, from the Period documentation) comes first; the API's
    32-bit range is what remains without it."""
    cfg = parse_config(config_data("dev"))
    ep = cfg.endpoints[0]
    wide = ep.model_copy(update={"alarms": ep.alarms.model_copy(
        update={"period_seconds": 2**31})})
    problems = api_problems(cfg.model_copy(update={"endpoints": [wide]}))
    assert [p for p, _ in problems] == ["endpoints[0] (chat).alarms.period_seconds"]
    assert "CloudWatch's PutMetricAlarmInput.Period, a 32-bit integer" in problems[0][1]


def test_a_latency_threshold_a_double_cannot_hold():
    path, message = only_problem(dev_with(**{"endpoints.0.alarms": {
        "model_latency_p90_ms": 10**306}}))
    assert path == "endpoints[0] (chat).alarms.model_latency_p90_ms"
    assert message.startswith("the threshold is in microseconds (ms x 1000): 1000000")
    assert "(310 characters) is not a number CloudWatch's PutMetricAlarmInput.Threshold" \
        in message


def test_tags_beyond_the_limits_once_each():
    problems = problems_of(dev_with(**{"deployment.tags": {"k" * 129: "v", "team": "v" * 257,
                                                           "cost#center": "1"}}))
    assert [(p, m.split(" (botocore")[0]) for p, m in problems] == [
        (f"deployment.tags.{'k' * 129}",
         "value is 129 characters; SageMaker's Tag.Key takes at most 128"),
        ("deployment.tags.team", "value is 257 characters; SageMaker's Tag.Value takes at "
                                 "most 256"),
        ("deployment.tags.cost#center", "'cost#center' does not match the pattern of "
                                        "SageMaker's Tag.Key, ([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)"),
        (f"deployment.tags.{'k' * 129}",
         "value is 129 characters; CloudWatch's Tag.Key takes at most 128"),
        ("deployment.tags.team", "value is 257 characters; CloudWatch's Tag.Value takes at "
                                 "most 256")]


def test_too_many_tags_counts_the_project_tag():
    tags = {f"tag{i}": "v" for i in range(50)}
    problems = problems_of(dev_with(**{"deployment.tags": tags}))
    assert problems[0] == ("deployment.tags", "51 items; SageMaker's CreateModelInput.Tags "
                                              "takes at most 50 (botocore 1.44.5 sagemaker "
                                              "CreateModel)")
    assert all(p == "deployment.tags" for p, _ in problems)
    fewer = dict(list(tags.items())[:49])  # 50 with project: the most AWS takes
    assert api_problems(parse_config(dev_with(**{"deployment.tags": fewer}))) == []


def test_a_model_package_name_the_api_refuses():
    data = dev_with(**{"endpoints.0.image": {"model_package": "arn:aws:sagemaker:us-east-1:"
                                                               "123456789012:model-package/a/b/c"},
                       "endpoints.0.network_isolation": True})
    for key in ("source", "serving", "tgi_settings", "environment"):
        data["endpoints"][0].pop(key, None)
    path, message = only_problem(data)
    assert path == "endpoints[0] (chat).image.model_package"
    assert "does not match the pattern of SageMaker's ContainerDefinition.ModelPackageName" \
        in message


def test_component_cpu_cores_below_the_api_minimum():
    data = changed(config_data("seed-components"), **{"endpoints.0.components.0.cpu_cores": 0.1})
    path, message = only_problem(data)
    assert re.fullmatch(r"endpoints\[0\] \(\S+\)\.components\[0\] \(\S+\)\.cpu_cores", path)
    assert message.startswith("0.1 is below the minimum SageMaker's "
                              "InferenceComponentComputeResourceRequirements."
                              "NumberOfCpuCoresRequired takes, 0.25")


def test_an_async_output_path_counts_the_bucket_it_lands_in():
    prefix = "o" * 460 + "/"
    path, message = only_problem(changed(config_data("seed-async"), **{
        "endpoints.0.async_inference.output_path": prefix}))
    assert path == "endpoints[0] (flan-t5-xxl).async_inference.output_path"
    assert message.startswith("counting the bucket the stack creates at 63 characters: value "
                              "is 530 characters; SageMaker's AsyncInferenceOutputConfig."
                              "S3OutputPath takes at most 512")
    in_yours = changed(config_data("seed-async"), **{  # s3://bbb/<prefix>: 470 characters
        "endpoints.0.async_inference.output_path": prefix,
        "endpoints.0.async_inference.existing_bucket": "bbb",
        "endpoints.0.async_inference.runtime": False})
    assert api_problems(parse_config(in_yours)) == []
