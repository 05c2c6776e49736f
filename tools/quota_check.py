"""Quota pre-check: do the account-region's SageMaker quotas hold what a config needs?

    python -m tools.quota_check --config config/prod.yaml --region eu-central-1 \
        [--assume-role-arn arn:aws:iam::<account>:role/cdk-hnb659fds-lookup-role-<account>-<region>]
    python -m tools.quota_check --needs-json "$QUOTA_NEEDS" --region ... [--assume-role-arn ...]

The pipeline's steps use the second form: the needs are computed at synth from the config
the stage deploys (``tools.quota_needs.needs_document``, its region's overrides applied), so
the step installs boto3 alone; this module imports the config package only for --config.

Exit 0: every quota suffices. 1: one line per shortfall, with the quota, the region, the
value needed and the current one, and the request that fixes it. 2: the check cannot judge
(credentials, access denied, throttled beyond retries, a quota name Service Quotas does not
list, a config that does not validate), with the reason. Never a traceback.

What is needed comes from ``tools/quota_needs.py``. A quota is per account and region, so
the instances of endpoints this config does not manage (other configs, other stages in the
same account, anything made by hand) count against it too: the check asks for
``need + their current use <= quota``. The config's own endpoints, when deployed, are left
out of that use: a deployment updates them in place (blue/green), which the need already
counts at its peak. Quotas come by name from ListServiceQuotas (applied values) over
ListAWSDefaultServiceQuotas (defaults, for quotas never changed), both paginated; the
quota code in each request is the one Service Quotas returns, never a table of ours.

IAM actions: servicequotas:ListServiceQuotas, servicequotas:ListAWSDefaultServiceQuotas,
sagemaker:ListEndpoints, sagemaker:DescribeEndpoint, sagemaker:DescribeEndpointConfig
(all in ReadOnlyAccess); with --assume-role-arn, sts:AssumeRole on that role for the caller.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

OK, SHORT, CANNOT_JUDGE = 0, 1, 2
SERVICE_CODE = "sagemaker"
#: botocore's standard retry mode (exponential backoff with jitter) with more attempts than
#: its default 3: a pipeline step would rather wait a minute than fail on a throttle.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
THROTTLED = {"TooManyRequestsException", "ThrottlingException", "Throttling",
             "ThrottledException", "RequestLimitExceeded"}
DENIED = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation",
          "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException"}
#: API operation -> the IAM action it needs, for the access-denied line.
ACTIONS = {"ListServiceQuotas": "servicequotas:ListServiceQuotas",
           "ListAWSDefaultServiceQuotas": "servicequotas:ListAWSDefaultServiceQuotas",
           "ListEndpoints": "sagemaker:ListEndpoints",
           "DescribeEndpoint": "sagemaker:DescribeEndpoint",
           "DescribeEndpointConfig": "sagemaker:DescribeEndpointConfig",
           "AssumeRole": "sts:AssumeRole"}
#: Endpoints that hold no instances.
GONE = {"Deleting", "Failed"}

ClientFactory = Callable[[str], Any]

#: What endpoints outside the config use of a quota (``Usage`` keys); "" for a quota on one
#: endpoint, which other endpoints do not touch.
TOTAL, ENDPOINTS, CONCURRENCY = "instances", "serverless endpoints", "serverless concurrency"


@dataclass(frozen=True)
class QuotaNeed:
    """``needed`` of quota ``quota_name``; ``usage`` says which of the account's other
    endpoints' usage counts against it too; ``why`` names the endpoints that need it."""

    quota_name: str
    needed: int
    usage: str
    why: str


class CannotJudge(Exception):
    """The check cannot decide; the message is the one line that says why."""


@dataclass(frozen=True)
class Quota:
    code: str
    value: int
    adjustable: bool


# --- AWS -----------------------------------------------------------------------------------

def assumed_session(region: str, role_arn: str, sts: Any) -> boto3.Session:
    """A session with ``role_arn``'s credentials (the target account's lookup role)."""
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="llm-quota-check")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=region)


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[dict]:
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def quotas_by_name(client: Any) -> dict[str, Quota]:
    """SageMaker's quotas by name: the applied value where Service Quotas has one, else the
    default (ListServiceQuotas leaves out quotas whose applied value it does not have)."""
    quotas: dict[str, Quota] = {}
    for operation in ("list_aws_default_service_quotas", "list_service_quotas"):
        for q in _pages(client, operation, "Quotas", ServiceCode=SERVICE_CODE):
            quotas[q["QuotaName"]] = Quota(q["QuotaCode"], int(q["Value"]),
                                           bool(q.get("Adjustable", True)))
    return quotas


