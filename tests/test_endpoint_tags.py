"""Per-endpoint cost-allocation tags: checked as ``deployment.tags`` is (botocore's Tag
shapes, with the global tags and ``project``), on every resource of that endpoint's stack
only, overriding a global tag of the same key."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_config
from tests.helpers import config_data, resources, synthesize_data

BATCH = "endpoints[1] (batch)"
SAGEMAKER = "(botocore 1.44.5 sagemaker CreateModel)"


def dev_tagged(global_tags: dict, batch_tags: dict) -> dict:
    data = config_data("dev")
    data["deployment"] = {**data.get("deployment", {}), "tags": global_tags}
    data["endpoints"][1]["tags"] = batch_tags
    return data


def problems_of(global_tags: dict, batch_tags: dict) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(dev_tagged(global_tags, batch_tags), source="test.yaml")
    return info.value.problems


def test_valid_tags_parse_with_unicode_letters_and_allowed_signs():
    cfg = parse_config(dev_tagged({"environment": "dev"},
                                  {"team": "search", "cost-centre": "4711",
                                   "Kostenstelle äöü": "a/b=c+d@e.f:g_h -", "empty": ""}))
    assert cfg.endpoints[1].tags["cost-centre"] == "4711"
    assert cfg.endpoints[0].tags == {}


def test_bad_endpoint_tags_are_named_by_key_with_the_botocore_limit():
    problems = problems_of({}, {"team": "a*b", "k" * 129: "x", "owner": "v" * 257})
    sagemaker = [(path, message) for path, message in problems if SAGEMAKER in message]
    assert sagemaker == [
        (f"{BATCH}.tags.team", "'a*b' does not match the pattern of SageMaker's Tag.Value, "
                               f"([\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*) {SAGEMAKER}"),
        (f"{BATCH}.tags.{'k' * 129}",
         f"value is 129 characters; SageMaker's Tag.Key takes at most 128 {SAGEMAKER}"),
        (f"{BATCH}.tags.owner",
         f"value is 257 characters; SageMaker's Tag.Value takes at most 256 {SAGEMAKER}")]


def test_the_count_joins_global_endpoint_and_project_tags():
    global_tags = {f"g{i}": "v" for i in range(30)}
    assert problems_of(global_tags, {f"k{i}": "v" for i in range(20)}) == [
        (f"{BATCH}.tags", f"51 items; SageMaker's CreateModelInput.Tags takes at most 50 "
                          f"{SAGEMAKER}")]
    # An endpoint key that overrides a global one adds none.
    parse_config(dev_tagged(global_tags, {f"g{i}": "w" for i in range(30)}
                            | {f"k{i}": "v" for i in range(19)}))


@pytest.mark.parametrize("key", ["aws:team", "AWS:Team"])
def test_aws_prefix_is_reserved_in_both_maps(key):
    assert problems_of({key: "x"}, {key: "x", "ok": "y"}) == [
        (where, f"tag keys '{key}': the prefix 'aws:' is reserved for AWS; rename them")
        for where in ("deployment.tags", f"{BATCH}.tags")]


def tags_of(resource: dict) -> dict[str, str]:
    """The resource's tags, less those CDK adds itself (``aws-cdk:auto-delete-objects``)."""
    tags = resource["Properties"].get("Tags", [])
    return {t["Key"]: t["Value"] for t in tags if not t["Key"].startswith("aws-cdk:")}


def test_endpoint_tags_land_on_its_stack_only_and_override_global():
    data = dev_tagged({"team": "platform", "environment": "dev"},
                      {"team": "search", "cost-centre": "4711"})
    synth = synthesize_data(data, nag=False, validation=False)
    batch = synth.endpoint("batch")
    expected = {"team": "search", "cost-centre": "4711", "environment": "dev",
                "project": data["project"]}
    for type_ in ("AWS::SageMaker::Endpoint", "AWS::SageMaker::EndpointConfig",
                  "AWS::SageMaker::Model", "AWS::S3::Bucket"):
        found = resources(batch, type_)
        assert found, type_
        assert all(tags_of(r) == expected for r in found.values()), (type_, found)
    for other in (synth.endpoint("chat"), synth.network):
        found = [tags_of(r) for r in other["Resources"].values() if tags_of(r)]
        assert found and all(t["team"] == "platform" and "cost-centre" not in t
                             for t in found)
