"""Issue 8: vLLM, SGLang and LMI beside TGI, from one backend-neutral serving block."""

from __future__ import annotations

import copy
import json

import aws_cdk as cdk
import pytest

from config.backends import SGLANG
from llm_constructs import images
from tests.helpers import (DELETE, changed, dev_with, one, problems,
                           synthesize, synthesize_data)

EP = "endpoints[0] (chat)"


def env_of(template: dict) -> dict:
    _, model = one(template, "AWS::SageMaker::Model")
    return model["Properties"]["PrimaryContainer"]["Environment"]


def with_backend(kind: str, version: str, serving: dict | None = None, **changes) -> dict:
    """dev's chat endpoint on ml.g5.12xlarge (4 GPUs) with another backend."""
    return dev_with(**{"endpoints.0.instance_type": "ml.g5.12xlarge",
                       "endpoints.0.image": {kind: version}, "endpoints.0.tgi_settings": DELETE,
                       "endpoints.0.serving": serving or {}, **changes})


VERSIONS = {"vllm": "0.30.0", "sglang": "0.5.20", "lmi": "0.30.0"}


# -- images -----------------------------------------------------------------------------------
# The tags AWS's table has where ours were wrong before (issue 13): SGLang on Ubuntu 24.04,
# LMI 0.36.0's lmi27 build; and regions it lists beyond the five we offered.
@pytest.mark.parametrize("kind,version,region,account,suffix,tag", [
    ("vllm", "0.30.0", "us-east-1", "763104351884", "amazonaws.com",
     "vllm:0.30.0-gpu-py312-cu130-ubuntu24.04-sagemaker"),
    ("vllm", "0.23.0", "ap-northeast-2", "763104351884", "amazonaws.com",
     "vllm:0.23.0-gpu-py312-cu130-ubuntu22.04-sagemaker"),
    ("vllm", "0.28.0", "cn-north-1", "727897471807", "amazonaws.com.cn",
     "vllm:0.28.0-gpu-py312-cu130-ubuntu24.04-sagemaker"),
    ("sglang", "0.5.20", "eu-west-1", "763104351884", "amazonaws.com",
     "sglang:0.5.20-gpu-py312-cu130-ubuntu24.04-sagemaker"),
    ("sglang", "0.5.13", "us-east-2", "763104351884", "amazonaws.com",
     "sglang:0.5.13-gpu-py312-cu130-ubuntu24.04-sagemaker"),
    ("lmi", "0.30.0", "ap-east-1", "871362719292", "amazonaws.com",
     "djl-inference:0.30.0-lmi12.0.0-cu124"),
    ("lmi", "0.30.0", "cn-north-1", "727897471807", "amazonaws.com.cn",
     "djl-inference:0.30.0-lmi12.0.0-cu124"),
    ("lmi", "0.28.0", "us-gov-west-1", "442386744353", "amazonaws.com",
     "djl-inference:0.28.0-lmi10.0.0-cu124"),
    ("lmi", "0.36.0", "us-west-2", "763104351884", "amazonaws.com",
     "djl-inference:0.36.0-lmi27.0.0-cu130"),
])
def test_image_uri_per_region(kind, version, region, account, suffix, tag):
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111111111111", region=region))
    bound = images.backend_image(kind, version).bind(stack)
    assert bound.image_uri == f"{account}.dkr.ecr.{region}.{suffix}/{tag}"
    assert bound.repository_arn.endswith(f":{account}:repository/{tag.split(':')[0]}")


def test_a_region_the_backend_lacks_names_backend_and_nearest_regions():
    msg = problems(with_backend("vllm", "0.30.0", **{"deployment.region": "us-gov-west-1"}))[
        f"{EP}.image.vllm"]
    assert "the vLLM image vllm:0.30.0" in msg and "'us-gov-west-1'" in msg
    assert "nearest regions with it: " in msg and "sagemaker-core==" in msg
    msg = problems(with_backend("sglang", "0.5.13", **{"deployment.region": "cn-north-1"}))[
        f"{EP}.image.sglang"]
    assert "the SGLang image sglang:0.5.13" in msg and "'cn-north-1'" in msg


def test_each_version_is_only_where_aws_lists_it():
    assert set(images.backend_image("lmi", "0.29.0").registries) < \
        set(images.backend_image("lmi", "0.28.0").registries)


