"""CloudFormation custom resource that keeps SageMaker variant autoscaling update-safe.

SageMaker refuses to update an endpoint so that an autoscaled variant changes instance
type while the variant is registered with Application Auto Scaling, and CloudFormation
cannot order "deregister, update endpoint, register again" with its native resources.
Two resources of this handler do it inside one deployment, and both carry the whole
scaling declaration (``Fingerprint`` = the declared instance type, ``MinCapacity``,
``MaxCapacity``, ``Policies``, ``ScheduledActions``; deregistering a target deletes its
policies and scheduled actions, so every registration puts all of them back):

``Custom::ScalingRelease`` (the Endpoint depends on it)
    State-based, not event-based: on every Create/Update, forward or rollback alike, it
    reads the instance type the endpoint runs now (DescribeEndpoint, then its current
    EndpointConfig). Different from ``Fingerprint`` (or no endpoint yet): a type change
    is ahead, so deregister; the ScalableVariant registers again after the endpoint.
    Equal: no type change is ahead, so register with exactly the declared scaling. A
    rollback after a failed endpoint update sends it the old template's properties while
    SageMaker still runs the old type, which registers the old scaling again.

``Custom::ScalableVariant`` (depends on the Endpoint)
    Create/Update register the target and put every policy in ``Policies`` and every
    scheduled action in ``ScheduledActions``, deleting those of the target that are no
    longer listed; Delete deregisters. Returns
    ``<PolicyName>Arn`` attributes.

After a rollback (an EventBridge rule on the stack's ``UPDATE_ROLLBACK_COMPLETE``)
    If a resource after the endpoint failed while the endpoint was being updated, the
    rollback deregisters before changing the endpoint back, and the ScalableVariant, whose
    turn never came, gets no event. Once the stack is settled, the declaration the rule's
    target holds now (the template rolled back to) is registered if the endpoint runs its
    instance type.

CDK's custom-resource Provider framework invokes this function and answers
CloudFormation with what it returns, or with FAILED when it raises, crashes or times out.
Every call is idempotent, so a retried event does the same thing twice safely. Standard
library and boto3 only.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

Event = dict[str, Any]

#: EndpointStatus values (botocore's SageMaker model) that end by themselves: wait them out.
PASSING = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
#: Seconds between two looks at an endpoint that is passing; and the time kept in hand.
POLL_SECONDS = 15
SPARE_MS = 60_000


class Aws:
    """The clients and the clock the handler works with (tests give their own)."""

    def __init__(self, autoscaling: Any, sagemaker: Any, *, remaining_ms: Callable[[], int],
                 sleep: Callable[[float], Any] = time.sleep, events: Any = None,
                 cloudformation: Any = None):
        self.autoscaling, self.sagemaker = autoscaling, sagemaker
        self.events, self.cloudformation = events, cloudformation
        self.remaining_ms, self.sleep = remaining_ms, sleep

    @classmethod
    def from_context(cls, context: Any) -> Aws:
        return cls(boto3.client("application-autoscaling"), boto3.client("sagemaker"),
                   remaining_ms=context.get_remaining_time_in_millis,
                   events=boto3.client("events"), cloudformation=boto3.client("cloudformation"))


def _target_key(props: dict[str, Any]) -> dict[str, str]:
    return {"ServiceNamespace": props.get("ServiceNamespace", "sagemaker"),
            "ResourceId": props["ResourceId"],
            "ScalableDimension": props["ScalableDimension"]}


def _registered(aas: Any, key: dict[str, str]) -> bool:
    found = aas.describe_scalable_targets(ServiceNamespace=key["ServiceNamespace"],
                                          ResourceIds=[key["ResourceId"]],
                                          ScalableDimension=key["ScalableDimension"])
    return bool(found["ScalableTargets"])


def deregister(aas: Any, key: dict[str, str]) -> bool:
    """Deregister if registered (its policies go with it). True when something was removed."""
    if not _registered(aas, key):
        return False
    try:
        aas.deregister_scalable_target(**key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ObjectNotFoundException":
            raise
        return False
    return True


def _policies(props: dict[str, Any]) -> list[dict[str, Any]]:
    """``Policies`` is one JSON string: custom resource properties would otherwise turn
    every number into a string."""
    return json.loads(props.get("Policies") or "[]")


def _scheduled_actions(props: dict[str, Any]) -> list[dict[str, Any]]:
    """``ScheduledActions``: one JSON string like ``Policies``; absent when none."""
    return json.loads(props.get("ScheduledActions") or "[]")


def apply(aas: Any, props: dict[str, Any]) -> dict[str, str]:
    """Register the target and converge its policies and scheduled actions on the
    ``Policies`` and ``ScheduledActions`` given."""
    key = _target_key(props)
    aas.register_scalable_target(**key, MinCapacity=int(props["MinCapacity"]),
                                 MaxCapacity=int(props["MaxCapacity"]))
    _converge_schedules(aas, key, _scheduled_actions(props))
    return _converge_policies(aas, key, props)


def _converge_schedules(aas: Any, key: dict[str, str], declared: list[dict[str, Any]]) -> None:
    wanted = {a["ScheduledActionName"]: a for a in declared}
    pages = aas.get_paginator("describe_scheduled_actions").paginate(**key)
    existing = [a["ScheduledActionName"] for page in pages for a in page["ScheduledActions"]]
    for name in existing:
        if name not in wanted:
            aas.delete_scheduled_action(ScheduledActionName=name, **key)
    for action in wanted.values():  # a put replaces an action of the same name
        aas.put_scheduled_action(**key, **action)


def _converge_policies(aas: Any, key: dict[str, str], props: dict[str, Any]) -> dict[str, str]:
    wanted = {p["PolicyName"]: p for p in _policies(props)}
    existing = aas.describe_scaling_policies(ServiceNamespace=key["ServiceNamespace"],
                                             ResourceId=key["ResourceId"],
                                             ScalableDimension=key["ScalableDimension"])
    for policy in existing["ScalingPolicies"]:
        if policy["PolicyName"] not in wanted:
            aas.delete_scaling_policy(PolicyName=policy["PolicyName"], **key)
    data = {}
    for name, spec in wanted.items():
        args = {k: v for k, v in spec.items() if k != "PolicyName"}
        out = aas.put_scaling_policy(PolicyName=name, **key, **args)
        data[f"{name}Arn"] = out["PolicyARN"]
    return data


def _not_found(exc: ClientError) -> bool:
    """SageMaker answers a missing endpoint or config with a ValidationException."""
    error = exc.response["Error"]
    return error["Code"] == "ValidationException" and "Could not find" in error["Message"]


def _settled_endpoint(aws: Aws, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint once the endpoint is not passing (Updating, RollingBack, ...):
    what runs mid-update is about to change, and Application Auto Scaling is not asked
    to register a variant in that state. None when there is no endpoint."""
    while True:
        try:
            endpoint: dict[str, Any] = aws.sagemaker.describe_endpoint(EndpointName=name)
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise
        if endpoint["EndpointStatus"] not in PASSING:
            return endpoint
        if aws.remaining_ms() < SPARE_MS + POLL_SECONDS * 1000:
            raise TimeoutError(f"endpoint {name} is still {endpoint['EndpointStatus']}; "
                               "retry the deployment once it is InService")
        aws.sleep(POLL_SECONDS)