def _variant_usage(usage: Counter[str], summary: dict, declared: dict) -> None:
    """Add what one variant holds: its pools' instances, its instances by the type its
    endpoint config declares, or its serverless concurrency."""
    serverless = summary.get("CurrentServerlessConfig") or declared.get("ServerlessConfig")
    if serverless:
        usage[CONCURRENCY] += int(serverless.get("MaxConcurrency", 0))
        return
    pools = summary.get("InstancePools") or []
    counts = [(p["InstanceType"], int(p.get("CurrentInstanceCount", 0))) for p in pools]
    if not counts:  # a variant still being created has no summary yet: its initial count
        held = max(summary.get("CurrentInstanceCount", 0), summary.get("DesiredInstanceCount", 0))
        counts = [(declared.get("InstanceType", "unknown"),
                   held if summary else int(declared.get("InitialInstanceCount", 0)))]
    for instance_type, count in counts:
        usage[f"type:{instance_type}"] += count
        usage[TOTAL] += count


def endpoint_usage(sagemaker: Any, name: str) -> Counter[str]:
    """What one deployed endpoint holds now, by ``QuotaNeed.usage`` key."""
    endpoint = sagemaker.describe_endpoint(EndpointName=name)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    declared = {v["VariantName"]: v for v in config.get("ProductionVariants", [])
                + config.get("ShadowProductionVariants", [])}
    summaries = {v["VariantName"]: v for v in endpoint.get("ProductionVariants", [])
                 + endpoint.get("ShadowProductionVariants", [])}
    usage: Counter[str] = Counter()
    for variant, spec in declared.items():
        _variant_usage(usage, summaries.get(variant, {}), spec)
    if usage[CONCURRENCY] or any(v.get("ServerlessConfig") for v in declared.values()):
        usage[ENDPOINTS] += 1
    return usage


def usage_outside(sagemaker: Any, managed: set[str]) -> tuple[Counter[str], int]:
    """What the account-region's endpoints not named in ``managed`` hold now, and how many
    such endpoints there are."""
    usage: Counter[str] = Counter()
    others = 0
    for summary in _pages(sagemaker, "list_endpoints", "Endpoints"):
        if summary["EndpointName"] in managed or summary["EndpointStatus"] in GONE:
            continue
        usage.update(endpoint_usage(sagemaker, summary["EndpointName"]))
        others += 1
    return usage, others


# --- the comparison ------------------------------------------------------------------------

def request_line(need: QuotaNeed, quota: Quota, region: str, in_use: int) -> str:
    """One shortfall: the quota, the region, what is needed and what is there, the fix."""
    wanted = need.needed + in_use
    use = f", {in_use} in use by other endpoints" if in_use else ""
    now = f"now {quota.value}; {need.needed} needed by {need.why}{use}"
    if not quota.adjustable:
        return (f"{need.quota_name} in {region} is {quota.value} and cannot be raised "
                f"({wanted} needed: {need.needed} by {need.why}{use}): lower the config's "
                "maximums")
    return (f"request {need.quota_name} ≥ {wanted} in {region} ({now}): Service Quotas "
            f"console → Amazon SageMaker, or `aws service-quotas request-service-quota-increase"
            f" --service-code {SERVICE_CODE} --quota-code {quota.code} --desired-value {wanted}"
            f" --region {region}`")


def shortfalls(needs: list[QuotaNeed], quotas: dict[str, Quota], usage: Counter[str],
               region: str) -> tuple[list[str], list[str]]:
    """(shortfall lines, lines for quotas Service Quotas does not list by that name)."""
    short, missing = [], []
    for need in needs:
        quota = quotas.get(need.quota_name)
        if quota is None:
            offered = (f"; is {need.usage.removeprefix('type:')} offered in {region}?"
                       if need.usage.startswith("type:") else "")
            missing.append(f"cannot judge {need.quota_name!r} in {region}: Service Quotas "
                           f"lists no SageMaker quota of that name there (needed: "
                           f"{need.needed}{offered})")
            continue
        in_use = usage[need.usage] if need.usage else 0
        if need.needed + in_use > quota.value:
            short.append(request_line(need, quota, region, in_use))
    return short, missing


