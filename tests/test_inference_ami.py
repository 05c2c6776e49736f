"""Issue 13: the host AMI a DLC needs (InferenceAmiVersion), from data checked against
botocore's SageMaker model (its enum, and the NVIDIA driver it documents per AMI)."""

from __future__ import annotations

import json
import re

import pytest
from botocore.loaders import Loader

from llm_constructs import images, inference_ami
from llm_constructs.images import DATA_DIR
from tests.helpers import (DELETE, changed, config_data, dev_with, one, problems, synthesize,
                           synthesize_data)

RULES = json.loads((DATA_DIR / "inference_ami.json").read_text())["by_cuda"]


def _botocore_drivers() -> dict[str, int]:
    """AMI -> the NVIDIA driver version botocore's ProductionVariant documentation gives."""
    raw = Loader().load_service_model("sagemaker", "service-2")
    doc = raw["shapes"]["ProductionVariant"]["members"]["InferenceAmiVersion"]["documentation"]
    entries = re.findall(r"<dt>([\w-]+)</dt>\s*<dd>(.*?)</dd>", doc)
    return {ami: int(m[1]) for ami, body in entries
            if (m := re.search(r"NVIDIA driver version: (\d+)", body))}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r["ami"])
def test_each_ami_is_one_botocore_knows_with_the_driver_its_cuda_needs(rule):
    assert rule["ami"] in inference_ami.versions()
    assert _botocore_drivers()[rule["ami"]] >= rule["needs_nvidia_driver"]


def test_newer_cuda_needs_a_newer_driver():
    drivers = [r["needs_nvidia_driver"] for r in sorted(RULES, key=lambda r: r["from_cuda"])]
    assert drivers == sorted(drivers)


@pytest.mark.parametrize("tag,ami", [
    (images.backend_image("vllm", "0.30.0").tag, "al2023-ami-sagemaker-inference-gpu-4-1"),
    (images.backend_image("lmi", "0.36.0").tag, "al2023-ami-sagemaker-inference-gpu-4-1"),
    ("0.13.0-gpu-py312-cu129-ubuntu22.04-sagemaker", "al2-ami-sagemaker-inference-gpu-3-1"),
    (images.backend_image("lmi", "0.35.0").tag, None),  # cu128: the default AMI
    (images.tgi_image("3.3.6").tag, None),  # cu124
    (images.pytorch_image("4.51.3", gpu=False).tag, None),  # CPU build
])
def test_the_ami_follows_the_cuda_version_of_the_tag(tag, ami):
    assert inference_ami.required_for(tag) == ami


def _variant(template: dict) -> dict:
    _, config = one(template, "AWS::SageMaker::EndpointConfig")
    return config["Properties"]["ProductionVariants"][0]


@pytest.mark.parametrize("name", ["vllm", "sglang", "lmi"])
def test_cuda_13_images_get_their_ami(name):
    variant = _variant(synthesize("backends").endpoint(name))
    assert variant["InferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1"


def test_images_the_default_ami_runs_get_none():
    assert "InferenceAmiVersion" not in _variant(synthesize("dev").endpoint("chat"))


def test_the_config_can_set_it_for_its_own_image():
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:1"
    t = synthesize_data(dev_with(**{
        "endpoints.0.image": {"uri": uri}, "endpoints.0.tgi_settings": DELETE,
        "endpoints.0.inference_ami_version": "al2-ami-sagemaker-inference-gpu-3-1"}))
    assert _variant(t.endpoint("chat"))["InferenceAmiVersion"] == \
        "al2-ami-sagemaker-inference-gpu-3-1"


AMI = "endpoints[0] (chat).inference_ami_version"


def test_an_ami_the_image_cannot_run_on_is_a_named_error():
    msg = problems(dev_with(**{
        "endpoints.0.image": {"vllm": "0.30.0"}, "endpoints.0.tgi_settings": DELETE,
        "endpoints.0.inference_ami_version": "al2-ami-sagemaker-inference-gpu-2"}))[AMI]
    assert "'al2-ami-sagemaker-inference-gpu-2' does not run vllm:0.30.0" in msg
    assert "needs al2023-ami-sagemaker-inference-gpu-4-1" in msg


def test_an_unknown_ami_lists_botocores():
    msg = problems(dev_with(**{"endpoints.0.inference_ami_version": "al2-gpu-9"}))[AMI]
    assert "'al2-gpu-9'" in msg and "al2023-ami-sagemaker-inference-gpu-4-1" in msg


def test_serverless_endpoints_take_no_ami():
    data = changed(config_data("seed-containers"),
                   **{"endpoints.2.inference_ami_version": "al2-ami-sagemaker-inference-gpu-3-1"})
    assert "run on SageMaker-managed hosts" in \
        problems(data)["endpoints[2] (serverless).inference_ami_version"]


@pytest.mark.parametrize("instance_type,ami,fragment", [
    ("ml.g5.2xlarge", "al2-ami-sagemaker-inference-neuron-2",
     "is an AMI for Neuron hosts and ml.g5.2xlarge has GPUs"),
    ("ml.m5.xlarge", "al2023-ami-sagemaker-inference-gpu-4-1",
     "is an AMI for GPU hosts and ml.m5.xlarge has no accelerator; remove the key"),
])
def test_the_ami_is_for_the_instances_accelerator_as_botocore_documents(instance_type, ami,
                                                                        fragment):
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:1"
    msg = problems(dev_with(**{
        "endpoints.0.image": {"uri": uri}, "endpoints.0.tgi_settings": DELETE,
        "endpoints.0.instance_type": instance_type,
        "endpoints.0.inference_ami_version": ami}))[AMI]
    assert fragment in msg


def test_botocore_documents_an_accelerator_for_every_ami():
    assert set(inference_ami.accelerators()) == set(inference_ami.versions())
    assert inference_ami.accelerators()["al2-ami-sagemaker-inference-neuron-2"] == "neuron"
