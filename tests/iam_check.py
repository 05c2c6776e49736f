"""Which IAM permission each recorded AWS call needs, and whether a role's policy allows it.

A call is recorded from botocore's ``provide-client-params`` event (service, operation and
the caller's parameters). ``needs`` turns it into (action, resource ARN) pairs: the action
is the operation's name under the service's IAM prefix unless the Service Authorization
Reference names another (the exceptions are in ``S3_READS``/``S3_WRITES`` and
``SQS_BATCHES``); each pair is checked against cfn-lint's copy of that reference
(``cfnlint/data/AdditionalSpecs/Policies.json``: the action exists, the ARN has the
resource type's format), so a wrong mapping fails here, not silently. S3 requests on a
bucket encrypted with a KMS key also need the key: ``kms:Decrypt`` to read,
``kms:GenerateDataKey`` to write (Amazon S3 User Guide, "Using SSE-KMS", permissions).

``allowed`` evaluates identity-policy statements as IAM does for Allow statements: action
patterns case-insensitive, resource patterns case-sensitive, ``*`` any run of characters,
``?`` one. Deny, NotAction, NotResource and Condition are refused rather than guessed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import cfnlint

#: botocore's IAM prefix where it differs from the signing name.
PREFIXES = {"sagemaker-runtime": "sagemaker"}
#: Calls that need no permission.
FREE = {("sts", "GetCallerIdentity")}
SQS_BATCHES = {"DeleteMessageBatch": "DeleteMessage", "SendMessageBatch": "SendMessage",
               "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
#: S3 object reads and writes: operation -> (action, action on a given version).
S3_READS = {"GetObject": ("GetObject", "GetObjectVersion"),
            "HeadObject": ("GetObject", "GetObjectVersion")}
S3_WRITES = {"PutObject": ("PutObject", "PutObject"),
             "DeleteObject": ("DeleteObject", "DeleteObjectVersion")}


@dataclass(frozen=True)
class Call:
    service: str          # botocore's signing name (the IAM prefix, mostly)
    operation: str
    params: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.service}:{self.operation}"


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    call: Call


class Context:
    """What ARNs depend on: the account, region and partition, and each bucket's KMS key."""

    def __init__(self, *, account: str, region: str, partition: str = "aws",
                 bucket_keys: dict[str, str] | None = None) -> None:
        self.account, self.region, self.partition = account, region, partition
        self.bucket_keys = bucket_keys or {}

    def arn(self, service: str, rest: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{rest}"


def recorder(calls: list[Call]):
    """A ``provide-client-params`` handler appending each call to ``calls`` (the
    parameters as the caller gave them, before botocore's own handlers change any)."""
    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.signing_name or model.service_model.endpoint_prefix
        calls.append(Call(PREFIXES.get(service, service), model.name, dict(params)))
    return record


# -- what a call needs ------------------------------------------------------------------------
def needs(call: Call, context: Context) -> list[Need]:
    if (call.service, call.operation) in FREE:
        return []
    pairs = {"s3": _s3, "dynamodb": _dynamodb, "sqs": _sqs, "sagemaker": _sagemaker,
             "sns": _sns}.get(call.service)
    if pairs is None:
        raise NotImplementedError(f"no IAM mapping for {call}: add the service to iam_check")
    out = [Need(action, resource, call) for action, resource in pairs(call, context)]
    for need in out:
        _check_reference(need, context)
    return out


def _s3(call: Call, context: Context) -> list[tuple[str, str]]:
    p, op = call.params, call.operation
    if op == "CopyObject":
        bucket, key, version = _copy_source(p["CopySource"])
        return (_s3_object(S3_READS["GetObject"], bucket, key, version, context, "kms:Decrypt")
                + _s3_object(S3_WRITES["PutObject"], p["Bucket"], p["Key"], None, context,
                             "kms:GenerateDataKey"))
    if op in S3_READS:
        kms = "kms:Decrypt" if op == "GetObject" else None  # HEAD reads no data
        return _s3_object(S3_READS[op], p["Bucket"], p["Key"], p.get("VersionId"), context, kms)
    if op in S3_WRITES:
        kms = "kms:GenerateDataKey" if op == "PutObject" else None
        return _s3_object(S3_WRITES[op], p["Bucket"], p["Key"], p.get("VersionId"), context, kms)
    raise NotImplementedError(f"no IAM mapping for {call}: add it to iam_check (S3's actions "
                              "are not named after every operation)")


def _s3_object(actions: tuple[str, str], bucket: str, key: str, version: str | None,
               context: Context, kms: str | None) -> list[tuple[str, str]]:
    out = [(f"s3:{actions[1] if version else actions[0]}",
            f"arn:{context.partition}:s3:::{bucket}/{key}")]
    if kms and bucket in context.bucket_keys:
        out.append((kms, context.bucket_keys[bucket]))
    return out


def _copy_source(source: Any) -> tuple[str, str, str | None]:
    """CopySource as the caller gave it (a dict) or as botocore encodes it (a string)."""
    if isinstance(source, dict):
        return source["Bucket"], source["Key"], source.get("VersionId")
    path, _, query = str(source).partition("?versionId=")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    return bucket, key, query or None


def _dynamodb(call: Call, context: Context) -> list[tuple[str, str]]:
    p = call.params
    table = lambda name: context.arn("dynamodb", f"table/{name}")  # noqa: E731
    if "TableName" in p:
        return [(f"dynamodb:{call.operation}", table(p["TableName"]))]
    if call.operation == "TransactWriteItems":
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                 "ConditionCheck": "ConditionCheckItem"}
        return [(f"dynamodb:{kinds[kind]}", table(body["TableName"]))
                for item in p["TransactItems"] for kind, body in item.items()]
    raise NotImplementedError(f"no IAM mapping for {call}: add it to iam_check")