def test_a_version_no_longer_offered_lists_the_offered_ones():
    """Users upgrading from a release that offered vLLM 0.14.0 see why and what to pick."""
    msg = problems(with_backend("vllm", "0.14.0"))[f"{EP}.image.vllm"]
    assert "'0.14.0' is not in AWS's image table (sagemaker-core==" in msg
    assert "offered: 0.23.0, " in msg and msg.endswith(", 0.30.0")


@pytest.mark.parametrize("kind", ["vllm", "sglang", "lmi"])
def test_unknown_version(kind):
    msg = problems(with_backend(kind, "9.9.9"))[f"{EP}.image.{kind}"]
    assert "'9.9.9'" in msg and VERSIONS[kind] in msg


# -- one serving block, four conventions --------------------------------------------------------
SERVING = {"tensor_parallel_degree": 2, "max_model_len": 8192, "max_concurrent_sequences": 48,
           "quantization": "awq", "dtype": "fp16", "trust_remote_code": True}
HUB = "Qwen/Qwen2.5-7B-Instruct"

EXPECTED = {
    "vllm": {"SM_VLLM_MODEL": HUB, "SM_VLLM_TENSOR_PARALLEL_SIZE": "2",
             "SM_VLLM_MAX_MODEL_LEN": "8192", "SM_VLLM_MAX_NUM_SEQS": "48",
             "SM_VLLM_QUANTIZATION": "awq", "SM_VLLM_DTYPE": "float16",
             "SM_VLLM_TRUST_REMOTE_CODE": ""},  # empty: the entrypoint passes the bare flag
    "sglang": {"SM_SGLANG_MODEL_PATH": HUB, "SM_SGLANG_TP_SIZE": "2",
               "SM_SGLANG_CONTEXT_LENGTH": "8192", "SM_SGLANG_MAX_RUNNING_REQUESTS": "48",
               "SM_SGLANG_QUANTIZATION": "awq", "SM_SGLANG_DTYPE": "float16",
               "SM_SGLANG_TRUST_REMOTE_CODE": "true"},  # "" where "true" is not the bare flag
    "lmi": {"HF_MODEL_ID": HUB, "OPTION_TENSOR_PARALLEL_DEGREE": "2",
            "OPTION_MAX_MODEL_LEN": "8192", "OPTION_MAX_ROLLING_BATCH_SIZE": "48",
            "OPTION_QUANTIZE": "awq", "OPTION_DTYPE": "fp16", "OPTION_TRUST_REMOTE_CODE": "true"},
    "tgi": {"HF_MODEL_ID": HUB, "SM_NUM_GPUS": "2", "MAX_TOTAL_TOKENS": "8192",
            "MAX_CONCURRENT_REQUESTS": "48", "QUANTIZE": "awq", "DTYPE": "float16",
            "TRUST_REMOTE_CODE": "true"},
}


@pytest.mark.parametrize("kind", ["vllm", "sglang", "lmi", "tgi"])
def test_the_same_serving_block_becomes_each_backends_variables(kind):
    version = {"tgi": "3.3.6", **VERSIONS}[kind]
    t = synthesize_data(with_backend(kind, version, SERVING), nag=False).endpoint("chat")
    expected = dict(EXPECTED[kind])
    if kind == "sglang" and not bare_flag_from_true(version):
        expected["SM_SGLANG_TRUST_REMOTE_CODE"] = ""  # images before AWS's 2026-03 entrypoint
    assert env_of(t) == expected


def bare_flag_from_true(version: str) -> bool:
    """Whether the SGLang image's entrypoint, run with ``SM_SGLANG_TRUST_REMOTE_CODE=true``,
    gave the bare flag (the argv recorded in config/data/engine_options.json)."""
    argv = SGLANG.engine(version).entrypoint["probes"]["SM_SGLANG_TRUST_REMOTE_CODE=true"]
    return "--trust-remote-code" in argv and "true" not in argv


