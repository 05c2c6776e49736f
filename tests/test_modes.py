"""Issue 6: inference components, serverless endpoints, deployment guardrails."""

from __future__ import annotations

import copy
import json

import pytest

from tests.helpers import (DELETE, as_list, changed, config_data, dev_with, nag_report_ok, one,
                           problems, replacements, resources, statements, synthesize,
                           synthesize_data)

IC = "endpoints[0] (llama3)"
C0 = f"{IC}.components[0] (naver-news)"


def components_with(**changes) -> dict:
    return changed(copy.deepcopy(config_data("seed-components")), **changes)


def second_component(**extra) -> dict:
    return {"name": "small", "image": {"tgi": "3.3.6"},
            "source": {"s3": "s3://my-llm-artifacts-bucket/qwen-1.5b/"},
            "accelerators": 1, "memory_mb": 2048, **extra}


@pytest.fixture(scope="module")
def ic() -> dict:
    return synthesize("seed-components").endpoint("llama3")


# -- inference components ---------------------------------------------------------------------
def test_endpoint_config_has_managed_instance_scaling_and_no_model(ic):
    _, config = one(ic, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["Properties"]["ProductionVariants"]
    assert "ModelName" not in variant
    assert variant["InstanceType"] == "ml.g5.12xlarge"
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 0,
                                                 "MaxInstanceCount": 1,
                                                 "ScaleInPolicy": {"Strategy": "IDLE_RELEASE"}}
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert config["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0].startswith("ExecutionRole")
    assert len(config["Properties"]["VpcConfig"]["Subnets"]) == 2


def test_seed_003_component(ic):
    _, comp = one(ic, "AWS::SageMaker::InferenceComponent")
    p = comp["Properties"]
    assert p["InferenceComponentName"] == "llm-seed-ic-llama3-naver-news"
    assert p["Specification"]["ComputeResourceRequirements"] == {
        "NumberOfAcceleratorDevicesRequired": 4, "MinMemoryRequiredInMb": 1024}
    assert p["RuntimeConfig"] == {"CopyCount": 1}
    assert p["VariantName"] == "AllTraffic"
    _, model = one(ic, "AWS::SageMaker::Model")
    env = model["Properties"]["PrimaryContainer"]["Environment"]
    assert env["SM_NUM_GPUS"] == "4"  # the component's accelerators, not a guess
    assert env["HF_MODEL_ID"] == "/opt/ml/model"
    assert model["Properties"]["PrimaryContainer"]["ModelDataSource"]["S3DataSource"][
        "S3Uri"] == "s3://my-llm-artifacts-bucket/llama3-8b-naver-news/merged/"


def test_copies_scale_on_concurrency_and_come_back_from_zero(ic):
    _, target = one(ic, "AWS::ApplicationAutoScaling::ScalableTarget")
    t = target["Properties"]
    assert t["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert t["ResourceId"] == "inference-component/llm-seed-ic-llama3-naver-news"
    assert (t["MinCapacity"], t["MaxCapacity"]) == (0, 1)
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in json.dumps(t["RoleARN"])
    policies = {p["Properties"]["PolicyType"]: p["Properties"]
                for p in resources(ic, "AWS::ApplicationAutoScaling::ScalingPolicy").values()}
    tt = policies["TargetTrackingScaling"]["TargetTrackingScalingPolicyConfiguration"]
    assert tt["PredefinedMetricSpecification"]["PredefinedMetricType"] == \
        "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    assert tt["TargetValue"] == 4
    step = policies["StepScaling"]["StepScalingPolicyConfiguration"]
    assert step["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    # the scale-from-zero alarm; the others are the component's monitoring
    (a,) = [r["Properties"] for r in resources(ic, "AWS::CloudWatch::Alarm").values()
            if r["Properties"]["MetricName"] == "NoCapacityInvocationFailures"]
    assert a["Dimensions"] == [{"Name": "InferenceComponentName",
                                "Value": "llm-seed-ic-llama3-naver-news"}]
    assert (a["Threshold"], a["EvaluationPeriods"], a["Period"]) == (1, 1, 60)
    step_id = next(k for k, p in resources(ic, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
                   if p["Properties"]["PolicyType"] == "StepScaling")
    assert a["AlarmActions"] == [{"Ref": step_id}]


def test_two_components_share_the_endpoint_and_min_one_copy_needs_no_step_policy():
    data = components_with(**{
        "endpoints.0.components.0.accelerators": 2,
        "endpoints.0.components.0.autoscaling.min_copies": 1,
        "endpoints.0.components.0.autoscaling.schedules": [],
        "endpoints.0.components.0.sm_num_gpus": 2})
    data["endpoints"][0]["components"].append(second_component(cpu_cores=2))
    synth = synthesize_data(data)
    t = synth.endpoint("llama3")
    comps = {c["Properties"]["InferenceComponentName"]: c["Properties"]
             for c in resources(t, "AWS::SageMaker::InferenceComponent").values()}
    assert set(comps) == {"llm-seed-ic-llama3-naver-news", "llm-seed-ic-llama3-small"}
    assert comps["llm-seed-ic-llama3-small"]["Specification"]["ComputeResourceRequirements"] == {
        "NumberOfAcceleratorDevicesRequired": 1, "MinMemoryRequiredInMb": 2048,
        "NumberOfCpuCoresRequired": 2}
    assert len(resources(t, "AWS::SageMaker::Model")) == 2
    metrics = {a["Properties"]["MetricName"]
               for a in resources(t, "AWS::CloudWatch::Alarm").values()}
    assert "NoCapacityInvocationFailures" not in metrics  # no scale-from-zero when min is 1
    reads = [r for s in statements(t, "ExecutionRole") if "s3:GetObject" in as_list(s["Action"])
             for r in as_list(s["Resource"])]
    assert [json.dumps(r).split(":::")[1] for r in reads] == [  # each component's prefix only
        'my-llm-artifacts-bucket/llama3-8b-naver-news/merged/*"]]}',
        'my-llm-artifacts-bucket/qwen-1.5b/*"]]}']
    assert nag_report_ok(synth)


def test_changing_copies_updates_the_component_in_place_never_the_endpoint():
    before = synthesize("seed-components").endpoint("llama3")
    after = synthesize_data(components_with(**{
        "endpoints.0.components.0.copies": 1,
        "endpoints.0.components.0.autoscaling.max_copies": 3}), nag=False).endpoint("llama3")
    assert before != after
    assert replacements(before, after) == {}


@pytest.mark.parametrize("changes,path,fragment", [
    ({"endpoints.0.components.0.accelerators": 8}, f"{C0}.accelerators",
     "'naver-news' asks for 8 accelerators; ml.g5.12xlarge has 4"),
    ({"endpoints.0.components.0.memory_mb": 300_000}, f"{C0}.memory_mb", "192 GiB"),
    ({"endpoints.0.components.0.accelerators": 0}, f"{C0}.accelerators", "at least 1 GPU"),
    ({"endpoints.0.components.0.sm_num_gpus": 8}, f"{C0}.sm_num_gpus", "4 accelerators"),
    ({"endpoints.0.components.0.instance_type": "ml.g5.2xlarge"}, f"{C0}.instance_type",
     "endpoint's instance_type"),
    ({"endpoints.0.components.0.copies": 3}, f"{C0}.copies", "outside autoscaling 0..1"),
    ({"endpoints.0.components.0.autoscaling.min_copies": 2}, f"{C0}.autoscaling.min_copies",
     "above max_copies"),
    ({"endpoints.0.components.0.image": {"model_package": "varco-llm"}},
     f"{C0}.image.model_package", "inference components"),
    ({"endpoints.0.components.0.image": {"tgi": "9.9"}}, f"{C0}.image.tgi", "offered: "),
    ({"endpoints.0.components": []}, f"{IC}.components", "required for mode: components"),
    ({"endpoints.0.image": {"tgi": "3.3.6"}}, f"{IC}.image", "per component"),
    ({"endpoints.0.autoscaling": {"min_capacity": 1}}, f"{IC}.autoscaling",
     "components[].autoscaling"),
    ({"endpoints.0.instance_scaling.min_instances": 3}, f"{IC}.instance_scaling.min_instances",
     "above max_instances"),
])
def test_component_rules(changes, path, fragment):
    assert fragment in problems(components_with(**changes))[path]


def test_minimum_copies_must_fit_the_instances():
    data = components_with(**{"endpoints.0.components.0.autoscaling.min_copies": 1,
                              "endpoints.0.components.0.autoscaling.schedules": []})
    data["endpoints"][0]["components"].append(second_component(copies=1))
    msg = problems(data)[f"{IC}.components"]
    assert "need 5 accelerators; 1 x ml.g5.12xlarge have 4" in msg
    data = components_with(**{"endpoints.0.instance_scaling.max_instances": 2,
                              "endpoints.0.components.0.autoscaling.min_copies": 1,
                              "endpoints.0.components.0.autoscaling.schedules": []})
    data["endpoints"][0]["components"].append(second_component(copies=1))
    from config import parse_config
    assert parse_config(data)  # two instances hold 8 accelerators


def test_duplicate_component_names():
    data = components_with()
    data["endpoints"][0]["components"].append(second_component(name="naver-news"))
    assert "used by another component" in problems(data)[
        f"{IC}.components[1] (naver-news).name"]


def test_components_only_in_components_mode():
    msg = problems(dev_with(**{"endpoints.0.components": [second_component()]}))
    assert "only for mode: components" in msg["endpoints[0] (chat).components"]


# -- serverless -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def serverless() -> dict:
    return synthesize("seed-containers").endpoint("serverless")


def test_serverless_endpoint_is_cpu_and_outside_the_vpc(serverless):
    _, config = one(serverless, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 6144, "MaxConcurrency": 5}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    assert "KmsKeyId" not in config["Properties"]
    _, model = one(serverless, "AWS::SageMaker::Model")
    assert "VpcConfig" not in model["Properties"]
    assert model["Properties"]["PrimaryContainer"]["Image"]["Fn::Join"][1][-1].endswith(
        "-cpu-py312-ubuntu22.04")
    assert not resources(serverless, "AWS::EC2::SecurityGroup")
    assert not resources(serverless, "AWS::ApplicationAutoScaling::ScalableTarget")


def serverless_with(**changes) -> dict:
    data = copy.deepcopy(config_data("seed-containers"))
    data["endpoints"] = data["endpoints"][2:]
    return changed(data, **changes)


SV = "endpoints[0] (serverless)"


def test_provisioned_concurrency():
    t = synthesize_data(serverless_with(**{"endpoints.0.serverless.provisioned_concurrency": 2}),
                        nag=False).endpoint("serverless")
    _, config = one(t, "AWS::SageMaker::EndpointConfig")
    assert config["Properties"]["ProductionVariants"][0]["ServerlessConfig"][
        "ProvisionedConcurrency"] == 2


@pytest.mark.parametrize("changes,path,fragment", [
    ({"endpoints.0.instance_type": "ml.g5.xlarge"}, f"{SV}.instance_type", "no GPU"),
    ({"endpoints.0.image": {"tgi": "3.3.6"}}, f"{SV}.image.tgi", "needs a GPU"),
    ({"endpoints.0.image": {"model_package": "varco-llm"}, "endpoints.0.source": DELETE},
     f"{SV}.image.model_package", "serverless"),
    ({"network.egress": "none", "network.nat_gateways": DELETE}, f"{SV}.mode",
     "outside your VPC"),
    ({"endpoints.0.async_inference": {}}, f"{SV}.async_inference", "synchronous"),
    ({"endpoints.0.autoscaling": {"min_capacity": 1}}, f"{SV}.autoscaling", "scales serverless"),
    ({"endpoints.0.network_isolation": True}, f"{SV}.network_isolation", "not supported"),
    ({"endpoints.0.guardrails": {"strategy": "all_at_once"}}, f"{SV}.guardrails", "serverless"),
    ({"endpoints.0.initial_instance_count": 2}, f"{SV}.initial_instance_count", "no instances"),
    ({"endpoints.0.serverless.provisioned_concurrency": 9},
     f"{SV}.serverless.provisioned_concurrency", "above max_concurrency 5"),
    ({"endpoints.0.serverless.memory_size_mb": 1500}, f"{SV}.serverless.memory_size_mb", "1024"),
])
def test_serverless_rules(changes, path, fragment):
    assert fragment in problems(serverless_with(**changes))[path]


def test_serverless_settings_only_on_serverless():
    msg = problems(dev_with(**{"endpoints.0.serverless": {"max_concurrency": 2}}))
    assert "only for mode: serverless" in msg["endpoints[0] (chat).serverless"]


# -- guardrails -------------------------------------------------------------------------------
def test_prod_updates_blue_green_with_canary_and_auto_rollback(prod):
    t = prod.endpoint("chat")
    _, endpoint = one(t, "AWS::SageMaker::Endpoint")
    dc = endpoint["Properties"]["DeploymentConfig"]
    routing = dc["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25},
                       "WaitIntervalInSeconds": 600}
    assert dc["BlueGreenUpdatePolicy"]["TerminationWaitInSeconds"] == 300
    alarms = {a["AlarmName"]["Ref"] for a in dc["AutoRollbackConfiguration"]["Alarms"]}
    metrics = {resources(t, "AWS::CloudWatch::Alarm")[a]["Properties"]["MetricName"]
               for a in alarms}
    assert metrics == {"Invocation5XXErrors", "ModelLatency"}
    assert endpoint["Properties"]["RetainDeploymentConfig"] is True


@pytest.mark.parametrize("settings,routing", [
    ({"strategy": "linear", "linear_step_percent": 20, "wait_interval_seconds": 120},
     {"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
      "WaitIntervalInSeconds": 120}),
    ({"strategy": "all_at_once", "auto_rollback": False},
     {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}),
])
def test_other_traffic_shifting(settings, routing):
    t = synthesize_data(dev_with(**{"endpoints.0.guardrails": settings}),
                        nag=False).endpoint("chat")
    _, endpoint = one(t, "AWS::SageMaker::Endpoint")
    dc = endpoint["Properties"]["DeploymentConfig"]
    assert dc["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == routing
    assert ("AutoRollbackConfiguration" in dc) == settings.get("auto_rollback", True)


GR = "endpoints[0] (chat).guardrails"


@pytest.mark.parametrize("changes,path,fragment", [
    ({"endpoints.0.guardrails": {"strategy": "canary"}}, f"{GR}.canary_size_percent", "required"),
    ({"endpoints.0.guardrails": {"strategy": "linear"}}, f"{GR}.linear_step_percent", "required"),
    ({"endpoints.0.guardrails": {"strategy": "all_at_once", "canary_size_percent": 10}},
     f"{GR}.canary_size_percent", "only for strategy: canary"),
    ({"endpoints.0.guardrails": {"strategy": "all_at_once"},
      "endpoints.0.alarms": {"enabled": False}},
     f"{GR}.auto_rollback", "alarms.enabled"),
    ({"endpoints.0.guardrails": {"strategy": "all_at_once"}, "endpoints.0.mode": "async",
      "endpoints.0.autoscaling": DELETE, "endpoints.0.tgi_settings": DELETE}, GR, "async"),
    ({"endpoints.0.guardrails": {"strategy": "all_at_once"},
      "endpoints.0.image": {"model_package": "varco-llm"}, "endpoints.0.source": DELETE,
      "endpoints.0.tgi_settings": DELETE}, GR, "Marketplace"),
])
def test_guardrail_rules(changes, path, fragment):
    assert fragment in problems(dev_with(**changes))[path]


def test_no_guardrails_on_components():
    msg = problems(components_with(**{"endpoints.0.guardrails": {"strategy": "all_at_once"}}))
    assert "inference components have their own rolling updates" in msg[f"{IC}.guardrails"]