def _sqs(call: Call, context: Context) -> list[tuple[str, str]]:
    *_, account, name = call.params["QueueUrl"].rstrip("/").split("/")
    action = SQS_BATCHES.get(call.operation, call.operation)
    return [(f"sqs:{action}", f"arn:{context.partition}:sqs:{context.region}:{account}:{name}")]


def _sagemaker(call: Call, context: Context) -> list[tuple[str, str]]:
    # SageMaker ARNs carry the resource name in lower case.
    name = call.params["EndpointName"].lower()
    return [(f"sagemaker:{call.operation}", context.arn("sagemaker", f"endpoint/{name}"))]


def _sns(call: Call, context: Context) -> list[tuple[str, str]]:
    return [(f"sns:{call.operation}", call.params["TopicArn"])]


# -- the Service Authorization Reference, as cfn-lint ships it ------------------------------
@cache
def _reference() -> dict[str, Any]:
    path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _check_reference(need: Need, context: Context) -> None:
    prefix, _, action = need.action.partition(":")
    service = _reference()[prefix]
    entry = service["Actions"].get(action.lower())
    assert entry is not None, f"{need.call} maps to {need.action}, which IAM does not have"
    formats = [f for kind in entry.get("Resources", [])
               for f in service["Resources"][kind]["ARNFormats"]]
    patterns = [re.escape(f).replace(re.escape(".*"), ".*")
                .replace(re.escape("${Partition}"), context.partition)
                .replace(re.escape("${Region}"), context.region)
                .replace(re.escape("${Account}"), r"\d{12}") for f in formats]
    assert not formats or any(re.fullmatch(p, need.resource) for p in patterns), \
        f"{need.call}: {need.resource} is not an ARN {need.action} takes ({formats})"


# -- policy evaluation ------------------------------------------------------------------------
def _pattern(glob: str, *, case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(regex, 0 if case else re.IGNORECASE)


def allowed(statements: list[dict[str, Any]], need: Need) -> bool:
    for statement in statements:
        unsupported = {"NotAction", "NotResource", "Condition"} & set(statement)
        if unsupported or statement.get("Effect") != "Allow":
            raise NotImplementedError(f"statement with {unsupported or statement['Effect']}: "
                                      "iam_check evaluates plain Allow statements only")
        actions, resources = _as_list(statement["Action"]), _as_list(statement["Resource"])
        if any(_pattern(a, case=False).fullmatch(need.action) for a in actions) and \
                any(_pattern(r, case=True).fullmatch(need.resource) for r in resources):
            return True
    return False


def denied(statements: list[dict[str, Any]], calls: list[Call],
           context: Context) -> list[str]:
    """Every permission ``calls`` needed that ``statements`` do not grant, one line each."""
    return [f"{n.call} needs {n.action} on {n.resource}" for call in calls
            for n in needs(call, context) if not allowed(statements, n)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
