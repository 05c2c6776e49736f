"""Every synthesized template passes cfn-lint with zero errors, and cdk-nag AwsSolutions
has zero unacknowledged findings (each acknowledgement carrying its reason)."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from tests.conftest import SHIPPED
from tests.helpers import CONFIG_DIR, config_data, nag_report, synthesize_data


#: cfn-lint's default region, the seeds' region (Seoul) and one more; the image mapping
#: lists more regions, which makes cfn-lint's all-region mode check resource types in
#: regions the user may never deploy to.
LINT_REGIONS = ["us-east-1", "ap-northeast-2", "eu-west-1"]


@lru_cache(maxsize=1)
def _linter():
    """One cfn-lint runner for every template: loading its rules costs about 0.8 s of CPU,
    which ``cfnlint.api.lint`` pays on each call."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(regions=LINT_REGIONS))


def lint(text: str) -> list:
    from cfnlint.decode.decode import decode_str

    template, errors = decode_str(text)
    return errors or list(_linter().validate_template(template))


def test_every_shipped_config_is_linted():
    """The shared synths of the shipped configs skip CDK's built-in validation because the
    test below lints them; a config missing from SHIPPED would be checked by neither.
    Shipped means tracked by git (test_cli writes a temporary config next to them)."""
    tracked = subprocess.run(["git", "ls-files", "*.yaml"], cwd=CONFIG_DIR, check=True,
                             capture_output=True, text=True).stdout.split()
    assert tracked and sorted(SHIPPED) == sorted(Path(name).stem for name in tracked)


def test_the_linter_finds_an_error():
    """The shared runner is live: a property the schema does not allow is an error."""
    template = ('{"Resources": {"B": {"Type": "AWS::S3::Bucket", '
                '"Properties": {"NoSuchProperty": 1}}}}')
    assert any(m.rule.id.startswith("E") for m in lint(template))


def test_cfn_lint_has_no_errors(shipped):
    for path in sorted(shipped.outdir.glob("*.template.json")):
        matches = lint(path.read_text())
        errors = [m for m in matches if m.rule.id.startswith("E")]
        assert not errors, f"{path.name}: " + "\n".join(str(m) for m in errors)
        # W3005 (explicit DependsOn also implied by a GetAtt) is expected: the Model must
        # wait for the role's *policy*, which no GetAtt expresses.
        warnings = [m for m in matches if m.rule.id.startswith("W") and m.rule.id != "W3005"]
        assert not warnings, f"{path.name}: " + "\n".join(str(m) for m in warnings)


def test_cdk_nag_passes_with_reasoned_acknowledgements_only(shipped):
    report = nag_report(shipped)
    assert report["conclusion"] == "success"
    assert report["violations"] == []
    for ack in report["suppressedViolations"]:
        assert len(ack["reason"]) > 40, ack
        # Acknowledgements name the exact finding (e.g. one wildcard resource), not a rule.
        if ack["ruleName"].startswith("AwsSolutions-IAM5"):
            assert "[Resource::" in ack["acknowledgedId"]


def test_cdk_nag_fails_synth_on_a_new_finding(tmp_path):
    """The gate is real: a bucket with no SSL-only policy and no access logs fails synth."""
    import app
    from config import parse_config

    application = app.build_app(config=parse_config(config_data("dev")),
                                outdir=str(tmp_path))
    stack = next(c for c in application.node.children if isinstance(c, cdk.Stack))
    s3.CfnBucket(stack, "Careless")
    with pytest.raises(RuntimeError, match="ValidationFailed") as info:
        application.synth()
    assert "AwsSolutions-S10" in str(info.value) and "llm-dev-network/Careless" in str(info.value)


def test_a_model_from_s3_prefix_is_nag_clean():
    synth = synthesize_data(config_data("dev") | {
        "network": {"egress": "none"},
        "endpoints": [{"name": "s3model", "image": {"tgi": "3.0.1"},
                       "source": {"s3": "s3://bucket-a/models/llama/"}}]})
    (report,) = synth.validation_report["pluginReports"]
    assert report["conclusion"] == "success"
