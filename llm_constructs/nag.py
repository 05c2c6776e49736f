"""cdk-nag acknowledgements, always scoped to one finding and carrying the true reason."""

from __future__ import annotations

from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct


def nag_form(scope: IConstruct, value: str) -> str:
    """Render a (possibly tokenised) string the way cdk-nag names it in a finding id:
    ``{"Ref": "AWS::Region"}`` becomes ``<AWS::Region>``."""
    resolved = cdk.Stack.of(scope).resolve(value)
    if isinstance(resolved, str):
        return resolved
    parts = resolved.get("Fn::Join", ["", [resolved]])[1]
    return "".join(_part(p) for p in parts)


def _part(part: Any) -> str:
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return f"<{part['Ref']}>"
    if "Fn::GetAtt" in part:
        return f"<{'.'.join(part['Fn::GetAtt'])}>"
    raise ValueError(f"cannot name {part!r} as cdk-nag does")


def acknowledge(scope: IConstruct, rule: str, reason: str, *, resource: str | None = None) -> None:
    """Acknowledge AwsSolutions ``rule`` on ``scope`` (optionally one ``Resource::`` finding)."""
    finding = f"{rule}[Resource::{nag_form(scope, resource)}]" if resource else rule
    cdk.Validations.of(scope).acknowledge(
        cdk.Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason))


def acknowledge_grant(grantee: iam.IGrantable, resource: str, reason: str) -> None:
    """Acknowledge IAM5 for exactly the wildcard ``resource`` where a grant to ``grantee``
    lands: the policies of its principal (a role, a function's role, an imported role).
    A principal that is not a construct gets no policy, hence no finding."""
    principal = grantee.grant_principal
    if Construct.is_construct(principal):
        acknowledge(cast(IConstruct, principal), "AwsSolutions-IAM5", reason,
                    resource=resource)