def _endpoint_name(resource_id: str) -> str:
    """``endpoint/<name>/variant/<variant>`` -> ``<name>``."""
    return resource_id.split("/")[1]


def deployed_instance_type(aws: Aws, resource_id: str) -> str | None:
    """The instance type the variant of ``endpoint/<name>/variant/<variant>`` runs now;
    None when no InService endpoint runs it (none yet, Failed, OutOfService, ...)."""
    variant = resource_id.split("/", 3)[3]
    endpoint = _settled_endpoint(aws, _endpoint_name(resource_id))
    if endpoint is None or endpoint["EndpointStatus"] != "InService":
        return None
    try:
        config = aws.sagemaker.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"])
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise
    types = [variant_instance_types(v) for v in config["ProductionVariants"]
             if v["VariantName"] == variant]
    return types[0] if types else None


def variant_instance_types(variant: dict[str, Any]) -> str | None:
    """What the guard compares: the variant's InstanceType, or the types of its
    InstancePools by priority joined with ", " (a variant with pools has no InstanceType),
    as the construct writes the declared fingerprint."""
    if variant.get("InstanceType"):
        return str(variant["InstanceType"])
    pools = sorted(variant.get("InstancePools") or [], key=lambda pool: pool["Priority"])
    return ", ".join(pool["InstanceType"] for pool in pools) or None


def on_release(event: Event, aws: Aws) -> dict[str, str]:
    props = event["ResourceProperties"]
    if event["RequestType"] == "Delete":
        return {}
    deployed = deployed_instance_type(aws, props["ResourceId"])
    declared = props["Fingerprint"]
    if deployed == declared:
        apply(aws.autoscaling, props)
        action = "apply"
    else:
        action = "deregistered" if deregister(aws.autoscaling, _target_key(props)) else "none"
    LOG.info(json.dumps({"resource": "release", "target": props["ResourceId"],
                         "deployed": deployed, "declared": declared, "action": action}))
    return {}


