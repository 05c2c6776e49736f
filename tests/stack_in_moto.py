"""An async endpoint stack's runtime, created in moto from its synthesized template.

Everything the end-to-end tests use comes from the template: the ledger's key schema and
TTL, the queues with their redrive policies and visibility timeouts, the topics and their
SQS subscriptions (raw delivery as declared), the bucket's versioning, default encryption
and event notification (from CDK's ``Custom::S3BucketNotifications``), each function's
environment, timeout, event source and role policy, its code (the asset folder in the
cloud assembly), and the stack's outputs (``describe_stacks`` answers CloudFormation's
DescribeStacks with them, so the client's ``from_stack`` reads them as from a deployed
stack). Names CloudFormation would generate are chosen here; ``Ref`` and ``Fn::GetAtt``
resolve to those resources' names and ARNs. The resolver knows the intrinsics the
runtime's resources use and fails on others.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.awsrequest import AWSResponse

ACCOUNT, PARTITION = "123456789012", "aws"  # moto's default account
#: One botocore data loader for every session the tests make: a session of its own reads
#: botocore's endpoint and service models again (about 0.3 s each).
_LOADER = botocore.loaders.create_loader()


def shared_session(region: str, **credentials: str) -> boto3.Session:
    """A boto3 session sharing the loaded botocore data."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=region, **credentials)


class Template:
    """Resolves a template's values against physical names and ARNs."""

    def __init__(self, template: dict[str, Any], *, region: str, stack_name: str,
                 names: dict[str, str]) -> None:
        self.template, self.region, self.stack_name = template, region, stack_name
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.pseudo = {"AWS::Region": region, "AWS::AccountId": ACCOUNT,
                       "AWS::Partition": PARTITION, "AWS::URLSuffix": "amazonaws.com",
                       "AWS::StackName": stack_name}
        #: logical id -> {"Ref": ..., attribute: ...}, for every resource resolved so far
        self.physical: dict[str, dict[str, str]] = {}
        self.names = names

    # -- physical names and attributes ---------------------------------------------------
    def name(self, logical_id: str) -> str:
        """The name the template gives, else ours, else the logical id (lower case for a
        bucket, as S3 wants)."""
        resource = self.resources[logical_id]
        given = resource.get("Properties", {}).get(_NAME_PROPERTIES.get(resource["Type"], ""))
        if isinstance(given, str):
            return given
        if logical_id in self.names:
            return self.names[logical_id]
        return logical_id.lower() if resource["Type"] == "AWS::S3::Bucket" else logical_id

    def attributes(self, logical_id: str) -> dict[str, str]:
        if logical_id not in self.physical:
            type_ = self.resources[logical_id]["Type"]
            make = _FORMULAS.get(type_)
            if make is None:
                raise NotImplementedError(f"{logical_id}: no attributes for {type_} yet")
            self.physical[logical_id] = make(self, self.name(logical_id))
        return self.physical[logical_id]

    def arn(self, service: str, rest: str) -> str:
        return f"arn:{PARTITION}:{service}:{self.region}:{ACCOUNT}:{rest}"

    # -- intrinsics ----------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.pseudo[arg] if arg in self.pseudo else self.attributes(arg)["Ref"]
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attributes(logical_id)[attribute]
            if key == "Fn::Join":
                return arg[0].join(str(self.resolve(v)) for v in arg[1])
            if key == "Fn::Sub" and isinstance(arg, str):
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._sub(m.group(1))), arg)
            if key.startswith("Fn::"):
                raise NotImplementedError(f"the resolver does not know {key}")
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        logical_id, _, attribute = name.partition(".")
        return self.attributes(logical_id)[attribute or "Ref"]

    # -- reading -------------------------------------------------------------------------
    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == type_}

    def properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties", {}))

    def outputs(self) -> dict[str, str]:
        return {k: str(self.resolve(o["Value"])) for k, o in self.template["Outputs"].items()}

    def role_statements(self, role_arn: str) -> list[dict[str, Any]]:
        """The Allow statements of the role's inline and attached policies, resolved."""
        (role_id,) = [k for k in self.of_type("AWS::IAM::Role")
                      if self.attributes(k)["Arn"] == role_arn]
        role = self.properties(role_id)
        if role.get("ManagedPolicyArns"):
            raise NotImplementedError(f"{role_id} has managed policies: not evaluated")
        documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
        documents += [p["Properties"]["PolicyDocument"]
                      for p in self.of_type("AWS::IAM::Policy").values()
                      if {"Ref": role_id} in p["Properties"].get("Roles", [])]
        return [s for d in documents for s in self.resolve(d["Statement"])]


