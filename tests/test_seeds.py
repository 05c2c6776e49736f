"""The seed configs reproduce the walkthroughs they were written from, number for number.

The seeds (two Korean blog posts, a Medium walkthrough in Korean translation, a workshop
README and a page of the SageMaker developer guide) are not part of this repository, so each
test quotes the seed's own words, reads the number or setting out of the quote, and compares
it with the synthesized template of the shipped config. Where the seeds are at hand
(``LLM_SEEDS_DIR``, or a ``shared/seeds`` folder beside a parent of the checkout), every quote
is checked to be in its seed word for word, so a quote cannot drift from its seed either.

What the seeds state that a shipped config does not reproduce, and why, is said in the
config's comments (seed 000's image version, redacted bucket, region and four subnets; seed
001's absent SNS topics and failure path; seed 004's ``ml.c6i.xlarge`` ModelBuilder example,
which deploys an XGBoost or t5-small model, not an LLM).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from config import parse_config
from tests.helpers import ROOT, config_data, one, resources, synthesize, synthesize_data

# -- the seeds' words ------------------------------------------------------------------------
#: (seed, exact text from it). Keys name what the quote states.
QUOTES: dict[str, tuple[str, str]] = {
    # 000: a wiki page on SageMaker inference (Korean): the CLI way, with a VPC.
    "000-variant": ("000", "InitialInstanceCount=1,InstanceType=ml.g5.2xlarge,"
                           "InitialVariantWeight=1.0"),
    "000-environment": ("000", "Environment={SAGEMAKER_CONTAINER_LOG_LEVEL=20,"
                               "SAGEMAKER_REGION=ap-northeast-2}"),
    "000-image": ("000", "huggingface-pytorch-inference:2.0.0-transformers4.28.1-gpu-py310-"
                         "cu118-ubuntu20.04"),
    "000-vpc": ("000", "--vpc-config 'SecurityGroupIds=sg-xxx,Subnets="),
    "000-s3-gateway": ("000", "서비스는 s3를 검색하고 Endpoint type은 Gateway."),
    "000-tgi-model-dir": ("000", "위치를 `/opt/ml/model`로 지정한다."),
    # 001: "Deploying Large Language Models with SageMaker Asynchronous Inference".
    "001-model": ("001", "'HF_MODEL_ID':'google/flan-t5-xxl',\n   'SM_NUM_GPUS': json.dumps(4)"),
    "001-image": ("001", 'get_huggingface_llm_image_uri("huggingface",version="1.1.0")'),
    "001-deploy": ("001", ' initial_instance_count=1,\n instance_type="ml.g5.12xlarge",\n'
                          ' container_startup_health_check_timeout=300,'),
    "001-concurrency": ("001", "max_concurrent_invocations_per_instance=10,"),
    "001-output": ("001", 'bucket_prefix = "async-llm-output"\n'
                          'async_output_path = f"s3://{default_bucket}/{bucket_prefix}/output"'),
    "001-input": ("001", 'prefix = f"{bucket_prefix}/input"'),
    "001-target": ("001", 'ResourceId=resource_id,\n'
                          '    ScalableDimension="sagemaker:variant:DesiredInstanceCount",\n'
                          '    MinCapacity=0,\n    MaxCapacity=5,'),
    "001-variant": ("001", '"/variant/" + "AllTraffic"'),
    "001-policy": ("001", '"TargetValue": 5.0,'),
    "001-metric": ("001", '"MetricName": "ApproximateBacklogSizePerInstance",\n'
                          '            "Namespace": "AWS/SageMaker",\n'
                          '            "Dimensions": [{"Name": "EndpointName", '
                          '"Value": predictor.endpoint_name}],\n'
                          '            "Statistic": "Average",'),
    "001-cooldowns": ("001", '"ScaleInCooldown": 600,'),
    "001-scale-out": ("001", '"ScaleOutCooldown": 100,'),
    # 002: a custom model in a custom container (Korean blog post).
    "002-entrypoint": ("002", 'ENTRYPOINT ["python", "serve.py"]'),
    "002-port": ("002", 'uvicorn.run("inference:app", host="0.0.0.0", port=8080)'),
    "002-model": ("002", "pad_token_id=50256,  # GPT-2 의 pad 토큰 ID"),
    # 003: Llama3-8B fine-tuning and an inference component (workshop README, Korean).
    "003-quota": ("003", "- One ml.g5.12xlarge for endpoint usage"),
    "003-model": ("003", "[meta-llama/Meta-Llama-3-8B]"),
    "003-server": ("003", "Hugging Face TGI 도커 컨테이너로 모델을 서빙"),
    # 004: the SageMaker developer guide, "ModelBuilder" (Korean translation).
    "004-resources": ("004", '"num_accelerators": 4,\n"memory": 1024,\n"copies": 1,\n},\n'
                             'limits={},'),
    "004-endpoint-type": ("004", "endpoint_type=EndpointType.INFERENCE_COMPONENT_BASED,"),
}


def quote(key: str) -> str:
    return QUOTES[key][1]


def seeds_dir() -> Path | None:
    """Where the seed files are, if anywhere: ``LLM_SEEDS_DIR``, else ``shared/seeds``
    beside the checkout or one of its parents (worktrees sit one level deeper)."""
    if os.environ.get("LLM_SEEDS_DIR"):
        return Path(os.environ["LLM_SEEDS_DIR"])
    for parent in ROOT.parents:
        if (parent / "shared" / "seeds").is_dir():
            return parent / "shared" / "seeds"
    return None


@pytest.mark.parametrize("key", sorted(QUOTES))
def test_each_quote_is_in_its_seed_word_for_word(key):
    folder = seeds_dir()
    if folder is None:
        pytest.skip("the seeds are not here (set LLM_SEEDS_DIR to check the quotes)")
    seed, text = QUOTES[key]
    (path,) = folder.glob(f"{seed}_*.txt")
    assert text in path.read_text(encoding="utf-8"), f"{key}: not in {path.name}"


def stated(key: str, pattern: str) -> str:
    """The one group of ``pattern`` in the quote ``key``: the seed's own value."""
    match = re.search(pattern, quote(key))
    assert match, f"{pattern!r} not in quote {key}"
    return match.group(1)


