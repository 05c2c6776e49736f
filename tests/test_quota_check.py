"""The quota pre-check (tools/quota_check.py, tools/quota_needs.py): what shipped configs
need, by quota name, and the check's answers against botocore's Stubber (no AWS, no moto:
Service Quotas is stubbed call by call, pagination included)."""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
from collections import Counter
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from config import ConfigError, parse_config, read_yaml
from tools import quota_check
from tools.quota_needs import (PER_ENDPOINT, SERVERLESS_CONCURRENCY, SERVERLESS_ENDPOINTS,
                               TOTAL_INSTANCES, QuotaNeed, load_for_region, needs_document,
                               quota_needs)

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-central-1"
G5_12 = "ml.g5.12xlarge for endpoint usage"
NOW = datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC)


def _needs(name: str) -> dict[str, int]:
    cfg = load_for_region(ROOT / "config" / f"{name}.yaml", REGION)
    return {n.quota_name: n.needed for n in quota_needs(cfg)}


# --- what configs need ---------------------------------------------------------------------

def test_prod_needs_twice_its_autoscaling_maximum_for_a_blue_green_update():
    """config/prod.yaml: one endpoint, chat, on ml.g5.12xlarge, initial 2, autoscaling up
    to 6, canary guardrails. SageMaker provisions the whole green fleet before it shifts
    any traffic, so an update at the maximum holds 6 blue + 6 green = 12 instances of the
    type, 12 across all endpoints, and the endpoint itself scales to 6. No serverless."""
    assert _needs("prod") == {G5_12: 12, TOTAL_INSTANCES: 12, PER_ENDPOINT: 6}


def test_components_need_their_instances_plus_one_batch_of_new_copies():
    """config/seed-components.yaml: llama3 holds at most 1 ml.g5.12xlarge (max_instances);
    its one component reserves 4 accelerators, all 4 GPUs of the type, so one copy fills
    an instance; its rolling update replaces 1 copy per batch, placed before the old one
    goes: 1 + 1 = 2 instances at peak. lora holds at most 1 ml.g5.2xlarge; its base (1 GPU,
    at most 1 copy) has no rolling policy, so an update places its copy anew on a second
    instance: 2. Together 4, the largest endpoint 1."""
    assert _needs("seed-components") == {G5_12: 2, "ml.g5.2xlarge for endpoint usage": 2,
                                         TOTAL_INSTANCES: 4, PER_ENDPOINT: 1}


def _components(**component: object) -> dict[str, int]:
    data = read_yaml(ROOT / "config" / "seed-components.yaml", "seed-components")
    endpoint = data["endpoints"][0]
    endpoint["instance_scaling"]["max_instances"] = 2
    endpoint["components"][0].update(component)
    return {n.quota_name: n.needed for n in quota_needs(parse_config(data))}


def test_a_component_update_without_rolling_policy_places_every_copy_again():
    """One accelerator per copy on a 4-GPU ml.g5.12xlarge: 4 copies per instance (192 GiB
    leave room for 4 x 1 GB). Autoscaling to 6 copies on at most 2 instances; without
    rolling_update every copy is placed anew: 6 copies need ceil(6 / 4) = 2 more instances,
    2 + 2 = 4. In 25 % batches: ceil(6 x 25 %) = 2 copies, 1 instance: 2 + 1 = 3."""
    scaled = {"accelerators": 1, "copies": 2, "sm_num_gpus": None,
              "autoscaling": {"min_copies": 0, "max_copies": 6}}
    assert _components(**scaled, rolling_update=None)[G5_12] == 4
    percent = {"batch_unit": "percent", "batch_size": 25}
    assert _components(**scaled, rolling_update=percent)[G5_12] == 3


def test_serverless_endpoints_need_the_endpoint_count_and_concurrency_quotas():
    """config/seed-containers.yaml: dlc (ml.g5.2xlarge) and custom (ml.g5.xlarge), one
    instance each, no autoscaling: 1 + 1 during an update, 4 in all; one serverless
    endpoint with max_concurrency 5."""
    assert _needs("seed-containers") == {
        "ml.g5.2xlarge for endpoint usage": 2, "ml.g5.xlarge for endpoint usage": 2,
        TOTAL_INSTANCES: 4, PER_ENDPOINT: 1, SERVERLESS_ENDPOINTS: 1,
        SERVERLESS_CONCURRENCY: 5}


def test_a_config_fixing_another_region_is_refused(tmp_path):
    data = read_yaml(ROOT / "config" / "prod.yaml", "prod")
    data["deployment"]["region"] = "us-east-1"
    path = tmp_path / "fixed.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="'us-east-1' is fixed by the config; the stage "
                                          "deploys to 'eu-central-1'"):
        load_for_region(path, REGION)


