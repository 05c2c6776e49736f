"""Issue 14: generated configs either get config errors that name a field, or synthesize
templates that pass cfn-lint. Never a crash, never a hang.

The configs are dev.yaml (its real-time endpoint only) with one or two fields changed. The fields
and their bounds come from the published JSON schema (docs/config.schema.json, generated from
the config models); the values are the schema's own (enum members, numbers in range) mixed
with what users get wrong: numbers just outside the bounds, zero, negatives, infinities, wrong
types, empty and very long strings. Hypothesis runs derandomized, so every run tries the same
cases and a failure can be reproduced.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import ConfigError, parse_config
from config.api.botocore_model import Parameter
from tests.helpers import config_data, synthesize_data
from tests.test_lint_and_nag import lint

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "config.schema.json").read_text())
#: Cases run; accepted configs synthesized (each synth costs about 2 CPU seconds).
CASES, SYNTHS = 100, 2
#: A config that takes longer than this to validate counts as a hang.
SLOW_SECONDS = 2.0


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def leaves(node: dict, path: tuple = ()) -> list[tuple[tuple, dict]]:
    """(path, schema) of every leaf under ``node``: objects are walked, unions and arrays
    walked into (an array's first item), maps and scalars are leaves."""
    node = _resolve(node)
    out: list[tuple[tuple, dict]] = []
    for key in ("anyOf", "oneOf"):
        for alternative in node.get(key, []):
            if _resolve(alternative).get("type") != "null":
                out += leaves(alternative, path)
    if node.get("type") == "object" and "properties" in node:
        for name, child in node["properties"].items():
            out += leaves(child, (*path, name))
    elif node.get("type") == "array" and isinstance(node.get("items"), dict):
        out += leaves(node["items"], (*path, 0))
    elif "anyOf" not in node and "oneOf" not in node:
        out.append((path, node))
    return out


#: Paths from the top of the config; the endpoint's are under ("endpoints", 0).
LEAVES = [leaf for leaf in leaves(SCHEMA) if leaf[0][0] != "endpoints"] + [
    (("endpoints", 0, *path), schema) for path, schema in leaves(SCHEMA["$defs"]["Endpoint"])]
#: Keys a problem's path may start with: the schema's top-level properties.
TOP_LEVEL = set(SCHEMA["properties"])

ADVERSARIAL = st.sampled_from([
    None, 0, -1, 10**12, math.inf, -math.inf, 0.5, True, "", " ", "x" * 3000,
    "../../etc", "ml.g5.2xlarge", "Qwen/Qwen2.5-7B-Instruct", [], {}, ["a"], {"a": "b"},
    "AKIAIOSFODNN7EXAMPLE", "arn:aws:iam::123456789012:role/x", "s3://bucket/key"])


def valid_like(schema: dict) -> st.SearchStrategy[Any]:
    """A value of the leaf's own kind: an enum member, a number in (and at) its bounds."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 100_000))
        ints = st.integers(min_value=int(low) - 1, max_value=int(high) + 1)
        return ints if kind == "integer" else st.one_of(ints, st.floats(low - 1, high + 1))
    if kind == "boolean":
        return st.booleans()
    if kind == "object":
        return st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=40),
                               max_size=3)
    return st.text(max_size=40)


@st.composite
def mutations(draw) -> dict[tuple, Any]:
    chosen = draw(st.lists(st.sampled_from(LEAVES), min_size=1, max_size=2,
                           unique_by=lambda leaf: leaf[0]))
    # Two in three values are of the field's own kind, so that some configs pass.
    return {path: draw(st.one_of(valid_like(schema), valid_like(schema), ADVERSARIAL))
            for path, schema in chosen}


def apply(data: dict, changes: dict[tuple, Any]) -> dict:
    """dev.yaml with its first endpoint only, and ``changes``."""
    out = copy.deepcopy(data)
    out["endpoints"] = out["endpoints"][:1]
    for path, value in changes.items():
        node = out
        for part in path[:-1]:
            if isinstance(part, int):
                if not isinstance(node, list) or not node:
                    break
                node = node[0]
            else:
                if not isinstance(node.get(part), dict | list):
                    node[part] = [{}] if isinstance(_next(path, part), int) else {}
                node = node[part]
        else:
            if isinstance(node, dict):
                node[path[-1]] = value
    return out


def _next(path: tuple, part: str) -> Any:
    return path[path.index(part) + 1]


#: What the run saw, for the issue's report (``pytest -s`` prints it at the end).
OUTCOMES: dict[str, int] = {"cases": 0, "errors": 0, "accepted": 0, "synthesized": 0}


def _named(path: str) -> bool:
    """A field of the config: the path starts with one of its top-level keys."""
    return path.split(".")[0].split("[")[0] in TOP_LEVEL


#: Template property -> the API parameter it becomes (botocore's constraints, issue 14 item 1).
API = {("AWS::SageMaker::Model", "PrimaryContainer", "Environment"):
       Parameter("sagemaker", "CreateModel", "PrimaryContainer.Environment"),
       ("AWS::SageMaker::EndpointConfig", "ProductionVariants"):
       Parameter("sagemaker", "CreateEndpointConfig", "ProductionVariants")}


def _literal(value: Any) -> Any:
    """``value`` without CloudFormation intrinsics (resolved only at deploy)."""
    if isinstance(value, dict):
        if any(k.startswith(("Fn::", "Ref")) for k in value):
            return None
        return {k: v for k, v in ((k, _literal(v)) for k, v in value.items()) if v is not None}
    if isinstance(value, list):
        return [v for v in map(_literal, value) if v is not None]
    return value


def _api_violations(template: dict) -> list[tuple[str, str]]:
    found = []
    for resource in template.get("Resources", {}).values():
        for (kind, *path), parameter in API.items():
            value = resource.get("Properties", {}) if resource["Type"] == kind else None
            for step in path:
                value = value.get(step) if isinstance(value, dict) else None
            if value is not None:
                found += list(parameter.violations(_literal(value)))
    return found


def _synthesize_and_lint(data: dict) -> None:
    synth = synthesize_data(data, nag=False, validation=False)
    for path in sorted(synth.outdir.glob("*.template.json")):
        text = path.read_text()
        errors = [m for m in lint(text) if m.rule.id.startswith("E")]
        assert not errors, f"{path.name}: " + "\n".join(map(str, errors))
        assert _api_violations(json.loads(text)) == [], path.name
    OUTCOMES["synthesized"] += 1


@settings(max_examples=CASES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(changes=mutations())
def test_generated_configs_get_named_errors_or_synthesize_lint_clean(changes):
    """Accepted configs: the first SYNTHS of the (fixed) sequence are synthesized and
    linted with cfn-lint; the rest only validated (synth costs ~2 CPU s each)."""
    data = apply(config_data("dev"), changes)
    OUTCOMES["cases"] += 1
    started = time.process_time()
    try:
        try:
            parse_config(data)
        finally:
            assert time.process_time() - started < SLOW_SECONDS, changes  # no hang
    except ConfigError as exc:
        OUTCOMES["errors"] += 1
        assert exc.problems, changes
        for path, message in exc.problems:
            assert _named(path), (path, message, changes)
            assert "\n" not in message and "Traceback" not in message, (path, message)
    else:
        OUTCOMES["accepted"] += 1
        if OUTCOMES["synthesized"] < SYNTHS:
            _synthesize_and_lint(data)


@pytest.fixture(autouse=True, scope="module")
def _report():
    yield
    print(f"\nproperty test: {OUTCOMES}")