def stated_int(key: str, pattern: str) -> int:
    return int(stated(key, pattern))


# -- templates --------------------------------------------------------------------------------
def variant(template: dict) -> dict:
    _, config = one(template, "AWS::SageMaker::EndpointConfig")
    (production_variant,) = config["Properties"]["ProductionVariants"]
    return production_variant


def container(template: dict) -> dict:
    _, model = one(template, "AWS::SageMaker::Model")
    return model["Properties"]["PrimaryContainer"]


def join_tail(value: dict) -> str:
    """The literal last part of an ``Fn::Join`` (the key after the bucket, say)."""
    return value["Fn::Join"][1][-1]


def image_uri(template: dict, region: str) -> str:
    """The Model's image URI in ``region`` (``Fn::Join``, ``Fn::FindInMap``, ``Ref``)."""
    def resolve(value: object) -> str:
        if isinstance(value, str):
            return value
        assert isinstance(value, dict)
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(resolve(part) for part in parts)
        if "Ref" in value:
            return {"AWS::Region": region, "AWS::URLSuffix": "amazonaws.com"}[value["Ref"]]
        name, key, field = value["Fn::FindInMap"]
        return template["Mappings"][name][resolve(key)][field]
    return resolve(container(template)["Image"])


def endpoint_data(config: str, name: str) -> dict:
    return next(e for e in config_data(config)["endpoints"] if e["name"] == name)


@pytest.fixture(scope="module")
def async_endpoint() -> dict:
    return synthesize("seed-async").endpoint("flan-t5-xxl")


@pytest.fixture(scope="module")
def dlc() -> dict:
    return synthesize("seed-containers").endpoint("dlc")


@pytest.fixture(scope="module")
def component_endpoint() -> dict:
    return synthesize("seed-components").endpoint("llama3")


#: Seeds 003 and 004's component: the merged model (its base and adapter serve the
#: un-merged QLoRA adapter beside it, tests/test_adapters.py).
MERGED = "naver-news"


def merged_component(template: dict) -> dict:
    (component,) = [r for r in resources(template, "AWS::SageMaker::InferenceComponent")
                    .values() if r["Properties"]["InferenceComponentName"].endswith(f"-{MERGED}")]
    return component


def merged_container(template: dict) -> dict:
    model = merged_component(template)["Properties"]["Specification"]["ModelName"]
    return template["Resources"][model["Fn::GetAtt"][0]]["Properties"]["PrimaryContainer"]


def scaling_policy(template: dict) -> dict:
    _, target = one(template, "Custom::ScalableVariant")
    (policy,) = [p for p in json.loads(target["Properties"]["Policies"])
                 if p["PolicyType"] == "TargetTrackingScaling"]
    return policy["TargetTrackingScalingPolicyConfiguration"]


# -- seed 000: the PyTorch DLC from the CLI, in a VPC -> seed-containers.yaml, endpoint dlc ---
def test_000_variant_instance_type_count_and_weight(dlc):
    pairs = dict(item.split("=") for item in quote("000-variant").split(","))
    assert variant(dlc)["InstanceType"] == pairs["InstanceType"]
    assert variant(dlc)["InitialInstanceCount"] == int(pairs["InitialInstanceCount"])
    assert variant(dlc)["InitialVariantWeight"] == float(pairs["InitialVariantWeight"])


