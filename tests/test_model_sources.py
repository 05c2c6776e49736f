"""Issue 4 (part): image kinds, gated models, typed TGI settings, sizing."""

from __future__ import annotations


import pytest

from config import parse_config
from tests.helpers import (problems, DELETE, as_list, dev_with, nag_report_ok, one,
                           seed_async_with, statements, synthesize_data)

EP = "endpoints[0] (chat)"


def model_env(template: dict) -> dict:
    _, model = one(template, "AWS::SageMaker::Model")
    return model["Properties"]["PrimaryContainer"].get("Environment", {})


# -- sizing ------------------------------------------------------------------------------
def test_seed_000_7b_in_fp32_does_not_fit_one_a10g_but_bf16_does():
    bad = dev_with(**{"endpoints.0.model_size": {"parameters_billions": 7, "dtype": "fp32"}})
    msg = problems(bad)[f"{EP}.instance_type"]
    assert "7B parameters in fp32 need ~31 GiB" in msg
    assert "ml.g5.2xlarge gives 24 GiB (1 GPU(s) x 24 GiB)" in msg
    assert "smallest instance that fits: ml.g5.12xlarge" in msg
    assert "or load in bf16 (~16 GiB)" in msg
    ok = dev_with(**{"endpoints.0.model_size": {"parameters_billions": 7, "dtype": "bf16"}})
    assert parse_config(ok)


def test_known_models_are_sized_without_config():
    msg = problems(dev_with(**{"endpoints.0.source.hub": "meta-llama/Meta-Llama-3-70B-Instruct",
                               "endpoints.0.instance_type": "ml.g5.12xlarge"}))[
        f"{EP}.instance_type"]
    assert "70.6B parameters in bf16" in msg and "ml.g5.48xlarge" in msg


def test_quantisation_shrinks_the_estimate():
    data = dev_with(**{"endpoints.0.source.hub": "meta-llama/Meta-Llama-3-70B-Instruct",
                       "endpoints.0.instance_type": "ml.g5.12xlarge",
                       "endpoints.0.tgi_settings": {"quantize": "awq"}})
    assert parse_config(data)  # 70.6B in int4 ~ 39 GiB of 96


def test_sizing_counts_only_the_gpus_tgi_uses():
    data = dev_with(**{"endpoints.0.instance_type": "ml.g5.12xlarge", "endpoints.0.sm_num_gpus": 1,
                       "endpoints.0.model_size": {"parameters_billions": 13}})
    assert "gives 24 GiB (1 GPU(s) x 24 GiB)" in problems(data)[f"{EP}.instance_type"]


def test_suggestion_leaves_the_family_when_nothing_in_it_fits():
    from llm_constructs.instances import required_gpu_memory_gib, smallest_fitting

    assert smallest_fitting(required_gpu_memory_gib(405, "bf16"), "g5") == "ml.p5e.48xlarge"
    assert smallest_fitting(required_gpu_memory_gib(7, "bf16"), "g6e") == "ml.g6e.xlarge"


# -- TGI settings ---------------------------------------------------------------------------
def test_tgi_settings_become_the_environment(dev, prod):
    env = model_env(dev.endpoint("chat"))
    assert (env["MAX_INPUT_TOKENS"], env["MAX_TOTAL_TOKENS"]) == ("4096", "8192")
    assert model_env(prod.endpoint("chat"))["MAX_BATCH_PREFILL_TOKENS"] == "8192"


def test_old_tgi_gets_the_old_variable_name():
    t = synthesize_data(seed_async_with(**{"endpoints.0.tgi_settings": {
        "max_input_tokens": 1024, "max_total_tokens": 2048}}), nag=False).endpoint("flan-t5-xxl")
    env = model_env(t)
    assert env["MAX_INPUT_LENGTH"] == "1024" and "MAX_INPUT_TOKENS" not in env


