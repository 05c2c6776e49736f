"""The app as users run it: through the pinned CDK CLI (cdk.json's app command), with no
AWS credentials, and a config mistake reported as a plain error naming the field."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
import sys

from tests.helpers import ROOT

ENV = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def test_cdk_cli_synthesizes_another_config_without_credentials(tmp_path):
    out = tmp_path / "cdk.out"
    proc = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--no-notices", "--quiet", "-c", "env=prod",
         "-o", str(out)],
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


def _run_app(tmp_path, config_env: str) -> subprocess.CompletedProcess:
    env = ENV | {"CDK_CONTEXT_JSON": json.dumps({"env": config_env}),
                 "CDK_OUTDIR": str(tmp_path)}
    return subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_bad_config_is_one_readable_error_naming_the_field(tmp_path):
    bad = ROOT / "config" / "zz-test-bad.yaml"
    bad.write_text((ROOT / "config" / "dev.yaml").read_text().replace(
        "instance_type: ml.g5.2xlarge", "instance_type: ml.g5.3xlarge"))
    try:
        proc = _run_app(tmp_path, "zz-test-bad")
    finally:
        bad.unlink()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "config/zz-test-bad.yaml: 1 problem(s):" in proc.stderr
    assert "endpoints[0] (chat).instance_type: 'ml.g5.3xlarge' is not a SageMaker" in proc.stderr


def test_unknown_config_name(tmp_path):
    proc = _run_app(tmp_path, "nope")
    assert proc.returncode == 1
    config_dir = Path(__file__).parents[1] / "config"
    shipped = ", ".join(sorted(f.stem for f in config_dir.glob("*.yaml")))
    assert f"no config/nope.yaml; available: {shipped}" in proc.stderr
    assert "backends" in shipped and "dev" in shipped