def test_000_container_log_level(dlc):
    level = stated("000-environment", r"SAGEMAKER_CONTAINER_LOG_LEVEL=(\d+)")
    assert container(dlc)["Environment"]["SAGEMAKER_CONTAINER_LOG_LEVEL"] == level


def test_000_config_takes_the_seeds_region_as_it_is():
    region = stated("000-environment", r"SAGEMAKER_REGION=([a-z0-9-]+)")
    config = parse_config(config_data("seed-containers") | {"deployment": {"region": region}})
    assert config.deployment.region == region


def test_000_image_is_still_offered_in_the_seeds_region_with_its_exact_tag():
    """The config takes a newer DLC (see its comment); the seed's own image, in the seed's
    region, is still one a config can name, and gives exactly the seed's tag."""
    region = stated("000-environment", r"SAGEMAKER_REGION=([a-z0-9-]+)")
    transformers = stated("000-image", r"-transformers([0-9.]+)-")
    data = config_data("seed-containers")
    data["deployment"] = {"region": region}
    data["endpoints"] = [endpoint_data("seed-containers", "dlc") | {
        "image": {"pytorch": transformers}}]
    template = synthesize_data(data, nag=False, validation=False).endpoint("dlc")
    assert image_uri(template, region).endswith(
        f".dkr.ecr.{region}.amazonaws.com/{quote('000-image')}")


def test_000_model_runs_in_the_vpc_with_its_security_group(dlc):
    assert "SecurityGroupIds=" in quote("000-vpc") and "Subnets=" in quote("000-vpc")
    vpc = one(dlc, "AWS::SageMaker::Model")[1]["Properties"]["VpcConfig"]
    assert len(vpc["SecurityGroupIds"]) == 1 and len(vpc["Subnets"]) == 2


def test_000_s3_is_reached_through_a_gateway_endpoint():
    endpoint_type = stated("000-s3-gateway", r"Endpoint type은 (\w+)\.")
    (gateway,) = [e["Properties"] for e in resources(synthesize("seed-containers").network,
                                                      "AWS::EC2::VPCEndpoint").values()
                  if join_tail(e["Properties"]["ServiceName"]) == ".s3"]
    assert gateway["VpcEndpointType"] == endpoint_type


@pytest.mark.parametrize(("config", "endpoint"), [("seed-components", "llama3"),
                                                  ("prod", "chat")])
def test_000_tgi_reads_s3_artifacts_from_the_model_dir(config, endpoint):
    model_dir = stated("000-tgi-model-dir", r"`([^`]+)`")
    environments = [m["Properties"]["PrimaryContainer"]["Environment"] for m in
                    resources(synthesize(config).endpoint(endpoint),
                              "AWS::SageMaker::Model").values()]
    assert environments and {env["HF_MODEL_ID"] for env in environments} == {model_dir}


# -- seed 001: TGI asynchronous inference -> seed-async.yaml ----------------------------------
def test_001_model_and_shards(async_endpoint):
    env = container(async_endpoint)["Environment"]
    assert env["HF_MODEL_ID"] == stated("001-model", r"'HF_MODEL_ID':'([^']+)'")
    assert env["SM_NUM_GPUS"] == json.dumps(stated_int("001-model", r"json\.dumps\((\d+)\)"))


def test_001_tgi_version(async_endpoint):
    version = stated("001-image", r'version="([0-9.]+)"')
    assert f"-tgi{version}-" in json.dumps(container(async_endpoint)["Image"])


def test_001_instance_count_type_and_health_check(async_endpoint):
    assert variant(async_endpoint)["InitialInstanceCount"] == stated_int(
        "001-deploy", r"initial_instance_count=(\d+)")
    assert variant(async_endpoint)["InstanceType"] == stated(
        "001-deploy", r'instance_type="([^"]+)"')
    assert variant(async_endpoint)["ContainerStartupHealthCheckTimeoutInSeconds"] == \
        stated_int("001-deploy", r"container_startup_health_check_timeout=(\d+)")


def test_001_concurrent_invocations_per_instance(async_endpoint):
    _, config = one(async_endpoint, "AWS::SageMaker::EndpointConfig")
    assert config["Properties"]["AsyncInferenceConfig"]["ClientConfig"] == {
        "MaxConcurrentInvocationsPerInstance": stated_int(
            "001-concurrency", r"per_instance=(\d+)")}


def test_001_output_and_input_prefixes(async_endpoint):
    bucket_prefix = stated("001-output", r'bucket_prefix = "([^"]+)"')
    output = stated("001-output", r'\{bucket_prefix\}/(\w+)"').join([bucket_prefix + "/", "/"])
    request_prefix = stated("001-input", r'\{bucket_prefix\}/(\w+)"').join(
        [bucket_prefix + "/", "/"])
    _, config = one(async_endpoint, "AWS::SageMaker::EndpointConfig")
    assert join_tail(config["Properties"]["AsyncInferenceConfig"]["OutputConfig"][
        "S3OutputPath"]) == "/" + output
    assert join_tail(async_endpoint["Outputs"]["InputLocation"]["Value"]) == "/" + request_prefix