# --- the check against stubbed AWS ---------------------------------------------------------

def _client(service: str):
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=REGION)
    return session.client(service)


def _quota(name: str, code: str, value: float, adjustable: bool = True) -> dict:
    return {"ServiceCode": "sagemaker", "QuotaCode": code, "QuotaName": name, "Value": value,
            "Adjustable": adjustable}


class Stubbed:
    """Service Quotas and SageMaker clients with their Stubbers; ``factory`` is what
    ``check`` takes."""

    def __init__(self) -> None:
        self.clients = {s: _client(s) for s in ("service-quotas", "sagemaker")}
        self.stubs = {s: Stubber(c) for s, c in self.clients.items()}

    def quotas(self, defaults: list[dict], applied: list[list[dict]]) -> None:
        stub = self.stubs["service-quotas"]
        stub.add_response("list_aws_default_service_quotas", {"Quotas": defaults},
                          {"ServiceCode": "sagemaker"})
        for i, page in enumerate(applied):
            expected = {"ServiceCode": "sagemaker"} | ({"NextToken": f"t{i}"} if i else {})
            more = {"NextToken": f"t{i + 1}"} if i + 1 < len(applied) else {}
            stub.add_response("list_service_quotas", {"Quotas": page, **more}, expected)

    def endpoints(self, *endpoints: tuple[str, str, list[dict], list[dict]]) -> None:
        """(name, status, DescribeEndpoint variants, DescribeEndpointConfig variants)."""
        stub = self.stubs["sagemaker"]
        stub.add_response("list_endpoints", {"Endpoints": [
            {"EndpointName": name, "EndpointArn": f"arn:aws:sagemaker:{REGION}:1:endpoint/{name}",
             "CreationTime": NOW, "LastModifiedTime": NOW, "EndpointStatus": status}
            for name, status, _, _ in endpoints]})
        for name, status, running, declared in endpoints:
            if name.startswith("llm-prod-") or status == "Failed":
                continue  # the config's own, or holding nothing: not described
            stub.add_response("describe_endpoint", {
                "EndpointName": name, "EndpointArn": f"arn:aws:sagemaker:{REGION}:1:endpoint/x",
                "EndpointConfigName": f"{name}-config", "EndpointStatus": status,
                "CreationTime": NOW, "LastModifiedTime": NOW, "ProductionVariants": running},
                {"EndpointName": name})
            stub.add_response("describe_endpoint_config", {
                "EndpointConfigName": f"{name}-config", "ProductionVariants": declared,
                "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:1:endpoint-config/x",
                "CreationTime": NOW}, {"EndpointConfigName": f"{name}-config"})

    def check(self, needs: list[QuotaNeed]) -> quota_check.Outcome:
        for stub in self.stubs.values():
            stub.activate()
        outcome = quota_check.check(needs, {"llm-prod-chat"}, REGION, self.clients.__getitem__)
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()
        return outcome


PROD = [QuotaNeed(G5_12, 12, "type:ml.g5.12xlarge", "llm-prod-chat during an update at the "
                                                    "maximum"),
        QuotaNeed(PER_ENDPOINT, 6, "", "llm-prod-chat at its maximum")]


def test_enough_quota_passes():
    aws = Stubbed()
    aws.quotas([_quota(PER_ENDPOINT, "L-ED8DEE9B", 4.0)],
               [[_quota(G5_12, "L-65C4BD00", 12.0), _quota(PER_ENDPOINT, "L-ED8DEE9B", 10.0)]])
    aws.endpoints()
    outcome = aws.check(PROD)
    assert (outcome.code, outcome.problems) == (0, [])
    assert outcome.report[:2] == [f"{G5_12}: 12 needed of 12",
                                  f"{PER_ENDPOINT}: 6 needed of 10"]  # applied over default


def test_a_shortfall_is_one_line_with_the_request_that_fixes_it():
    """Quota 10; the config needs 12 and another endpoint (2 variants, 1 + 1 instances of
    the type) holds 2: 14 are needed. The config's own deployed endpoint, llm-prod-chat,
    is updated in place and not counted; a failed endpoint holds nothing."""
    aws = Stubbed()
    aws.quotas([_quota(G5_12, "L-65C4BD00", 0.0), _quota(PER_ENDPOINT, "L-ED8DEE9B", 6.0)],
               [[_quota(G5_12, "L-65C4BD00", 10.0)]])
    variant = {"VariantName": "a", "CurrentInstanceCount": 1, "DesiredInstanceCount": 1}
    declared = {"VariantName": "a", "InstanceType": "ml.g5.12xlarge", "ModelName": "m",
                "InitialInstanceCount": 1}
    aws.endpoints(("llm-prod-chat", "InService", [], []),
                  ("broken", "Failed", [], []),
                  ("team-b", "InService", [variant, {**variant, "VariantName": "b"}],
                   [declared, {**declared, "VariantName": "b"}]))
    outcome = aws.check(PROD)
    assert outcome.code == 1
    assert outcome.problems == [
        "request ml.g5.12xlarge for endpoint usage ≥ 14 in eu-central-1 (now 10; 12 needed "
        "by llm-prod-chat during an update at the maximum, 2 in use by other endpoints): "
        "Service Quotas console → Amazon SageMaker, or `aws service-quotas "
        "request-service-quota-increase --service-code sagemaker --quota-code L-65C4BD00 "
        "--desired-value 14 --region eu-central-1`"]


