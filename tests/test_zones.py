"""Availability Zone names and deployable regions: the zones a config or a pipeline stage
lists exist in their region (cfn-lint's table, committed with its version), and botocore's
pseudo-regions for global endpoints are no deployment region."""

from __future__ import annotations

import json

from config import parse_config
from config.rules.deployment import ZONES_FILE, not_a_zone
from tests.helpers import dev_with, problems
from tools.aws_facts.availability_zones import generate


def test_the_committed_zones_are_the_pinned_cfn_lints():
    assert json.loads(ZONES_FILE.read_text()) == generate()


def test_a_zone_letter_the_region_never_had_is_refused_naming_its_zones():
    data = dev_with(**{"deployment.region": "eu-west-1",
                       "deployment.availability_zones": ["eu-west-1a", "eu-west-1x"]})
    assert problems(data)["deployment.availability_zones"] == (
        "'eu-west-1x' is not a zone of eu-west-1 (its zones: eu-west-1a, eu-west-1b, "
        "eu-west-1c)")


def test_every_zone_the_region_has_is_accepted():
    data = dev_with(**{"deployment.region": "us-east-1",
                       "deployment.availability_zones": ["us-east-1a", "us-east-1f"]})
    assert parse_config(data).deployment.availability_zones == ["us-east-1a", "us-east-1f"]


def test_a_region_the_table_lacks_is_judged_by_the_zone_name_alone():
    assert "me-west-1" not in json.loads(ZONES_FILE.read_text())["zones"]
    assert not_a_zone("me-west-1c", "me-west-1") is None
    assert not_a_zone("eu-west-1a", "me-west-1") == "'eu-west-1a' is not a zone of me-west-1"


def test_a_pseudo_region_for_global_endpoints_is_no_deployment_region():
    """botocore's partitions list ``aws-global``; it matches no partition's region pattern."""
    message = problems(dev_with(**{"deployment.region": "aws-global"}))["deployment.region"]
    assert message.startswith("'aws-global' is not an AWS region")