def on_scalable_variant(event: Event, aws: Aws) -> dict[str, str]:
    props = event["ResourceProperties"]
    if event["RequestType"] == "Delete":
        deregister(aws.autoscaling, _target_key(props))
        return {}
    # right after the endpoint it is InService; SageMaker's maintenance (SystemUpdating)
    # "cannot be re-scaled" until done, so wait that out too
    _settled_endpoint(aws, _endpoint_name(props["ResourceId"]))
    data = apply(aws.autoscaling, props)
    LOG.info(json.dumps({"resource": "variant", "target": props["ResourceId"],
                         "action": "apply", "policies": sorted(data)}))
    return data


def _current_declaration(aws: Aws, rule: str) -> dict[str, Any] | None:
    """The declaration the after-rollback rule's target holds now: the event that started
    us may be a retry from before a later deployment."""
    try:
        found = aws.events.list_targets_by_rule(Rule=rule)["Targets"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return None  # autoscaling removed since
    inputs = [json.loads(t["Input"]).get("SettledStack") for t in found if "Input" in t]
    return next((i for i in inputs if i), None)


def _stack_settled(aws: Aws, stack_id: str) -> bool:
    """No operation under way: nothing of the stack deregisters or updates the endpoint."""
    (stack,) = aws.cloudformation.describe_stacks(StackName=stack_id)["Stacks"]
    status: str = stack["StackStatus"]
    return status.endswith("_COMPLETE") and "IN_PROGRESS" not in status


def after_rollback(event: Event, aws: Aws) -> dict[str, str]:
    declaration = _current_declaration(aws, event["SettledStack"]["Rule"])
    action = "none"
    if declaration and _stack_settled(aws, declaration["StackId"]):
        deployed = deployed_instance_type(aws, declaration["ResourceId"])
        if deployed == declaration["Fingerprint"]:
            apply(aws.autoscaling, declaration)
            action = "apply"
    LOG.info(json.dumps({"resource": "after-rollback", "rule": event["SettledStack"]["Rule"],
                         "action": action}))
    return {}


HANDLERS: dict[str, Callable[[Event, Aws], dict[str, str]]] = {
    "Custom::ScalingRelease": on_release,
    "Custom::ScalableVariant": on_scalable_variant,
}


def _physical_id(event: Event) -> str:
    """The scaling resource id: a rename gives a new id, so CloudFormation deletes (and we
    deregister) the old registration after the new one exists. A Delete keeps its id."""
    if event["RequestType"] == "Delete":
        return str(event["PhysicalResourceId"])
    return str(event["ResourceProperties"]["ResourceId"])


def handler(event: Event, context: Any = None, *, aws: Aws | None = None) -> dict[str, Any]:
    """Lambda entry point. Called by the Provider framework: returns the resource's
    physical id and attributes; raising makes the framework answer FAILED. Called by an
    after-rollback rule: registers what the settled stack declares."""
    LOG.info(json.dumps({k: event.get(k) for k in ("RequestType", "ResourceType",
                                                    "LogicalResourceId")}))
    if "SettledStack" in event:  # the after-rollback rule, not CloudFormation
        return after_rollback(event, aws or Aws.from_context(context))
    if _from_cloudformation(event, context):
        return _retire(event)
    kind = event["ResourceType"]
    if kind not in HANDLERS:
        raise ValueError(f"unknown resource type {kind!r}")
    data = HANDLERS[kind](event, aws or Aws.from_context(context))
    return {"PhysicalResourceId": _physical_id(event), "Data": data}


# -- resources made before the Provider ------------------------------------------------
# CloudFormation refuses to change a custom resource's ServiceToken, so the resources
# served through the Provider have new logical ids; the stack's first update with them
# deletes the old ones, whose ServiceToken is this function. Their Delete must not
# deregister (the new resources own the registration now) and must be answered here.
def _from_cloudformation(event: Event, context: Any) -> bool:
    token = event.get("ResourceProperties", {}).get("ServiceToken")
    return token is not None and token == getattr(context, "invoked_function_arn", None)


def _retire(event: Event) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        send(event, "SUCCESS", "")
    else:
        send(event, "FAILED", "this resource predates the scaling guard's Provider: "
                              "deploy the current template")
    return {}


def send(event: Event, status: str, reason: str) -> None:
    body = json.dumps({
        "Status": status, "Reason": reason or "see the function's CloudWatch logs",
        "PhysicalResourceId": event.get("PhysicalResourceId") or event["LogicalResourceId"],
        "StackId": event["StackId"], "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"], "Data": {},
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(body))})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (pre-signed S3 URL)
        response.read()
