"""The app as users run it: through the pinned CDK CLI (cdk.json's app command), with no
AWS credentials, and a config mistake reported as a plain error naming the field."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch

from tests.helpers import ROOT

ENV = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def test_cdk_cli_synthesizes_another_config_without_credentials(tmp_path):
    out = tmp_path / "cdk.out"
    proc = subprocess.run(
        # --no-validation: CDK's own CloudFormation validation is two thirds of a synth's CPU
        # and is not what this test is about (cfn-lint checks prod's templates in
        # test_lint_and_nag; the README's synth command, run on a fresh clone, keeps it on).
        ["npx", "--no-install", "cdk", "synth", "--no-notices", "--quiet", "--no-validation",
         "-c", "env=prod", "-o", str(out)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = sorted(p.name for p in out.glob("*.template.json"))
    assert names == ["llm-prod-endpoint-chat.template.json", "llm-prod-network.template.json"]
    assert json.loads((out / "llm-prod-network.template.json").read_text())["Resources"]


def test_cli_pins_a_cli_that_reads_our_assemblies():
    pkg = json.loads((ROOT / "package.json").read_text())
    assert pkg["devDependencies"]["aws-cdk"].startswith("2.1148.")
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"].startswith("2.1148.")


def app_in_process(monkeypatch, capsys, **context) -> tuple[int, str]:
    """``cdk synth -c key=value ...`` as the CLI's subprocess runs it: app.main() with that
    context, in this process (a subprocess costs a Python and a jsii start, about 3 s of
    CPU; the CLI's own path is tested above with -c env=prod). (exit code, stderr)."""
    import app

    flags = app.feature_flags()
    monkeypatch.setattr(app, "feature_flags", lambda: flags | context)
    code = app.main()
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, err


def test_bad_config_is_one_readable_error_naming_the_field(monkeypatch, capsys):
    bad = ROOT / "config" / "zz-test-bad.yaml"
    bad.write_text((ROOT / "config" / "dev.yaml").read_text().replace(
        "instance_type: ml.g5.2xlarge", "instance_type: ml.g5.3xlarge"))
    try:
        code, err = app_in_process(monkeypatch, capsys, env="zz-test-bad")
    finally:
        bad.unlink()
    assert code == 1
    assert "config/zz-test-bad.yaml: 1 problem(s):" in err
    assert "endpoints[0] (chat).instance_type: 'ml.g5.3xlarge' is not a SageMaker" in err


def test_unknown_config_name(monkeypatch, capsys):
    code, err = app_in_process(monkeypatch, capsys, env="nope")
    assert code == 1
    config_dir = Path(__file__).parents[1] / "config"
    shipped = ", ".join(sorted(f.stem for f in config_dir.glob("*.yaml")))
    assert f"no config/nope.yaml; available: {shipped}" in err
    assert "backends" in shipped and "dev" in shipped


# Adversarial configs (issue 14): whatever the file, `cdk synth` ends with exit code 1 and one
# line per problem, never a traceback. These call app.main() in this process with the same
# context (-c config=<path>), which is what the CLI's subprocess runs, at a tenth of the cost
# of a CLI run (about 5 s of CPU); the CLI's own path is the test of -c env=prod above.

ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True)) + "project: *i\nendpoints: []\n"
DEV = (ROOT / "config" / "dev.yaml").read_text()


def synth_in_process(monkeypatch, capsys, path) -> list[str]:
    """``cdk synth -c config=<path>``, in this process; it must fail with exit code 1."""
    code, err = app_in_process(monkeypatch, capsys, config=str(path))
    assert code == 1
    return err.splitlines()


@pytest.mark.parametrize("text,expected", [
    (ALIAS_BOMB, ["error: {path}:1:4: anchors and aliases (&name, *name, <<: *name) are not "
                  "supported: write each value out"]),
    (DEV.replace("max_azs: 2", "max_azs: [2"),
     ["error: {path}:10:9: did not find expected ',' or ']' (while parsing a flow sequence at "
      "line 9, column 12)"]),
    (DEV + "#" * 2_000_000, ["error: {path}: the file is {size:,} bytes, over the "
                             "1,000,000-byte limit for a config (the shipped ones are 1-3 KB)"]),
    (DEV.replace("project:", "projekt:"),
     ["error: {path}: 2 problem(s):",
      "  - project: required key is missing",
      "  - projekt: unknown key (check the spelling; see README 'Configuration')"]),
])
def test_adversarial_configs_end_in_one_line_per_problem(tmp_path, monkeypatch, capsys, text,
                                                         expected):
    path = tmp_path / "adversarial.yaml"
    path.write_text(text)
    size = len(text.encode())
    assert synth_in_process(monkeypatch, capsys, path) == [
        line.format(path=path, size=size) for line in expected]


@pytest.mark.parametrize("failure,expected", [
    # a construct's own check, through jsii (seen with alarms.period_seconds: 61 before the
    # config checked it): a config the checks accept, refused while building
    (lambda: cloudwatch.Metric(namespace="n", metric_name="m", period=cdk.Duration.seconds(61)),
     "RuntimeError: 'period' must be 1, 5, 10, 30, or a multiple of 60 seconds, received 61"),
    # a programming error is not hidden: its type and message, on one line
    (lambda: {}["missing"], "KeyError: 'missing'"),
])
def test_a_failure_after_the_config_checks_is_one_line_naming_the_config(
        tmp_path, monkeypatch, capsys, failure, expected):
    import app

    path = tmp_path / "ok.yaml"
    path.write_text(DEV)
    monkeypatch.setattr(app, "build_stacks", lambda _app, _config: failure())
    assert synth_in_process(monkeypatch, capsys, path) == [
        f"error: {path}: synth failed on an error the config checks did not catch (please "
        f"report it): {expected}"]