@dataclass(frozen=True)
class Outcome:
    code: int
    problems: list[str]
    report: list[str]


def check(needs: list[QuotaNeed], managed: set[str], region: str,
          clients: ClientFactory) -> Outcome:
    """Compare ``needs`` with the region's quotas, less what other endpoints hold."""
    quotas = quotas_by_name(clients("service-quotas"))
    usage, others = usage_outside(clients("sagemaker"), managed)
    short, missing = shortfalls(needs, quotas, usage, region)
    report = [f"{n.quota_name}: {n.needed} needed"
              + (f" + {usage[n.usage]} in use" if n.usage and usage[n.usage] else "")
              + (f" of {quotas[n.quota_name].value}" if n.quota_name in quotas else "")
              for n in needs]
    report.append(f"({others} other endpoint(s) in {region} counted)")
    return Outcome(SHORT if short else CANNOT_JUDGE if missing else OK, short + missing, report)


# --- the command ---------------------------------------------------------------------------

def aws_problem(exc: Exception, region: str) -> str:
    """One line for an AWS failure: denied (with the IAM action), throttled, no credentials."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        operation = exc.operation_name
        if code in DENIED:
            action = ACTIONS.get(operation, operation)
            return (f"cannot judge the quotas in {region}: {operation} was refused ({code}); "
                    f"the role needs {action}")
        if code in THROTTLED:
            return (f"cannot judge the quotas in {region}: {operation} was throttled beyond "
                    f"{RETRIES.retries['max_attempts']} attempts; run the step again")
        return f"cannot judge the quotas in {region}: {operation} failed: {code}: {exc}"
    if isinstance(exc, NoCredentialsError):
        return (f"cannot judge the quotas in {region}: no AWS credentials (the CodeBuild "
                "role, a profile or --assume-role-arn)")
    return f"cannot judge the quotas in {region}: {type(exc).__name__}: {exc}"


def client_factory(region: str, role_arn: str | None) -> ClientFactory:
    session = boto3.Session(region_name=region)
    if role_arn:
        session = assumed_session(region, role_arn, session.client("sts", config=RETRIES))
    return lambda service: session.client(service, region_name=region, config=RETRIES)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.quota_check",
        description="Check an account-region's SageMaker quotas against what a config's "
                    "endpoints need at peak. Exit 0 enough, 1 a shortfall, 2 cannot judge.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="The config YAML.")
    source.add_argument("--needs-json", help="The needs as tools.quota_needs.needs_document "
                                             "writes them (the pipeline's steps).")
    p.add_argument("--region", required=True, help="The region the stage deploys to.")
    p.add_argument("--assume-role-arn", help="Read quotas and endpoints as this role (the "
                                             "target account's CDK lookup role).")
    return p


def parse_needs(text: str) -> tuple[list[QuotaNeed], set[str]]:
    """The needs and managed endpoints of a ``needs_document``."""
    try:
        doc = json.loads(text)
        return ([QuotaNeed(**n) for n in doc["needs"]], set(doc["endpoints"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise CannotJudge(f"error: --needs-json is not a needs document ({exc!r}); "
                          "synthesize the pipeline again") from exc


def needs_of(args: argparse.Namespace) -> tuple[list[QuotaNeed], set[str]]:
    if args.needs_json is not None:
        return parse_needs(args.needs_json)
    from config import ConfigError  # the config package (and CDK) only for --config
    from tools.quota_needs import load_for_region, needs_document
    try:
        cfg = load_for_region(args.config, args.region)
    except ConfigError as exc:
        raise CannotJudge(f"error: {exc}") from exc
    return parse_needs(needs_document(cfg))  # the document the pipeline's steps receive


def run(args: argparse.Namespace, clients: Callable[[], ClientFactory]) -> Outcome:
    """The check for parsed ``args``; every failure becomes an ``Outcome`` with code 2."""
    try:
        needs, managed = needs_of(args)
    except CannotJudge as exc:
        return Outcome(CANNOT_JUDGE, [str(exc)], [])
    try:
        return check(needs, managed, args.region, clients())
    except (BotoCoreError, ClientError) as exc:
        return Outcome(CANNOT_JUDGE, [aws_problem(exc, args.region)], [])


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    outcome = run(args, lambda: client_factory(args.region, args.assume_role_arn))
    for line in outcome.report:
        print(line)
    for line in outcome.problems:
        print(line, file=sys.stderr)
    return outcome.code


if __name__ == "__main__":
    sys.exit(main())
