"""Issue 13: the DLC image table is AWS's, not ours.

Checked against the pinned ``sagemaker-core`` (requirements-dev.txt): its JSON tables
regenerate the committed file byte for byte, and its own URI builder
(``sagemaker.core.image_uris.retrieve``) gives, for every offered version, the URI we build.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import re
from pathlib import Path

import pytest

from llm_constructs import images
from tools import update_images

ROOT = Path(__file__).resolve().parents[1]
#: The SDK's framework name of each kind, written here (not read from the tool).
SDK_FRAMEWORK = {"tgi": "huggingface-llm", "pytorch": "huggingface", "vllm": "vllm",
                 "sglang": "sglang", "lmi": "djl-lmi"}


def test_the_committed_table_is_what_the_pinned_sdk_lists():
    version, read = update_images.installed_reader()
    expected = update_images.render(update_images.table(version, read))
    committed = (ROOT / "llm_constructs" / "data" / "dlc_images.json").read_text()
    assert committed == expected, "run `make update-images` and read the diff"
    doc = (ROOT / "docs" / "images.md").read_text()
    assert doc == update_images.markdown(json.loads(expected)), "run `make update-images`"


def test_the_table_names_the_sdk_pinned_in_requirements():
    pin = re.search(r"^sagemaker-core==(\S+)", (ROOT / "requirements-dev.txt").read_text(), re.M)
    assert pin is not None
    assert pin[1] == importlib.metadata.version("sagemaker-core") == images.source().split("==")[1]


@pytest.fixture(autouse=True, scope="module")
def _sdk_resolver_loaded_once():
    """``retrieve`` re-reads botocore's endpoints.json on every call (0.07 s); the same
    resolver, loaded once, makes a call about 1 ms."""
    from sagemaker.core import common_utils

    original = common_utils._botocore_resolver
    common_utils._botocore_resolver = functools.cache(original)
    yield
    common_utils._botocore_resolver = original


def _sdk_uri(kind: str, version: str, region: str, *, gpu: bool = True) -> str:
    from sagemaker.core import image_uris  # the SDK's own builder, not ours

    extra = ({"base_framework_version": "pytorch" + images.pytorch_versions()[version]}
             if kind == "pytorch" else {})
    return image_uris.retrieve(SDK_FRAMEWORK[kind], region, version=version,
                               image_scope="inference",
                               instance_type="ml.g5.xlarge" if gpu else "ml.m5.xlarge", **extra)


def _our_image(kind: str, version: str, *, gpu: bool = True) -> images.DlcImage:
    if kind == "pytorch":
        return images.pytorch_image(version, gpu=gpu)
    return images.backend_image(kind, version)


def test_every_offered_uri_is_the_one_the_sdk_builds():
    """Every (backend, version, region) and both PyTorch builds: about 2,900 URIs."""
    differ, compared = [], 0
    for kind in SDK_FRAMEWORK:
        for version in images.versions(kind):
            for gpu in (True, False) if kind == "pytorch" else (True,):
                image = _our_image(kind, version, gpu=gpu)
                for region in sorted(image.registries):
                    ours, sdk = image.uri_for(region), _sdk_uri(kind, version, region, gpu=gpu)
                    compared += 1
                    if ours != sdk:
                        differ.append(f"{kind} {version} {region}: ours {ours}, SDK {sdk}")
    assert not differ, "\n".join(differ[:20])
    assert compared > 2500


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "us-iso-east-1",
                                    "us-isob-east-1", "us-isof-south-1", "eu-isoe-west-1",
                                    "eusc-de-east-1", "me-west-1"])
def test_every_partition_gets_the_sdk_domain(region):
    image = images.tgi_image("3.3.6")
    assert image.uri_for(region) == _sdk_uri("tgi", "3.3.6", region)


def test_the_table_lists_only_what_the_sdk_lists():
    """No version or region of ours beyond the SDK's JSON (read here straight from it)."""
    _, read = update_images.installed_reader()
    for kind, framework in SDK_FRAMEWORK.items():
        sdk = json.loads(read(f"sagemaker/core/image_uri_config/{framework}.json"))
        sdk_versions = sdk.get("inference", sdk)["versions"]
        assert set(images.versions(kind)) <= set(sdk_versions), kind
        for v in images.versions(kind):
            entry = sdk_versions[v]
            if kind == "pytorch":
                entry = entry[f"pytorch{images.pytorch_versions()[v]}"]
            assert _our_image(kind, v).registries == entry["registries"], (kind, v)