def test_a_quota_that_cannot_be_raised_asks_to_lower_the_config():
    """Per endpoint: other endpoints do not count, and a fixed quota cannot be requested."""
    aws = Stubbed()
    aws.quotas([_quota(G5_12, "L-65C4BD00", 12.0),
                _quota(PER_ENDPOINT, "L-ED8DEE9B", 4.0, adjustable=False)], [[]])
    aws.endpoints()
    outcome = aws.check(PROD)
    assert (outcome.code, outcome.problems) == (1, [
        "Maximum number of instances per endpoint in eu-central-1 is 4 and cannot be raised "
        "(6 needed: 6 by llm-prod-chat at its maximum): lower the config's maximums"])


def test_a_quota_missing_by_name_cannot_be_judged():
    aws = Stubbed()
    aws.quotas([_quota(PER_ENDPOINT, "L-ED8DEE9B", 6.0)], [[]])
    aws.endpoints()
    outcome = aws.check(PROD)
    assert outcome.code == 2
    assert outcome.problems == [
        f"cannot judge {G5_12!r} in eu-central-1: Service Quotas lists no SageMaker quota of "
        "that name there (needed: 12; is ml.g5.12xlarge offered in eu-central-1?)"]


def test_pagination_reads_every_page_of_applied_quotas():
    """The type's applied quota is on the third page; the first two say nothing of it."""
    aws = Stubbed()
    aws.quotas([_quota(G5_12, "L-65C4BD00", 0.0), _quota(PER_ENDPOINT, "L-ED8DEE9B", 6.0)],
               [[_quota("ml.g5.xlarge for endpoint usage", "L-1928E07B", 4.0)], [],
                [_quota(G5_12, "L-65C4BD00", 16.0)]])
    aws.endpoints()
    assert aws.check(PROD).code == 0


def _run(factory) -> quota_check.Outcome:
    args = argparse.Namespace(config=ROOT / "config" / "prod.yaml", needs_json=None,
                              region=REGION, assume_role_arn=None)
    return quota_check.run(args, factory)


def test_access_denied_cannot_be_judged_and_names_the_action():
    quotas = _client("service-quotas")
    stub = Stubber(quotas)
    stub.add_client_error("list_aws_default_service_quotas", "AccessDeniedException",
                          "not authorized", 400)
    with stub:
        outcome = _run(lambda: {"service-quotas": quotas}.__getitem__)
    assert (outcome.code, outcome.problems) == (2, [
        "cannot judge the quotas in eu-central-1: ListAWSDefaultServiceQuotas was refused "
        "(AccessDeniedException); the role needs servicequotas:ListAWSDefaultServiceQuotas"])


def test_throttling_beyond_retries_cannot_be_judged():
    quotas = _client("service-quotas")
    stub = Stubber(quotas)
    stub.add_client_error("list_aws_default_service_quotas", "TooManyRequestsException",
                          "slow down", 400)
    with stub:
        outcome = _run(lambda: {"service-quotas": quotas}.__getitem__)
    assert outcome.code == 2
    assert "was throttled beyond 8 attempts; run the step again" in outcome.problems[0]


def test_other_endpoints_count_their_pools_serverless_concurrency_and_new_variants():
    """A variant with instance pools counts each pool's type; a serverless one its
    MaxConcurrency; a variant not yet described by DescribeEndpoint its initial count."""
    usage: Counter[str] = Counter()
    pools = {"InstancePools": [{"InstanceType": "ml.g5.12xlarge", "CurrentInstanceCount": 2},
                               {"InstanceType": "ml.g6.12xlarge", "CurrentInstanceCount": 1}]}
    quota_check._variant_usage(usage, pools, {"InstanceType": "ml.g5.12xlarge"})
    quota_check._variant_usage(usage, {}, {"InstanceType": "ml.g5.xlarge",
                                           "InitialInstanceCount": 3})
    quota_check._variant_usage(usage, {"CurrentServerlessConfig": {"MaxConcurrency": 7}}, {})
    assert usage == {"type:ml.g5.12xlarge": 2, "type:ml.g6.12xlarge": 1,
                     "type:ml.g5.xlarge": 3, "instances": 6, "serverless concurrency": 7}


