"""Synthesis and template helpers shared by the tests (one synth per config per session)."""

from __future__ import annotations

import copy
import fcntl
import json
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "config"


@dataclass
class Synth:
    outdir: Path
    templates: dict[str, dict]  # stack name -> template

    def stack(self, suffix: str) -> dict:
        matches = [t for name, t in self.templates.items() if name.endswith(suffix)]
        assert len(matches) == 1, f"no single stack ending in {suffix!r}: {list(self.templates)}"
        return matches[0]

    @property
    def endpoints(self) -> dict[str, dict]:
        return {n: t for n, t in self.templates.items() if "-endpoint-" in n}

    @property
    def network(self) -> dict:
        return self.stack("-network")

    def endpoint(self, name: str) -> dict:
        return self.stack(f"-endpoint-{name}")

    @property
    def validation_report(self) -> dict:
        return json.loads((self.outdir / "validation-report.json").read_text())


def config_data(name: str) -> dict:
    return yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text())


DELETE = object()


def dev_with(**changes) -> dict:
    """dev.yaml's real-time endpoint alone, with dotted-path changes, e.g.
    ``{"endpoints.0.instance_type": "x"}``."""
    data = copy.deepcopy(config_data("dev"))
    data["endpoints"] = data["endpoints"][:1]
    return changed(data, **changes)


def seed_async_with(**changes) -> dict:
    """seed-async.yaml with dotted-path changes."""
    return changed(copy.deepcopy(config_data("seed-async")), **changes)


def changed(data: dict, **changes) -> dict:
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return data


def synthesize_data(data: dict, *, nag: bool = True, validation: bool = True,
                    source: str = "<test>") -> Synth:
    """Synthesize the whole app for a config given as data. CDK's built-in CloudFormation
    validation stays on (synth fails on its errors) unless the caller lints the templates
    with cfn-lint instead."""
    import app
    from config import parse_config

    cfg = parse_config(copy.deepcopy(data), source=source)
    outdir = Path(tempfile.mkdtemp(prefix="synth-"))
    application = app.build_app(outdir=str(outdir), config=cfg, nag=nag, validation=validation)
    assembly = application.synth()
    return Synth(outdir, {s.stack_name: s.template for s in assembly.stacks})


@cache
def synthesize(name: str) -> Synth:
    """The shipped config ``name``, synthesized once per test session, with cdk-nag.
    Without CDK's built-in validation: test_lint_and_nag runs cfn-lint, which checks more
    (every warning, three regions), on every template of every shipped config. Under
    pytest-xdist the workers share it: the first to need it synthesizes it into a folder
    of this run, the others wait for it and read the templates from there."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        return _synthesize_shipped(name)
    shared = Path(tempfile.gettempdir()) / f"llm-shipped-{run}"
    shared.mkdir(exist_ok=True)
    index = shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not index.exists():
            synth = _synthesize_shipped(name)
            index.write_text(json.dumps({"outdir": str(synth.outdir),
                                         "templates": sorted(synth.templates)}))
            return synth
    done = json.loads(index.read_text())
    outdir = Path(done["outdir"])
    return Synth(outdir, {stack: json.loads((outdir / f"{stack}.template.json").read_text())
                          for stack in done["templates"]})


def _synthesize_shipped(name: str) -> Synth:
    return synthesize_data(config_data(name), validation=False, source=f"config/{name}.yaml")


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def one(template: dict, type_: str) -> tuple[str, dict]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {list(found)}"
    return next(iter(found.items()))


def statements(template: dict, prefix: str = "") -> list[dict]:
    """IAM statements of the policies whose logical ID starts with ``prefix``."""
    out = []
    for lid, res in resources(template, "AWS::IAM::Policy").items():
        if lid.startswith(prefix):
            out += res["Properties"]["PolicyDocument"]["Statement"]
    return out


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def output_ref(producer: dict, value: Any) -> Any:
    """Follow a weak cross-stack reference (``Fn::GetStackOutput``) to the producer's value."""
    if isinstance(value, dict) and "Fn::GetStackOutput" in value:
        return producer["Outputs"][value["Fn::GetStackOutput"]["OutputName"]]["Value"]
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        export = value["Fn::ImportValue"]
        for out in producer["Outputs"].values():
            if out.get("Export", {}).get("Name") == export:
                return out["Value"]
    return value


def create_only_properties(type_: str) -> set[str]:
    """Top-level properties whose change makes CloudFormation replace a resource, from the
    resource provider schemas cfn-lint ships (``createOnlyProperties``)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", type_).schema
    return {p.split("/")[2] for p in schema.get("createOnlyProperties", [])}


def replacements(before: dict, after: dict) -> dict[str, list[str]]:
    """Resources present in both templates whose create-only properties differ: these are
    replaced on update (new physical resource, new generated name)."""
    out = {}
    for lid, old in before["Resources"].items():
        new = after["Resources"].get(lid)
        if new is None or new["Type"] != old["Type"] or new["Type"].startswith("Custom::"):
            continue
        changed = [p for p in create_only_properties(old["Type"])
                   if old.get("Properties", {}).get(p) != new.get("Properties", {}).get(p)]
        if changed:
            out[lid] = sorted(changed)
    return out


def nag_report(synth: Synth) -> dict:
    """cdk-nag's report (CDK adds a "Construct Annotations" one when a stack warns)."""
    (report,) = [r for r in synth.validation_report["pluginReports"]
                 if r["pluginName"] == "AwsSolutions"]
    return report


def nag_report_ok(synth: Synth) -> bool:
    report = nag_report(synth)
    return report["conclusion"] == "success" and report["violations"] == []


def problems(data: dict) -> dict[str, str]:
    """The config problems of ``data`` as {path: message}; fails if it is valid."""
    import pytest

    from config import ConfigError, parse_config

    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return dict(info.value.problems)
