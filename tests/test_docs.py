"""Documentation that is generated or checked against the code: the configuration
reference and JSON Schema (from the config models), the editor modelines, and the README's
quota table (from the shipped configs)."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from config import load_config
from tests.conftest import SHIPPED
from tests.helpers import CONFIG_DIR, ROOT, config_data
from tools import capacity, config_reference

MODELINE = "# yaml-language-server: $schema=../docs/config.schema.json"


@pytest.mark.parametrize("path", sorted(config_reference.outputs()), ids=lambda p: p.name)
def test_generated_reference_is_current(path):
    """Stale when a model's field, default, bound or description changes without
    `python tools/config_reference.py`."""
    assert path.read_text(encoding="utf-8") == config_reference.outputs()[path], (
        f"{path.relative_to(ROOT)} is stale: run python tools/config_reference.py")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(config_reference.JSON_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_pass_the_published_schema(name, validator):
    assert [e.message for e in validator.iter_errors(config_data(name))] == []


@pytest.mark.parametrize("change, expected", [
    (("endpoints", 0, "instnace_type", "ml.g5.2xlarge"), "'instnace_type' was unexpected"),
    (("endpoints", 0, "mode", "batch"), "'batch' is not one of"),
    (("network", "max_azs", 9), "9 is greater than the maximum of 6"),
])
def test_published_schema_rejects_what_the_loader_rejects(change, expected, validator):
    data = config_data("dev")
    *path, key, value = change
    node = data
    for part in path:
        node = node[part]
    node[key] = value
    messages = [e.message for e in validator.iter_errors(data)]
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_point_editors_at_the_schema(name):
    first = (CONFIG_DIR / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == MODELINE


def _readme_block(marker: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"<!-- {marker}:begin -->\n(.*?)<!-- {marker}:end -->", text, re.S)
    assert block, f"README.md has no {marker} block"
    return block.group(1).strip().splitlines()


def test_readme_quota_table_is_what_the_configs_need():
    expected = capacity.HEADER.splitlines()
    for name in SHIPPED:
        expected += capacity.markdown_rows(name, load_config(name))
    assert _readme_block("capacity") == expected


def test_capacity_counts_autoscaling_components_and_serverless():
    needs = {n.instance_type: n for n in capacity.instance_needs(load_config("dev"))}
    assert (needs["ml.g5.2xlarge"].first, needs["ml.g5.2xlarge"].most) == (1, 2)
    assert needs["ml.g5.xlarge"].update == 4  # async 0..2: blue/green at max needs 2 x 2
    comp = capacity.instance_needs(load_config("seed-components"))
    assert [(n.instance_type, n.first, n.most) for n in comp] == [("ml.g5.12xlarge", 1, 1),
                                                                  ("ml.g5.2xlarge", 1, 1)]
    assert capacity.serverless_concurrency(load_config("seed-containers")) == 5
    assert {n.instance_type for n in capacity.instance_needs(load_config("seed-containers"))
            } == {"ml.g5.2xlarge", "ml.g5.xlarge"}
    # backends: vLLM (1-3, g6e and g6 as fallbacks) and LMI (1) on g5.12xlarge; a fallback
    # type may have to hold vLLM's fleet alone, not LMI's
    rows = {(n.instance_type, n.fallback_of): (n.first, n.most, n.update)
            for n in capacity.instance_needs(load_config("backends"))}
    assert rows[("ml.g5.12xlarge", "")] == (2, 4, 8)
    assert rows[("ml.g6e.12xlarge", "ml.g5.12xlarge")] == (1, 3, 6)