def test_input_must_be_below_total():
    msg = problems(dev_with(**{"endpoints.0.tgi_settings": {"max_input_tokens": 8192,
                                                             "max_total_tokens": 8192}}))
    assert "input < total" in msg[f"{EP}.tgi_settings.max_input_tokens"]


def test_prefill_below_input():
    msg = problems(dev_with(**{"endpoints.0.tgi_settings.max_batch_prefill_tokens": 1024}))
    assert "prefill >= input" in msg[f"{EP}.tgi_settings.max_batch_prefill_tokens"]


def test_setting_given_twice():
    msg = problems(dev_with(**{"endpoints.0.environment": {"MAX_TOTAL_TOKENS": "9000"}}))
    assert "tgi_settings" in msg[f"{EP}.environment.MAX_TOTAL_TOKENS"]


def test_quantize_must_be_a_tgi_option():
    msg = problems(dev_with(**{"endpoints.0.tgi_settings.quantize": "int3"}))
    assert "awq" in msg[f"{EP}.tgi_settings.quantize"]


@pytest.mark.parametrize("version,fragment", [("3.3.6", "removed in TGI 2.4"),
                                              ("1.1.0", "added in 1.4")])
def test_messages_api_per_version(version, fragment):
    msg = problems(dev_with(**{"endpoints.0.image.tgi": version,
                               "endpoints.0.tgi_settings.messages_api_enabled": True}))
    assert fragment in msg[f"{EP}.tgi_settings.messages_api_enabled"]
    ok = dev_with(**{"endpoints.0.image.tgi": "2.0.2",
                     "endpoints.0.tgi_settings.messages_api_enabled": True})
    assert parse_config(ok)


# -- gated models ------------------------------------------------------------------------------
GATED = {"endpoints.0.source": {"hub": "meta-llama/Meta-Llama-3-8B-Instruct",
                                "token_secret": "llm/hf-token", "token_secret_key": "token"}}


def test_gated_model_token_is_a_deploy_time_reference_only():
    synth = synthesize_data(dev_with(**GATED))
    env = model_env(synth.endpoint("chat"))
    assert env["HF_TOKEN"] == "{{resolve:secretsmanager:llm/hf-token:SecretString:token::}}"
    for path in synth.outdir.rglob("*.json"):
        text = path.read_text()
        assert '"HF_TOKEN": "hf_' not in text, path
    # The execution role needs no access to the secret: CloudFormation resolves it.
    assert not [s for s in statements(synth.endpoint("chat"))
                if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))]
    assert nag_report_ok(synth)


def test_a_token_where_the_secret_name_goes_is_refused():
    msg = problems(dev_with(**{"endpoints.0.source": {"hub": "meta-llama/Meta-Llama-3-8B",
                                                      "token_secret": "hf_abcdefghijklmnop"}}))
    assert "looks like a token" in msg[f"{EP}.source.token_secret"]


# -- images ------------------------------------------------------------------------------------
URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/llm-server:1.4.2"