def _queue(t: Template, name: str) -> dict[str, str]:
    url = f"https://sqs.{t.region}.amazonaws.com/{ACCOUNT}/{name}"
    return {"Ref": url, "QueueUrl": url, "QueueName": name, "Arn": t.arn("sqs", name)}


_NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName", "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName", "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName", "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName", "AWS::SageMaker::Endpoint": "EndpointName"}

_FORMULAS = {  # CloudFormation's Ref and Fn::GetAtt values per resource type
    "AWS::S3::Bucket": lambda t, n: {"Ref": n, "Arn": f"arn:{PARTITION}:s3:::{n}"},
    "AWS::DynamoDB::Table": lambda t, n: {"Ref": n, "Arn": t.arn("dynamodb", f"table/{n}")},
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": lambda t, n: {"Ref": t.arn("sns", n), "TopicArn": t.arn("sns", n),
                                     "TopicName": n},
    "AWS::Logs::LogGroup": lambda t, n: {"Ref": n, "Arn": t.arn("logs", f"log-group:{n}:*")},
    "AWS::IAM::Role": lambda t, n: {"Ref": n, "Arn": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{n}"},
    "AWS::Lambda::Function": lambda t, n: {"Ref": n, "Arn": t.arn("lambda", f"function:{n}")},
    "AWS::SageMaker::Endpoint": lambda t, n: {
        "Ref": t.arn("sagemaker", f"endpoint/{n.lower()}"), "EndpointName": n},
}


# -- building it in moto ------------------------------------------------------------------------
@dataclass
class Function:
    """One Lambda function of the template: where its code is and what it may do."""
    logical_id: str
    name: str
    code: Path                       # the asset folder in the cloud assembly
    handler: str                     # "module.function"
    environment: dict[str, str]
    timeout: int
    memory: int
    queue_url: str | None            # its SQS event source
    batch_size: int
    role: str                        # its role's ARN


def build(template: Template, assembly: Path, session: boto3.Session) -> dict[str, Function]:
    """Create the template's buckets, key, table, queues, topics, subscriptions and bucket
    notifications in moto (inside ``mock_aws``); returns the Lambda functions by logical id."""
    _keys(template, session)
    _buckets(template, session)
    _tables(template, session)
    _queues(template, session)
    _topics(template, session)
    _notifications(template, session)
    return _functions(template, assembly)


@cache
def _client(session: boto3.Session, service: str) -> Any:
    """One client per session and service: a world rebuilt for each test on one session
    does not pay for new clients (about 6 ms each). Clients hold no AWS state."""
    return session.client(service)


def _keys(t: Template, session: boto3.Session) -> None:
    kms = _client(session, "kms")
    for logical_id, res in t.of_type("AWS::KMS::Key").items():
        meta = kms.create_key(Description=res["Properties"].get("Description", ""))["KeyMetadata"]
        t.physical[logical_id] = {"Ref": meta["KeyId"], "Arn": meta["Arn"]}


def _buckets(t: Template, session: boto3.Session) -> None:
    s3 = _client(session, "s3")
    for logical_id in t.of_type("AWS::S3::Bucket"):
        p, name = t.resolve(t.properties(logical_id)), t.attributes(logical_id)["Ref"]
        s3.create_bucket(Bucket=name)
        if "VersioningConfiguration" in p:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=p[
                "VersioningConfiguration"])
        if "BucketEncryption" in p:  # CloudFormation's names for the API's fields
            rules = [{"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"],
                      **({"BucketKeyEnabled": r["BucketKeyEnabled"]}
                         if "BucketKeyEnabled" in r else {})}
                     for r in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]]
            s3.put_bucket_encryption(Bucket=name,
                                     ServerSideEncryptionConfiguration={"Rules": rules})


def bucket_keys(t: Template) -> dict[str, str]:
    """Each bucket's default KMS key ARN (S3 requests on it need that key)."""
    out = {}
    for logical_id in t.of_type("AWS::S3::Bucket"):
        p = t.resolve(t.properties(logical_id))
        for rule in p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
            key = rule["ServerSideEncryptionByDefault"].get("KMSMasterKeyID")
            if key:
                out[t.attributes(logical_id)["Ref"]] = key
    return out


def _tables(t: Template, session: boto3.Session) -> None:
    dynamodb = _client(session, "dynamodb")
    for logical_id in t.of_type("AWS::DynamoDB::Table"):
        p, name = t.resolve(t.properties(logical_id)), t.attributes(logical_id)["Ref"]
        dynamodb.create_table(TableName=name, KeySchema=p["KeySchema"],
                              AttributeDefinitions=p["AttributeDefinitions"],
                              BillingMode=p["BillingMode"])
        if "TimeToLiveSpecification" in p:
            dynamodb.update_time_to_live(TableName=name,
                                         TimeToLiveSpecification=p["TimeToLiveSpecification"])


