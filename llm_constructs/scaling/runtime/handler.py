"""CloudFormation custom resource that keeps SageMaker variant autoscaling update-safe.

SageMaker refuses to update an endpoint so that an autoscaled variant changes instance
type while the variant is registered with Application Auto Scaling, and CloudFormation
cannot order "deregister, update endpoint, register again" with its native resources.
Two resources of this handler do it inside one deployment:

``Custom::ScalingRelease`` (the Endpoint depends on it)
    On Update, when ``Fingerprint`` (the variant's instance type) changed: deregister the
    scalable target, so the endpoint update that follows is accepted.

``Custom::ScalableVariant`` (depends on the Endpoint)
    Owns the registration: Create/Update register the target (``MinCapacity``,
    ``MaxCapacity``) and put every policy in ``Policies``, deleting policies of the target
    that are no longer listed; Delete deregisters. Returns ``<PolicyName>Arn`` attributes.

Every call is idempotent, so a retried event does the same thing twice safely. Standard
library and boto3 only.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

Event = dict[str, Any]


def _client() -> Any:
    return boto3.client("application-autoscaling")


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


def apply(aas: Any, props: dict[str, Any]) -> dict[str, str]:
    """Register the target and converge its policies on the ``Policies`` given."""
    key = _target_key(props)
    aas.register_scalable_target(**key, MinCapacity=int(props["MinCapacity"]),
                                 MaxCapacity=int(props["MaxCapacity"]))
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


def on_release(event: Event, aas: Any) -> dict[str, str]:
    props = event["ResourceProperties"]
    if event["RequestType"] == "Update":
        old = event.get("OldResourceProperties", {})
        if old.get("Fingerprint") != props.get("Fingerprint"):
            removed = deregister(aas, _target_key(props))
            LOG.info(json.dumps({"action": "release", "resource": props["ResourceId"],
                                 "deregistered": removed, "from": old.get("Fingerprint"),
                                 "to": props.get("Fingerprint")}))
    return {}


def on_scalable_variant(event: Event, aas: Any) -> dict[str, str]:
    props = event["ResourceProperties"]
    if event["RequestType"] == "Delete":
        deregister(aas, _target_key(props))
        return {}
    data = apply(aas, props)
    LOG.info(json.dumps({"action": "apply", "resource": props["ResourceId"],
                         "policies": sorted(data)}))
    return data


HANDLERS: dict[str, Callable[[Event, Any], dict[str, str]]] = {
    "Custom::ScalingRelease": on_release,
    "Custom::ScalableVariant": on_scalable_variant,
}


def _physical_id(event: Event) -> str:
    """The scaling resource id: a rename gives a new id, so CloudFormation deletes (and we
    deregister) the old registration after the new one exists."""
    props = event.get("ResourceProperties", {})
    return props.get("ResourceId") or event.get("PhysicalResourceId") or event["LogicalResourceId"]


def send(event: Event, status: str, data: dict[str, str], reason: str = "") -> None:
    body = json.dumps({
        "Status": status,
        "Reason": reason[:3000] or "see the function's CloudWatch logs",
        "PhysicalResourceId": _physical_id(event),
        "StackId": event["StackId"], "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"], "Data": data,
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(body))})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (pre-signed S3 URL)
        response.read()


def handler(event: Event, context: Any = None, *, aas: Any = None) -> dict[str, str]:
    """Lambda entry point. Always answers CloudFormation, also on failure."""
    LOG.info(json.dumps({k: event.get(k) for k in ("RequestType", "ResourceType",
                                                    "LogicalResourceId")}))
    try:
        data = HANDLERS[event["ResourceType"]](event, aas or _client())
    except Exception as exc:  # noqa: BLE001 - CloudFormation must hear about every failure
        LOG.exception("failed")
        send(event, "FAILED", {}, f"{type(exc).__name__}: {exc}")
        return {}
    send(event, "SUCCESS", data)
    return data