def test_defaults_shard_over_every_gpu_and_s3_models_load_offline():
    t = synthesize_data(with_backend("vllm", VERSIONS["vllm"], None, **{
        "endpoints.0.source": {"s3": "s3://models-bucket/qwen/"}}), nag=False).endpoint("chat")
    assert env_of(t) == {"SM_VLLM_MODEL": "/opt/ml/model", "SM_VLLM_TENSOR_PARALLEL_SIZE": "4",
                         "HF_HUB_OFFLINE": "1"}


def test_gated_model_token_is_a_reference_for_every_backend():
    t = synthesize_data(with_backend("sglang", VERSIONS["sglang"], None, **{"endpoints.0.source": {
        "hub": "meta-llama/Llama-3.1-8B-Instruct", "token_secret": "llm/hf"}}),
        nag=False).endpoint("chat")
    assert env_of(t)["HF_TOKEN"] == "{{resolve:secretsmanager:llm/hf:SecretString:::}}"


def test_raw_environment_wins_with_a_synth_warning():
    synth = synthesize_data(with_backend("vllm", VERSIONS["vllm"], {"max_model_len": 8192}, **{
        "endpoints.0.environment": {"SM_VLLM_MAX_MODEL_LEN": "4096",
                                    "SM_VLLM_ENABLE_PREFIX_CACHING": ""}}))  # nag: still passes
    env = env_of(synth.endpoint("chat"))
    assert env["SM_VLLM_MAX_MODEL_LEN"] == "4096" and env["SM_VLLM_ENABLE_PREFIX_CACHING"] == ""
    warnings = [m["data"] for f in synth.outdir.glob("*.metadata.json")
                for entries in json.loads(f.read_text()).values() for m in entries
                if m["type"] == "aws:cdk:warning"]
    assert any("environment.SM_VLLM_MAX_MODEL_LEN='4096' overrides '8192'" in w for w in warnings)
    assert not any("ENABLE_PREFIX_CACHING" in w for w in warnings)  # an extra, not an override


# -- rules ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,serving,changes,path,fragment", [
    ("vllm", {"tensor_parallel_degree": 8}, {}, "serving.tensor_parallel_degree",
     "not a divisor of the 4 GPU(s)"),
    ("sglang", {"tensor_parallel_degree": 3}, {}, "serving.tensor_parallel_degree",
     "allowed: 1, 2, 4"),
    ("vllm", {"max_input_tokens": 1024}, {}, "serving.max_input_tokens",
     "vLLM has no such setting"),
    ("lmi", {"max_input_tokens": 1024}, {}, "serving.max_input_tokens", "LMI has no such setting"),
    ("sglang", {"quantization": "eetq"}, {}, "serving.quantization",
     "'eetq' is not a SGLang quantization"),
    ("lmi", {"quantization": "exl2"}, {}, "serving.quantization", "allowed: awq, gptq"),
    ("tgi", {"dtype": "fp32"}, {}, "serving.dtype", "TGI does not take 'fp32'"),
    ("tgi", {"max_model_len": 1000, "max_input_tokens": 1000}, {}, "serving.max_input_tokens",
     "below max_model_len"),
    ("tgi", {"max_model_len": 4096}, {"endpoints.0.tgi_settings": {"max_total_tokens": 4096}},
     "serving", "not both"),
    ("vllm", {}, {"endpoints.0.instance_type": "ml.m5.xlarge"}, "instance_type",
     "the vLLM image needs one"),
    ("lmi", {}, {"endpoints.0.sm_num_gpus": 2}, "sm_num_gpus", "serving.tensor_parallel_degree"),
    ("vllm", {}, {"endpoints.0.tgi_settings": {"max_total_tokens": 10}}, "tgi_settings",
     "use serving"),
])
def test_backend_rules(kind, serving, changes, path, fragment):
    version = {"tgi": "3.3.6", **VERSIONS}[kind]
    assert fragment in problems(with_backend(kind, version, serving, **changes))[f"{EP}.{path}"]


def test_serving_only_for_serving_backends():
    data = dev_with(**{
        "endpoints.0.image": {"uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"},
        "endpoints.0.tgi_settings": DELETE,
        "endpoints.0.serving": {"max_model_len": 10}})
    assert "only for serving-backend images" in problems(data)[f"{EP}.serving"]