def _queues(t: Template, session: boto3.Session) -> None:
    sqs = _client(session, "sqs")
    attributes = {"VisibilityTimeout": "VisibilityTimeout",
                  "MessageRetentionPeriod": "MessageRetentionPeriod",
                  "RedrivePolicy": "RedrivePolicy", "SqsManagedSseEnabled": "SqsManagedSseEnabled"}
    queues = t.of_type("AWS::SQS::Queue")
    # dead-letter queues first: a redrive policy names an existing queue
    for logical_id in sorted(queues, key=lambda k: "RedrivePolicy" in queues[k]["Properties"]):
        p, names = t.resolve(t.properties(logical_id)), t.attributes(logical_id)
        given = {attributes[k]: json.dumps(v) if isinstance(v, dict) else str(v).lower()
                 if isinstance(v, bool) else str(v) for k, v in p.items() if k in attributes}
        url = sqs.create_queue(QueueName=names["QueueName"], Attributes=given)["QueueUrl"]
        assert url == names["QueueUrl"], (url, names)


def _topics(t: Template, session: boto3.Session) -> None:
    sns = _client(session, "sns")
    for logical_id in t.of_type("AWS::SNS::Topic"):
        arn = sns.create_topic(Name=t.attributes(logical_id)["TopicName"])["TopicArn"]
        assert arn == t.attributes(logical_id)["Ref"]
    for logical_id in t.of_type("AWS::SNS::Subscription"):
        p = t.resolve(t.properties(logical_id))
        extra = {"RawMessageDelivery": str(p.get("RawMessageDelivery", False)).lower()}
        if "FilterPolicy" in p:
            extra["FilterPolicy"] = json.dumps(p["FilterPolicy"])
        sns.subscribe(TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"],
                      Attributes=extra)


def _notifications(t: Template, session: boto3.Session) -> None:
    s3 = _client(session, "s3")
    for logical_id in t.of_type("Custom::S3BucketNotifications"):
        p = t.resolve(t.properties(logical_id))
        s3.put_bucket_notification_configuration(
            Bucket=p["BucketName"], NotificationConfiguration=p["NotificationConfiguration"])


def describe_stacks(t: Template):
    """A ``before-call.cloudformation.DescribeStacks`` handler answering for the template's
    stack with its outputs, resolved (moto's CloudFormation needs packages we do not
    install); any other stack name gets CloudFormation's error for an unknown stack."""
    outputs = [{"OutputKey": k, "OutputValue": v} for k, v in t.outputs().items()]

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        name = params["body"].get("StackName")  # the request as serialized (query protocol)
        if name != t.stack_name:
            return AWSResponse("", 400, {}, None), {"Error": {
                "Code": "ValidationError", "Message": f"Stack with id {name} does not exist"}}
        return AWSResponse("", 200, {}, None), {"Stacks": [{
            "StackName": t.stack_name, "StackStatus": "CREATE_COMPLETE", "Outputs": outputs}]}
    return answer


def _functions(t: Template, assembly: Path) -> dict[str, Function]:
    sources = {m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
               for m in t.of_type("AWS::Lambda::EventSourceMapping").values()}
    queues = {t.attributes(k)["Arn"]: t.attributes(k)["QueueUrl"]
              for k in t.of_type("AWS::SQS::Queue")}
    out = {}
    for logical_id, res in t.of_type("AWS::Lambda::Function").items():
        p = res["Properties"]
        if "S3Key" not in p.get("Code", {}):
            continue  # inline code: CDK's own helpers
        source = sources.get(logical_id, {})
        out[logical_id] = Function(
            logical_id, t.attributes(logical_id)["Ref"], asset_folder(assembly, t, p["Code"]),
            p["Handler"], {k: str(v) for k, v in t.resolve(
                p.get("Environment", {}).get("Variables", {})).items()},
            int(p.get("Timeout", 3)), int(p.get("MemorySize", 128)),
            queues.get(t.resolve(source["EventSourceArn"])) if source else None,
            int(source.get("BatchSize", 10)), t.resolve(p["Role"]))
    return out


def asset_folder(assembly: Path, t: Template, code: dict[str, Any]) -> Path:
    """The cloud assembly's folder for a function's ``Code`` (found by its object key in
    the stack's asset manifest)."""
    manifest = json.loads((assembly / f"{t.stack_name}.assets.json").read_text())
    key = t.resolve(code["S3Key"])
    (folder,) = [entry["source"]["path"] for entry in manifest["files"].values()
                 if any(d["objectKey"] == key for d in entry["destinations"].values())]
    return assembly / folder