def test_uri_image_pulls_exactly_that_repository():
    synth = synthesize_data(dev_with(**{"endpoints.0.image": {"uri": URI},
                                        "endpoints.0.tgi_settings": DELETE}))
    t = synth.endpoint("chat")
    _, model = one(t, "AWS::SageMaker::Model")
    assert model["Properties"]["PrimaryContainer"]["Image"] == URI
    env = model_env(t)
    assert env == {"HF_MODEL_ID": "Qwen/Qwen2.5-7B-Instruct"}  # no TGI-only variables
    (pull,) = [s for s in statements(t, "ExecutionRole") if s.get("Sid") == "PullModelImage"]
    assert pull["Resource"] == "arn:aws:ecr:us-east-1:123456789012:repository/team/llm-server"
    rule = t["Rules"]["ImageRegion"]["Assertions"][0]
    assert rule["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert nag_report_ok(synth)


def test_uri_image_in_another_region():
    msg = problems(dev_with(**{"deployment.region": "eu-west-1", "endpoints.0.image": {"uri": URI},
                               "endpoints.0.tgi_settings": DELETE}))
    assert "the image is in us-east-1, the endpoint in eu-west-1" in msg[f"{EP}.image.uri"]


def test_not_an_ecr_uri():
    msg = problems(dev_with(**{"endpoints.0.image": {"uri": "docker.io/library/nginx:latest"}}))
    assert "not an ECR image URI" in msg[f"{EP}.image.uri"]


def test_tgi_only_settings_on_another_image():
    msg = problems(dev_with(**{"endpoints.0.image": {"uri": URI}, "endpoints.0.sm_num_gpus": 1}))
    assert "only TGI images" in msg[f"{EP}.sm_num_gpus"]
    assert "only for TGI images" in msg[f"{EP}.tgi_settings"]


PACKAGE = ("arn:aws:sagemaker:ap-northeast-2:123456789012:"
           "model-package/varco-llm-ko-13b-ist-1-0-0")


def marketplace(**changes) -> dict:
    return dev_with(**{"endpoints.0.image": {"model_package": PACKAGE},
                       "endpoints.0.source": DELETE, "endpoints.0.tgi_settings": DELETE,
                       **changes})


def test_marketplace_model_has_no_image_no_environment_and_network_isolation():
    synth = synthesize_data(marketplace())
    t = synth.endpoint("chat")
    _, model = one(t, "AWS::SageMaker::Model")
    container = model["Properties"]["PrimaryContainer"]
    assert container == {"ModelPackageName": PACKAGE}
    assert model["Properties"]["EnableNetworkIsolation"] is True
    assert not [s for s in statements(t, "ExecutionRole")
                if any(a.startswith("ecr:") for a in as_list(s["Action"]))]
    assert nag_report_ok(synth)


@pytest.mark.parametrize("changes,path,fragment", [
    ({"endpoints.0.environment": {"A": "b"}}, f"{EP}.environment", "no environment"),
    ({"endpoints.0.source": {"s3": "s3://bucket-a/m/"}}, f"{EP}.source", "own weights"),
    ({"endpoints.0.network_isolation": False}, f"{EP}.network_isolation", "requires"),
])
def test_marketplace_model_errors(changes, path, fragment):
    assert fragment in problems(marketplace(**changes))[path]


def test_tgi_needs_a_source():
    assert "hub: <model id>" in problems(dev_with(**{"endpoints.0.source": DELETE}))[
        f"{EP}.source"]


@pytest.mark.parametrize("image", [{"tgx": "3.3.6"}, {"tgi": "3.3.6", "uri": URI}, {}])
def test_image_must_be_exactly_one_kind(image):
    msg = problems(dev_with(**{"endpoints.0.image": image}))[f"{EP}.image"]
    assert ("give exactly one of tgi: <version>, vllm: <version>, sglang: <version>, "
            "lmi: <version>, pytorch: <transformers version>, uri: <ecr image uri>, build: "
            "<folder with a Dockerfile>, model_package") in msg


def test_source_must_be_exactly_one_kind():
    msg = problems(dev_with(**{"endpoints.0.source": {"hub": "a/b", "s3": "s3://bucket-a/m/"}}))
    assert "give exactly one of hub: <model id>, s3: <s3 uri>" in msg[f"{EP}.source"]


def test_s3_artifacts_with_their_own_key():
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    t = synthesize_data(dev_with(**{
        "network.egress": "none", "endpoints.0.tgi_settings": DELETE,
        "endpoints.0.source": {"s3": "s3://models-bucket/llama/model.tar.gz",
                               "kms_key_arn": key}}), nag=False).endpoint("chat")
    (stmt,) = [s for s in statements(t, "ExecutionRole") if s.get("Sid") == "DecryptModelData"]
    assert stmt == {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": key,
                    "Sid": "DecryptModelData"}
    bad = problems(dev_with(**{"endpoints.0.source": {"s3": "s3://models-bucket/m/",
                                                      "kms_key_arn": "alias/models"}}))
    assert "alias/models" in bad[f"{EP}.source.kms_key_arn"]
