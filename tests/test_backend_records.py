"""Issue 12: one record per serving backend. The image union, its error text, the version
errors, ``ModelSpec.backend``, the serving rules and the container environment follow the
records, so a new backend is one record (plus its image data)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError, create_model

from config import backends, parse_config
from config.backends import BACKENDS, LMI, TGI, VLLM, Backend
from config.backends.engines import engine_rules
from config.rules import model_problems
from config.shapes import Deployment, ModelSpec, Network, TgiSettings, image_union
from llm_constructs import images
from tests.helpers import DELETE, dev_with, problems

#: A backend that exists only in this test: vLLM's images and engine data, its own reading
#: of the fields (max_model_len as vLLM's --max-num-batched-tokens, the model in a variable
#: of its own), no max_concurrent_sequences, bf16 only, one quantization, "true" first.
TABBY = Backend(
    key="tabby", image_key="vllm", engine_key="vllm",
    # -tp: vLLM's short alias of --tensor-parallel-size, whose variable is written.
    options={"model": ("--model",), "tensor_parallel_degree": ("-tp",),
             "max_model_len": ("--max-num-batched-tokens",), "quantization": ("--quantization",),
             "dtype": ("--dtype",), "trust_remote_code": ("--trust-remote-code",)},
    variables={"model": "TABBY_MODEL"},
    true=("true", ""), dtypes={"bf16": "bfloat16"}, quantizations={"awq": "int4"},
    rules=(engine_rules,))


#: TABBY's version: the newest vLLM offered.
NEWEST = images.versions("vllm")[-1]


def tabby_spec(**fields: Any) -> ModelSpec:
    """A model whose image union knows TABBY too (no other edit anywhere)."""
    union = image_union((*BACKENDS, TABBY))
    spec_model = create_model("TabbySpec", __base__=ModelSpec, image=(union | None, None))
    data = {"name": "m", "instance_type": "ml.g5.12xlarge", "image": {"tabby": NEWEST},
            "source": {"hub": "Qwen/Qwen2.5-7B-Instruct"}, **fields}
    return spec_model.model_validate(data)


def test_the_union_tags_and_its_error_follow_the_records():
    adapter = TypeAdapter(image_union((*BACKENDS, TABBY)))
    with pytest.raises(ValidationError) as err:
        adapter.validate_python({"tgi": "3.3.6", "tabby": NEWEST})
    assert err.value.errors()[0]["msg"] == (
        "give exactly one of tgi: <version>, vllm: <version>, sglang: <version>, "
        "lmi: <version>, tabby: <version>, pytorch: <transformers version>, "
        "uri: <ecr image uri>, build: <folder with a Dockerfile>, model_package: <arn or name>")
    assert adapter.validate_python({"tabby": NEWEST}).backend is TABBY


def test_the_version_error_names_the_records_backend_and_its_table():
    with pytest.raises(ValidationError) as err:
        TypeAdapter(image_union((*BACKENDS, TABBY))).validate_python({"tabby": "9.9"})
    assert err.value.errors()[0]["msg"] == (
        f"Value error, vLLM version '9.9' is not in AWS's image table ({images.source()}); "
        f"offered: {', '.join(images.versions('vllm'))}")


def test_a_new_record_gets_its_environment_from_its_options_and_the_engine_data():
    spec = tabby_spec(serving={"max_model_len": 4096, "dtype": "bf16", "quantization": "awq",
                               "trust_remote_code": True})
    env = backends.environment(TABBY, spec, model="Qwen/Qwen2.5-7B-Instruct",
                               source_variables={"HF_HUB_OFFLINE": "1"})
    # "true" where the version's entrypoint gives the bare flag for it (recorded by running
    # the script), else the empty value, which every version turns into the bare flag.
    probe = TABBY.engine(NEWEST).entrypoint["probes"]["SM_VLLM_TRUST_REMOTE_CODE=true"]
    trust = "true" if "true" not in probe else ""
    assert env == {"TABBY_MODEL": "Qwen/Qwen2.5-7B-Instruct",
                   "SM_VLLM_TENSOR_PARALLEL_SIZE": "4",
                   "SM_VLLM_MAX_NUM_BATCHED_TOKENS": "4096", "SM_VLLM_QUANTIZATION": "awq",
                   "SM_VLLM_DTYPE": "bfloat16", "SM_VLLM_TRUST_REMOTE_CODE": trust,
                   "HF_HUB_OFFLINE": "1"}


def test_a_new_record_gets_the_serving_rules_from_its_data():
    spec = tabby_spec(serving={"max_concurrent_sequences": 8, "dtype": "fp16",
                               "quantization": "gptq", "tensor_parallel_degree": 3},
                      sm_num_gpus=1)
    found = dict(model_problems("m", spec, Network(egress="nat"), Deployment()))
    assert found["m.serving.max_concurrent_sequences"].startswith("vLLM has no such setting")
    assert found["m.serving.dtype"] == "vLLM does not take 'fp16'; allowed: bf16"
    assert found["m.serving.quantization"] == "'gptq' is not a vLLM quantization; allowed: awq"
    assert found["m.serving.tensor_parallel_degree"].endswith("allowed: 1, 2, 4")
    assert found["m.sm_num_gpus"].startswith("give serving.tensor_parallel_degree or")


def test_model_spec_backend_is_the_record():
    cfg = parse_config(dev_with(**{"endpoints.0.image": {"lmi": "0.30.0"},
                                   "endpoints.0.instance_type": "ml.g5.12xlarge",
                                   "endpoints.0.tgi_settings": DELETE}))
    assert cfg.endpoints[0].backend is LMI
    assert parse_config(dev_with()).endpoints[0].backend is TGI


def test_one_home_for_names_and_tgi_quantizations():
    assert {b.key: b.name for b in BACKENDS} == {
        "tgi": "TGI", "vllm": "vLLM", "sglang": "SGLang", "lmi": "LMI"}
    quantize = TgiSettings.model_json_schema()["properties"]["quantize"]["anyOf"][0]["enum"]
    assert quantize == list(TGI.quantizations)


def test_every_record_spells_every_serving_field_or_lacks_it_on_purpose():
    for backend in BACKENDS:
        assert {"model", "tensor_parallel_degree", "max_model_len", "quantization", "dtype",
                "trust_remote_code"} <= set(backend.options), backend.key
        assert set(backend.quantizations.values()) <= {"int8", "int4"}
    assert not VLLM.reads("max_input_tokens") and TGI.reads("max_input_tokens")


def test_serving_only_for_backend_images_lists_the_records():
    data = dev_with(**{"endpoints.0.image": {"pytorch": "4.51.3"},
                       "endpoints.0.tgi_settings": DELETE,
                       "endpoints.0.serving": {"max_model_len": 10}})
    assert problems(data)["endpoints[0] (chat).serving"].startswith(
        "only for serving-backend images (tgi:, vllm:, sglang:, lmi:)")
