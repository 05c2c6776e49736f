"""Every bad input is an error at synth naming the field, the bad value and the fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from config import ConfigError, available, load_config, parse_config
from tests.helpers import DELETE as _DELETE
from tests.helpers import dev_with

EP = "endpoints[0] (chat)"


def problems_of(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="test.yaml")
    assert "test.yaml" in str(info.value)
    return info.value.problems


def assert_problem(data: dict, path: str, *fragments: str) -> None:
    problems = problems_of(data)
    matching = [msg for p, msg in problems if p == path]
    assert matching, f"no problem at {path!r}; got {problems}"
    for fragment in fragments:
        assert any(fragment in msg for msg in matching), (fragment, matching)


@pytest.mark.parametrize("name", available())
def test_shipped_configs_are_valid(name):
    cfg = load_config(name)
    assert cfg.endpoints


def test_dev_and_prod_are_shipped():
    assert {"dev", "prod"} <= set(available())


def test_unknown_instance_type_names_field_value_and_near_matches():
    assert_problem(dev_with(**{"endpoints.0.instance_type": "ml.g5.3xlarge"}),
                   f"{EP}.instance_type", "'ml.g5.3xlarge'", "did you mean ml.g5.",
                   "ProductionVariantInstanceType")


def test_instance_types_come_from_botocore():
    from llm_constructs.instances import realtime_instance_types

    types = realtime_instance_types()
    assert "ml.g5.2xlarge" in types and "ml.g5.48xlarge" in types
    assert "ml.g5.3xlarge" not in types


def test_sm_num_gpus_above_instance_gpus():
    assert_problem(dev_with(**{"endpoints.0.sm_num_gpus": 2}),  # g5.2xlarge has one A10G
                   f"{EP}.sm_num_gpus", "2 is more than the 1 GPU(s) of ml.g5.2xlarge",
                   "allowed: 1..1")


def test_sm_num_gpus_in_raw_environment_is_refused():
    assert_problem(dev_with(**{"endpoints.0.environment": {"SM_NUM_GPUS": "8"}}),
                   f"{EP}.environment.SM_NUM_GPUS", "sm_num_gpus")


def test_hub_model_without_egress():
    assert_problem(dev_with(**{"network.egress": "none"}), f"{EP}.source.hub",
                   "Qwen/Qwen2.5-7B-Instruct", "network.egress: nat", "s3")


def test_hub_model_with_network_isolation():
    assert_problem(dev_with(**{"endpoints.0.network_isolation": True}),
                   f"{EP}.network_isolation", "Hub")


def test_min_capacity_above_max():
    assert_problem(dev_with(**{"endpoints.0.autoscaling.min_capacity": 3}),
                   f"{EP}.autoscaling.min_capacity", "3 is above max_capacity 2")


def test_min_capacity_zero_on_realtime():
    assert_problem(dev_with(**{"endpoints.0.autoscaling.min_capacity": 0}),
                   f"{EP}.autoscaling.min_capacity", "only for mode: async", "use 1")


def test_initial_count_outside_scaling_range():
    assert_problem(dev_with(**{"endpoints.0.initial_instance_count": 3}),
                   f"{EP}.initial_instance_count", "outside autoscaling 1..2")


def test_unknown_key_is_an_error_not_ignored():
    assert_problem(dev_with(**{"endpoints.0.instanse_type": "ml.g5.2xlarge"}),
                   f"{EP}.instanse_type", "unknown key")


def test_unknown_top_level_key():
    assert_problem(dev_with(**{"netwrok": {}}), "netwrok", "unknown key")


def test_missing_required_key():
    assert_problem(dev_with(**{"endpoints.0.image": _DELETE}), f"{EP}.image", "missing")


def test_missing_image_lists_every_kind_the_union_takes():
    """The same choices as a malformed image: every backend record, then the other kinds."""
    missing = problems_of(dev_with(**{"endpoints.0.image": _DELETE}))
    malformed = problems_of(dev_with(**{"endpoints.0.image": {"tgi": "3.3.6", "vllm": "x"}}))
    listed = [msg.split("missing: ", 1)[1] for p, msg in missing if p == f"{EP}.image"]
    assert listed and listed[0].startswith("give exactly one of tgi: <version>, vllm: <version>")
    assert any(listed[0] in msg for p, msg in malformed if p == f"{EP}.image")


def test_missing_endpoints():
    assert_problem(dev_with(**{"endpoints": _DELETE}), "endpoints", "missing")


@pytest.mark.parametrize("bad", ["-starts-with-dash", "has_underscore", "x" * 64, "ends-"])
def test_invalid_endpoint_name(bad):
    assert_problem(dev_with(**{"endpoints.0.endpoint_name": bad}), f"{EP}.endpoint_name",
                   repr(bad), "1-63")


def test_duplicate_endpoint_names():
    data = dev_with()
    data["endpoints"].append(copy.deepcopy(data["endpoints"][0]))
    problems = problems_of(data)
    assert ("endpoints[1] (chat).name", "'chat' is used by another endpoint") in problems


def test_unknown_tgi_version_lists_known_ones():
    assert_problem(dev_with(**{"endpoints.0.image.tgi": "9.9.9"}), f"{EP}.image.tgi",
                   "'9.9.9'", "3.3.6")


def test_volume_size_on_instance_with_nvme_storage():
    assert_problem(dev_with(**{"endpoints.0.volume_size_gb": 100}), f"{EP}.volume_size_gb",
                   "ml.g5.2xlarge", "NVMe")


def test_cpu_instance_for_tgi():
    assert_problem(dev_with(**{"endpoints.0.instance_type": "ml.m5.xlarge"}),
                   f"{EP}.instance_type", "no GPU")


def test_a_gpu_type_no_source_describes_takes_only_your_own_image():
    # the one GPU type of the enum that no source lists (see llm_constructs/data/instances.json);
    # it runs on Grace (arm64) hosts, and nothing machine-readable says so either
    assert_problem(dev_with(**{"endpoints.0.instance_type": "ml.p6e-gb200.36xlarge",
                               "endpoints.0.sm_num_gpus": 4}),
                   f"{EP}.instance_type", "no source gives the GPUs or the CPU architecture",
                   "x86_64 builds", "uri: or build:")
    own = dev_with(**{"endpoints.0.instance_type": "ml.p6e-gb200.36xlarge",
                      "endpoints.0.image": {"uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/"
                                                   "mine:arm64"},
                      "endpoints.0.tgi_settings": _DELETE})
    assert parse_config(own).endpoints[0].instance_type == "ml.p6e-gb200.36xlarge"


def test_token_literal_in_environment_is_refused():
    assert_problem(dev_with(**{"endpoints.0.environment": {"HF_TOKEN": "hf_abc"}}),
                   f"{EP}.environment", "Secrets Manager")


def test_bad_s3_uri():
    assert_problem(dev_with(**{"endpoints.0.source": {"s3": "s3://bucket/model.zip"}}),
                   f"{EP}.source.s3", "model.tar.gz")


def test_unknown_region():
    assert_problem(dev_with(**{"deployment.region": "us-east-9"}), "deployment.region",
                   "'us-east-9'", "us-east-1")


def test_region_without_dlc_is_a_synth_error():
    from aws_cdk.region_info import RegionInfo

    from llm_constructs.images import tgi_image

    published = tgi_image("3.3.6").registries
    missing = sorted(r.name for r in RegionInfo.regions if r.name not in published)
    assert missing, "every known region has a TGI DLC; pick another test"
    assert_problem(dev_with(**{"deployment.region": missing[0]}), f"{EP}.image.tgi",
                   repr(missing[0]), "us-east-1")


def test_fixed_account_and_region_needs_zones():
    assert_problem(dev_with(**{"deployment.account": "123456789012",
                               "deployment.region": "eu-west-1"}),
                   "deployment.availability_zones", "lookup")


def test_zones_must_belong_to_region():
    assert_problem(dev_with(**{"deployment.region": "eu-west-1",
                               "deployment.availability_zones": ["eu-west-1a", "us-east-1b"]}),
                   "deployment.availability_zones", "'us-east-1b'")


def test_bad_log_retention():
    assert_problem(dev_with(**{"network.flow_logs.retention_days": 31}),
                   "network.flow_logs.retention_days", "31", "30")


def test_bad_interface_endpoint():
    problems = problems_of(dev_with(**{"network.interface_endpoints": ["sagemaker.runtim"]}))
    assert problems[0][0] == "network.interface_endpoints[0]"
    assert "sagemaker.runtime" in problems[0][1] and "sagemaker.runtim" in problems[0][1]


def test_all_problems_reported_at_once():
    problems = problems_of(dev_with(**{"network.egress": "none",
                                       "endpoints.0.sm_num_gpus": 4}))
    paths = {p for p, _ in problems}
    assert {f"{EP}.source.hub", f"{EP}.sm_num_gpus"} <= paths


def test_duplicate_yaml_key(tmp_path: Path):
    (tmp_path / "dup.yaml").write_text("project: a1\nproject: b2\nendpoints: []\n")
    with pytest.raises(ConfigError) as info:
        load_config("dup", config_dir=tmp_path)
    assert "'project' is given twice" in str(info.value)


def test_unknown_config_name_lists_available():
    with pytest.raises(ConfigError) as info:
        load_config("nope")
    assert "no config/nope.yaml" in str(info.value) and "dev" in str(info.value)


@pytest.mark.parametrize("changes,path,fragment", [
    ({"project": "Bad_Project"}, "project", "'Bad_Project'"),
    ({"deployment.account": "12345"}, "deployment.account", "'12345'"),
    ({"deployment.termination_protection": "maybe"}, "deployment.termination_protection",
     "'maybe'"),
    ({"network.cidr": "10.0.0.0/8"}, "network.cidr", "/16 to /22"),
    ({"network.cidr": "not-a-cidr"}, "network.cidr", "not an IPv4 CIDR"),
    ({"network.max_azs": 1}, "network.max_azs", "greater than or equal to 2"),
    ({"network.egress": "igw"}, "network.egress", "'nat' or 'none'"),
    ({"network.nat_gateways": 3}, "network.nat_gateways", "3 NAT gateways for 2 AZs"),
    ({"encryption.customer_managed_key": "yes please"}, "encryption.customer_managed_key",
     "'yes please'"),
    ({"removal_policy": "snapshot"}, "removal_policy", "'retain' or 'destroy'"),
    ({"endpoints.0.name": "Chat_1"}, "endpoints[0] (Chat_1).name", "lower-case"),
    ({"endpoints.0.mode": "batch"}, f"{EP}.mode",
     "'realtime', 'async', 'components' or 'serverless'"),
    ({"endpoints.0.initial_instance_count": 0}, f"{EP}.initial_instance_count",
     "greater than or equal to 1"),
    ({"endpoints.0.container_startup_health_check_timeout_seconds": 5000},
     f"{EP}.container_startup_health_check_timeout_seconds", "less than or equal to 3600"),
    ({"endpoints.0.model_data_download_timeout_seconds": 10},
     f"{EP}.model_data_download_timeout_seconds", "greater than or equal to 60"),
    ({"endpoints.0.invoke_principals": ["arn:aws:iam::123456789012:user/x"]},
     f"{EP}.invoke_principals", "is not an ARN of iam role/"),
    ({"endpoints.0.environment": {"1BAD": "x"}}, f"{EP}.environment",
     "not an environment variable name"),
    ({"endpoints.0.model_size": {"parameters_billions": 0}},
     f"{EP}.model_size.parameters_billions", "greater than 0"),
    ({"endpoints.0.model_size": {"dtype": "fp8"}}, f"{EP}.model_size.dtype", "'bf16'"),
    ({"endpoints.0.alarms": {"period_seconds": 10}}, f"{EP}.alarms.period_seconds",
     "greater than or equal to 60"),
    ({"endpoints.0.autoscaling.scale_in_cooldown_seconds": -1},
     f"{EP}.autoscaling.scale_in_cooldown_seconds", "greater than or equal to 0"),
    ({"endpoints.0.source": {"hub": "a/b", "token_secret_key": "token"}},
     f"{EP}.source.token_secret_key", "set token_secret too"),
    ({"endpoints.0.source": {"hub": "not a model id"}}, f"{EP}.source.hub",
     "not a Hub model id"),
])
def test_every_field_names_itself_when_wrong(changes, path, fragment):
    assert_problem(dev_with(**changes), path, fragment)


@pytest.mark.parametrize("changes,path,fragment", [
    ({"endpoints.0.async_inference.expire_after_days": 0},
     "async_inference.expire_after_days", "greater than or equal to 1"),
    ({"endpoints.0.async_inference.input_path": "in put/"}, "async_inference.input_path",
     "not an S3 prefix"),
    ({"endpoints.0.async_inference.existing_bucket": "Bad_Bucket"},
     "async_inference.existing_bucket", "'Bad_Bucket'"),
    ({"endpoints.0.async_inference.include_inference_response_in": ["BOTH"]},
     "async_inference.include_inference_response_in[0]", "SUCCESS_NOTIFICATION_TOPIC"),
    ({"endpoints.0.autoscaling.target_backlog_per_instance": 0},
     "autoscaling.target_backlog_per_instance", "greater than 0"),
])
def test_every_async_field_names_itself_when_wrong(changes, path, fragment):
    from tests.helpers import seed_async_with

    assert_problem(seed_async_with(**changes), f"endpoints[0] (flan-t5-xxl).{path}", fragment)


def test_a_region_only_aws_image_tables_know_is_accepted():
    """CDK's RegionInfo and botocore 1.44.5 lack me-west-1; sagemaker-core's tables list it."""
    from config import parse_config

    assert parse_config(dev_with(**{"deployment.region": "me-west-1"})).deployment.region == \
        "me-west-1"


def test_an_alarm_period_cloudwatch_refuses_is_a_config_error():
    """CDK raised a RuntimeError at synth for 90; botocore documents the valid periods."""
    from botocore.loaders import Loader

    model = Loader().load_service_model("cloudwatch", "service-2")
    doc = model["shapes"]["PutMetricAlarmInput"]["members"]["Period"]["documentation"]
    assert "any multiple of 60" in doc
    assert_problem(dev_with(**{"endpoints.0.alarms": {"period_seconds": 90}}),
                   f"{EP}.alarms.period_seconds", "90 is not a multiple of 60", "nearest: 120")
