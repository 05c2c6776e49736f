"""Per-endpoint cost-allocation tags: validated as SageMaker's model says, on every resource
of that endpoint's stack only, overriding a global tag of the same key."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_config
from config.shapes.deployment import tag_shape
from tests.helpers import config_data, resources, synthesize_data

BATCH = "endpoints[1] (batch)"


def dev_tagged(global_tags: dict, batch_tags: dict) -> dict:
    data = config_data("dev")
    data["deployment"] = {**data.get("deployment", {}), "tags": global_tags}
    data["endpoints"][1]["tags"] = batch_tags
    return data


def problems_of(global_tags: dict, batch_tags: dict) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(dev_tagged(global_tags, batch_tags), source="test.yaml")
    return info.value.problems


def test_limits_come_from_botocore():
    assert (tag_shape("TagKey")["max"], tag_shape("TagValue")["max"],
            tag_shape("TagList")["max"]) == (128, 256, 50)


def test_valid_tags_parse_with_unicode_letters_and_allowed_signs():
    cfg = parse_config(dev_tagged({"environment": "dev"},
                                  {"team": "search", "cost-centre": "4711",
                                   "owner": "Zoë Müller", "path": "a/b=c+d@e.f:g_h",
                                   "empty": ""}))
    assert cfg.endpoints[1].tags["cost-centre"] == "4711"
    assert cfg.endpoints[1].tags["empty"] == ""
    assert cfg.endpoints[0].tags == {}


@pytest.mark.parametrize(("tags", "path", "fragment"), [
    ({"team": "a*b"}, ".team", "tag value 'a*b' has '*'; allowed: letters"),
    ({"": "x"}, ".", "tag key '' has 0 characters; allowed: 1-128 (TagKey)"),
    ({"k" * 129: "x"}, ".kkk", "has 129 characters; allowed: 1-128 (TagKey)"),
    ({"team": "v" * 257}, ".team", "257 characters; allowed: 0-256 (TagValue)"),
    ({"aws:team": "x"}, ".aws:team", "tag key 'aws:team': the prefix 'aws:' is reserved"),
    # Upper case too; the path stops at .tags: config's _strip_tags drops capitalised parts.
    ({"AWS:team": "x"}, "", "tag key 'AWS:team': the prefix 'aws:' is reserved"),
    ({f"k{i}": "v" for i in range(49)}, "", "49 tags; allowed: at most 48 (TagList max 50"),
])
def test_bad_endpoint_tag_is_one_named_line(tags, path, fragment):
    problems = problems_of({}, tags)
    assert len(problems) == 1, problems
    (where, message), = problems
    assert where.startswith(f"{BATCH}.tags{path}") and fragment in message, problems


def test_global_tags_share_the_validator_and_every_bad_tag_is_reported():
    problems = problems_of({"aws:x": "1", "ok": "b#d"}, {"team": "a|b"})
    assert sorted(p for p, _ in problems) == ["deployment.tags.aws:x", "deployment.tags.ok",
                                              f"{BATCH}.tags.team"]


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