def test_quantized_weights_are_sized_smaller():
    big = with_backend("vllm", VERSIONS["vllm"], {"tensor_parallel_degree": 1}, **{
        "endpoints.0.model_size": {"parameters_billions": 32.8}})
    assert "smallest instance that fits" in problems(big)[f"{EP}.instance_type"]
    awq = copy.deepcopy(big)
    awq["endpoints"][0]["serving"]["quantization"] = "awq"
    awq["endpoints"][0]["model_size"] = {"parameters_billions": 32.8}
    from config import parse_config
    assert parse_config(changed(awq, **{"endpoints.0.serving.tensor_parallel_degree": 2}))


def test_shipped_backends_config():
    synth = synthesize("backends")
    assert {n.rsplit("-", 1)[1] for n in synth.endpoints} == {"vllm", "sglang", "lmi"}


# -- variables of your own in environment: ------------------------------------------------------
def _own(kind: str, version: str, environment: dict[str, str]) -> dict:
    return dev_with(**{"endpoints.0.image": {kind: version}, "endpoints.0.tgi_settings": DELETE,
                       "endpoints.0.instance_type": "ml.g5.12xlarge",
                       "endpoints.0.environment": environment})


def test_own_engine_variables_that_the_version_has_pass():
    from config import parse_config

    cfg = parse_config(_own("vllm", "0.30.0", {"SM_VLLM_ENABLE_PREFIX_CACHING": "true",
                                               "SM_VLLM_MAX_NUM_BATCHED_TOKENS": "8192"}))
    assert cfg.endpoints[0].environment["SM_VLLM_ENABLE_PREFIX_CACHING"] == "true"


@pytest.mark.parametrize("kind,variable,value,fragment", [
    ("vllm", "SM_VLLM_MAX_NUM_BATCHED_TOKENS", "lots", "takes an integer (got 'lots')"),
    ("sglang", "SM_SGLANG_ATTENTION_BACKEND", "bogus", "'bogus' is not one of triton, "),
])
def test_own_engine_variables_the_engine_would_refuse_are_named(kind, variable, value, fragment):
    version = images.latest(kind)
    msg = problems(_own(kind, version, {variable: value}))[
        f"endpoints[0] (chat).environment.{variable}"]
    assert "image passes it as --" in msg and fragment in msg
    assert "the engine would stop at start-up" in msg


def test_a_version_whose_options_are_assumed_warns_at_synth():
    """LMI 0.38.0 has no djl-serving source; the data checks it with 0.36.0's options."""
    warnings = {w for f in synthesize("backends").outdir.glob("*.metadata.json")
                for entries in json.loads(f.read_text()).values() for m in entries
                if m["type"] == "aws:cdk:warning" for w in [m["data"]]}
    assumed = [w for w in warnings if "no source gives the options" in w]
    assert assumed == ["llm-backends-lmi: no source gives the options of LMI 0.38.0; its "
                       "settings were checked against 0.36.0's (config/data/engine_options.json)"
                       " [ack: llm:engine-options-assumed]"]


def test_a_flag_the_engine_data_lacks_is_a_warning_with_the_nearest_names():
    """An extraction can miss options: a name it does not know warns; it never refuses."""
    from config import parse_config
    from config.rules.serving import unknown_flags

    data = _own("vllm", images.latest("vllm"), {"SM_VLLM_ENABLE_PREFIX_CACHNG": "true"})
    data["endpoints"][0]["secrets"] = {"SM_VLLM_MAX_NUM_SEQ": "llm/x",
                                       "SM_VLLM_MAX_MODEL_LEN": "llm/y"}
    spec = parse_config(data).endpoints[0]
    found = unknown_flags(spec)
    assert sorted(found) == ["SM_VLLM_ENABLE_PREFIX_CACHNG", "SM_VLLM_MAX_NUM_SEQ"]
    assert "passes it as --enable-prefix-cachng, which is not among that version's options " \
           "(did you mean --enable-prefix-caching" in found["SM_VLLM_ENABLE_PREFIX_CACHNG"]
    synth = synthesize_data(data, nag=False, validation=False)
    warnings = [m["data"] for f in synth.outdir.glob("*.metadata.json")
                for entries in json.loads(f.read_text()).values() for m in entries
                if m["type"] == "aws:cdk:warning"]
    assert any("SM_VLLM_MAX_NUM_SEQ: the vLLM" in w and "check the name" in w
               for w in warnings)