def test_001_scalable_target(async_endpoint):
    _, target = one(async_endpoint, "Custom::ScalableVariant")
    props = target["Properties"]
    assert props["ScalableDimension"] == stated("001-target", r'ScalableDimension="([^"]+)"')
    assert props["MinCapacity"] == stated_int("001-target", r"MinCapacity=(\d+)")
    assert props["MaxCapacity"] == stated_int("001-target", r"MaxCapacity=(\d+)")
    variant_name = stated("001-variant", r'"/variant/" \+ "(\w+)"')
    assert props["ResourceId"].endswith(f"/variant/{variant_name}")
    assert variant(async_endpoint)["VariantName"] == variant_name


def test_001_target_tracking_on_the_backlog(async_endpoint):
    policy = scaling_policy(async_endpoint)
    assert policy["TargetValue"] == float(stated("001-policy", r'"TargetValue": ([0-9.]+)'))
    metric = policy["CustomizedMetricSpecification"]
    assert metric["MetricName"] == stated("001-metric", r'"MetricName": "(\w+)"')
    assert metric["Namespace"] == stated("001-metric", r'"Namespace": "([\w/]+)"')
    assert metric["Statistic"] == stated("001-metric", r'"Statistic": "(\w+)"')
    dimension = stated("001-metric", r'"Dimensions": \[\{"Name": "(\w+)"')
    assert [d["Name"] for d in metric["Dimensions"]] == [dimension]
    assert metric["Dimensions"][0]["Value"] == one(
        async_endpoint, "AWS::SageMaker::Endpoint")[1]["Properties"]["EndpointName"]


def test_001_cooldowns(async_endpoint):
    policy = scaling_policy(async_endpoint)
    assert policy["ScaleInCooldown"] == stated_int("001-cooldowns", r"(\d+)")
    assert policy["ScaleOutCooldown"] == stated_int("001-scale-out", r"(\d+)")


# -- seed 002: a FastAPI container of your own -> seed-containers.yaml, endpoint custom -------
def test_002_container_entrypoint_and_port():
    folder = ROOT / endpoint_data("seed-containers", "custom")["image"]["build"]
    dockerfile = (folder / "Dockerfile").read_text(encoding="utf-8").splitlines()
    assert quote("002-entrypoint") in dockerfile
    port = stated_int("002-port", r"port=(\d+)")
    assert f"EXPOSE {port}" in dockerfile


def test_002_model_is_gpt2():
    model = stated("002-model", r"# (GPT-2) ")
    custom = synthesize("seed-containers").endpoint("custom")
    assert container(custom)["Environment"]["HF_MODEL_ID"] == (
        "openai-community/" + model.lower().replace("-", ""))


# -- seeds 003 and 004: an inference component -> seed-components.yaml ----------------------
def test_003_instance_type_and_quota_of_one(component_endpoint):
    count, instance_type = re.fullmatch(r"- (One) (\S+) for endpoint usage",
                                        quote("003-quota")).groups()
    assert variant(component_endpoint)["InstanceType"] == instance_type
    scaling = variant(component_endpoint)["ManagedInstanceScaling"]
    assert scaling["MaxInstanceCount"] == {"One": 1}[count]
    assert variant(component_endpoint)["InitialInstanceCount"] == 1


def test_003_model_size_and_server(component_endpoint):
    billions = stated_int("003-model", r"Llama-3-(\d+)B")
    (component,) = [c for c in endpoint_data("seed-components", "llama3")["components"]
                    if c["name"] == MERGED]
    assert component["model_size"]["parameters_billions"] == billions
    assert "TGI" in quote("003-server")
    assert "/huggingface-pytorch-tgi-inference:" in json.dumps(
        merged_container(component_endpoint)["Image"])


def test_004_resource_requirements(component_endpoint):
    assert "INFERENCE_COMPONENT_BASED" in quote("004-endpoint-type")
    component = merged_component(component_endpoint)
    spec = component["Properties"]["Specification"]
    assert spec["ComputeResourceRequirements"] == {
        "NumberOfAcceleratorDevicesRequired": stated_int("004-resources",
                                                         r'"num_accelerators": (\d+)'),
        "MinMemoryRequiredInMb": stated_int("004-resources", r'"memory": (\d+)'),
    }  # limits={}: no maximum memory either
    assert component["Properties"]["RuntimeConfig"]["CopyCount"] == stated_int(
        "004-resources", r'"copies": (\d+)')
    assert merged_container(component_endpoint)["Environment"]["SM_NUM_GPUS"] == stated(
        "004-resources", r'"num_accelerators": (\d+)')