def test_the_assumed_role_reads_with_its_own_credentials():
    sts = _client("sts")
    stub = Stubber(sts)
    arn = "arn:aws:iam::111122223333:role/cdk-hnb659fds-lookup-role-111122223333-eu-central-1"
    stub.add_response("assume_role", {"Credentials": {
        "AccessKeyId": "ASIAEXAMPLEEXAMPLE01", "SecretAccessKey": "secret",
        "SessionToken": "token", "Expiration": NOW}},
        {"RoleArn": arn, "RoleSessionName": "llm-quota-check"})
    with stub:
        session = quota_check.assumed_session(REGION, arn, sts)
    creds = session.get_credentials()
    assert (creds.access_key, creds.token, session.region_name) == (
        "ASIAEXAMPLEEXAMPLE01", "token", REGION)


def test_a_refused_assume_role_names_sts_assume_role():
    sts = _client("sts")
    stub = Stubber(sts)
    stub.add_client_error("assume_role", "AccessDenied", "not authorized", 403)
    with stub, pytest.raises(quota_check.ClientError) as caught:
        quota_check.assumed_session(REGION, "arn:aws:iam::1:role/x", sts)
    assert quota_check.aws_problem(caught.value, REGION) == (
        "cannot judge the quotas in eu-central-1: AssumeRole was refused (AccessDenied); the "
        "role needs sts:AssumeRole")


def test_the_command_prints_problems_one_per_line_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("project: x\n", encoding="utf-8")
    code = quota_check.main(["--config", str(bad), "--region", REGION])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {bad}: 2 problem(s):")
    assert "Traceback" not in err


def prod_needs_json() -> list[str]:
    """The pipeline's form: the needs computed at synth (``needs_document``)."""
    document = needs_document(load_for_region(ROOT / "config" / "prod.yaml", REGION))
    return ["--needs-json", document]


@pytest.mark.parametrize("needs", [lambda: ["--config", str(ROOT / "config" / "prod.yaml")],
                                   prod_needs_json], ids=["config", "needs-json"])
def test_the_command_checks_prod_and_exits_1_on_a_shortfall(needs, monkeypatch, capsys):
    """The whole command on config/prod.yaml (needs above: 12, 12 and 6) against stubbed
    quotas of 8 ml.g5.12xlarge, 20 instances, 10 per endpoint: one shortfall line on
    stderr, the figures on stdout; the same from the config or from its needs document."""
    aws = Stubbed()
    aws.quotas([_quota(G5_12, "L-65C4BD00", 8.0), _quota(TOTAL_INSTANCES, "L-7A3DF611", 20.0),
                _quota(PER_ENDPOINT, "L-ED8DEE9B", 10.0)], [[]])
    aws.endpoints()
    for stub in aws.stubs.values():
        stub.activate()
    monkeypatch.setattr(quota_check, "client_factory",
                        lambda region, role: aws.clients.__getitem__)
    code = quota_check.main([*needs(), "--region", REGION])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines() == [
        "request ml.g5.12xlarge for endpoint usage ≥ 12 in eu-central-1 (now 8; 12 needed "
        "by llm-prod-chat during an update at the maximum): Service Quotas console → Amazon "
        "SageMaker, or `aws service-quotas request-service-quota-increase --service-code "
        "sagemaker --quota-code L-65C4BD00 --desired-value 12 --region eu-central-1`"]
    assert out.splitlines() == [f"{G5_12}: 12 needed of 8", f"{TOTAL_INSTANCES}: 12 needed of 20",
                                f"{PER_ENDPOINT}: 6 needed of 10",
                                "(0 other endpoint(s) in eu-central-1 counted)"]


def test_a_needs_document_that_is_not_one_cannot_be_judged(capsys):
    code = quota_check.main(["--needs-json", '{"needs": []}', "--region", REGION])
    assert code == 2
    assert capsys.readouterr().err == (
        "error: --needs-json is not a needs document (KeyError('endpoints')); synthesize the "
        "pipeline again\n")


def test_the_pipelines_form_imports_boto3_but_not_the_app():
    """The quota step installs boto3 and botocore alone (stacks/pipeline.py)."""
    probe = ("import sys, tools.quota_check as q; q.parse_needs('{\"needs\": [], "
             "\"endpoints\": []}'); print(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'config', 'aws_cdk', 'constructs', 'pydantic', 'yaml', 'llm_constructs'}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout == "[]\n"
