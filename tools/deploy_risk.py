#!/usr/bin/env python3
"""Deploy-risk guard: compare two synthesized cloud assemblies, fail on changes that hurt.

    python tools/deploy_risk.py BASE_DIR HEAD_DIR [--accept RULE,...] [--markdown FILE]

BASE_DIR and HEAD_DIR hold one cloud assembly each (``cdk.out``), or one per config in
sub-folders (``make risk`` writes ``<dir>/<config>/``). Stacks are matched by config and
name (two configs may use the same stack names, e.g. one per account), resources by
logical ID. The guard fails closed: a missing or empty assembly, a config folder without a
manifest, or cfn-lint missing or unable to say what a change replaces is an error (exit
2), never "0 findings". Each finding says what CloudFormation would do, why it hurts and
what to do instead. Rules (accept one deliberately with ``--accept <rule>``):

* ``endpoint-replaced``    an AWS::SageMaker::Endpoint would be replaced or deleted;
* ``scaled-instance-type`` the instance type of an autoscaled variant changes while nothing
                           deregisters the scalable target first (SageMaker refuses it);
* ``bucket-deleted``       an S3 bucket (async inputs/outputs, logs) would be deleted or
                           replaced without a Retain deletion policy;
* ``bucket-weakened``      encryption, public-access block or the SSL-only policy of a bucket
                           is removed or weakened;
* ``topic-weakened``       a topic loses its KMS key or its SSL-only policy;
* ``encryption-removed``   a queue, table, endpoint config or log group loses its encryption,
                           or a KMS key its rotation;
* ``iam-broadened``        an IAM statement gains a wildcard resource or action it did not
                           have, or a model loses network isolation;
* ``component-removed``    an inference component (a model or a LoRA adapter) would be
                           deleted, renamed (clients invoke it by InferenceComponentName), or
                           deleted and created again under its name (an adapter moved to
                           another base), which SageMaker refuses;
* ``rollback-removed``     an endpoint or inference component loses the alarms its
                           auto-rollback watches (AutoRollbackConfiguration removed or emptied).

Notes, printed but never blocking (nothing stored is lost; a reviewer should know):

* ``capture-stopped``      an endpoint config stops capturing data, or one side of it;
* ``capture-moved``        captures go to another S3 location from now on.

An endpoint config's capture that loses its KMS key is ``encryption-removed``; a bucket
policy that loses a Deny statement (the capture bucket's "no other writer") is
``bucket-weakened``.

Exit status: 0 no unaccepted finding, 1 findings, 2 the guard could not judge (a usage
error, a missing input or tool, an unknown rule); ``--markdown`` is written in every case.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any

RULES = ("endpoint-replaced", "scaled-instance-type", "bucket-deleted", "bucket-weakened",
         "topic-weakened", "encryption-removed", "iam-broadened", "component-removed",
         "rollback-removed")
#: Informational: reported beside the findings, never blocking, nothing to accept.
NOTES = ("capture-stopped", "capture-moved")


@dataclass(frozen=True)
class Finding:
    rule: str
    stack: str
    resource: str
    message: str

    def line(self) -> str:
        return f"[{self.rule}] {self.stack}/{self.resource}: {self.message}"


# -- reading assemblies -----------------------------------------------------------------------
class GuardError(Exception):
    """The guard cannot judge the change: a missing input or tool. Never a pass."""


def templates(directory: Path) -> dict[str, dict]:
    """``<config>/<stack name>`` (or the stack name, for a lone assembly) -> template.

    Raises ``GuardError`` when there is nothing to compare or a config folder holds no
    manifest (a synth that failed half-way must not read as "no stacks")."""
    if (directory / "manifest.json").is_file():
        return _assembly(directory, prefix="")
    if not directory.is_dir():
        raise GuardError(f"{directory}: no such directory (synthesize it first: "
                         "tools/synth_all.py --out DIR)")
    folders = sorted(p for p in directory.iterdir() if p.is_dir())
    if not folders:
        raise GuardError(f"{directory}: no cloud assembly in it (an empty synth output)")
    out: dict[str, dict] = {}
    for folder in folders:
        if not (folder / "manifest.json").is_file():
            raise GuardError(f"{folder}: no manifest.json (the synth of config "
                             f"{folder.name!r} did not finish)")
        out.update(_assembly(folder, prefix=f"{folder.name}/"))
    return out


def _assembly(folder: Path, *, prefix: str) -> dict[str, dict]:
    data = json.loads((folder / "manifest.json").read_text())
    out = {}
    for art in data.get("artifacts", {}).values():
        if art.get("type") != "aws:cloudformation:stack":
            continue
        props = art["properties"]
        name = props.get("stackName") or props["templateFile"].removesuffix(".template.json")
        out[prefix + name] = json.loads((folder / props["templateFile"]).read_text())
    return out


def _schemas() -> Any:
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    except ImportError as exc:
        raise GuardError(f"cfn-lint is needed to tell which changes replace a resource "
                         f"({exc}); install requirements-risk.txt (make risk-setup)") from exc
    return PROVIDER_SCHEMA_MANAGER


def _create_only(type_: str) -> set[str]:
    """Top-level properties whose change replaces a resource (cfn-lint's provider schemas).
    Custom resources have none; an AWS type cfn-lint does not know is an error."""
    if not type_.startswith("AWS::"):
        return set()
    manager = _schemas()
    try:
        schema = manager.get_resource_schema("us-east-1", type_).schema
    except Exception as exc:  # ResourceNotFoundError and anything else: cannot judge
        raise GuardError(f"cfn-lint has no schema for {type_} ({exc}); without it the guard "
                         "cannot tell whether a change replaces the resource: upgrade "
                         "cfn-lint (requirements-dev.txt)") from exc
    return {p.split("/")[2] for p in schema.get("createOnlyProperties", [])}


def _replaced(old: dict, new: dict) -> list[str]:
    return sorted(p for p in _create_only(old["Type"])
                  if old.get("Properties", {}).get(p) != new.get("Properties", {}).get(p))


def _statements(doc: Any) -> list[dict]:
    if not isinstance(doc, dict):
        return []
    st = doc.get("Statement", [])
    return st if isinstance(st, list) else [st]


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def _ssl_only(policy_doc: Any) -> bool:
    return any(s.get("Effect") == "Deny" and "aws:SecureTransport" in json.dumps(s.get("Condition"))
               for s in _statements(policy_doc))


def _policies_on(template: dict, type_: str, key: str, target: str) -> list[dict]:
    """Policy documents of ``type_`` resources whose ``key`` refers to logical ID ``target``."""
    docs = []
    for res in template.get("Resources", {}).values():
        if res.get("Type") == type_ and f'"{target}"' in json.dumps(res["Properties"].get(key)):
            docs.append(res["Properties"].get("PolicyDocument"))
    return docs


def _lost_ssl_only(old_t: dict, new_t: dict, type_: str, key: str, target: str) -> bool:
    """Whether ``target``'s policies (``type_`` resources naming it under ``key``) denied
    requests without TLS before and no longer do."""
    def ssl_only(t: dict) -> bool:
        return any(_ssl_only(d) for d in _policies_on(t, type_, key, target))
    return ssl_only(old_t) and not ssl_only(new_t)


# -- rules ------------------------------------------------------------------------------------
def compare(base: dict[str, dict], head: dict[str, dict]) -> list[Finding]:
    findings: list[Finding] = []
    for stack, old_t in base.items():
        new_t = head.get(stack, {"Resources": {}})
        gone_stack = stack not in head
        old_r, new_r = old_t.get("Resources", {}), new_t.get("Resources", {})
        for lid, old in old_r.items():
            new = new_r.get(lid)
            findings += _lifecycle(stack, lid, old, new, gone_stack)
            if new is not None and new.get("Type") == old.get("Type"):
                findings += _weakening(stack, lid, old, new, old_t, new_t)
        findings += _components_removed(stack, old_r, new_r, gone_stack)
        findings += _instance_type_changes(stack, old_t, new_t)
        findings += _iam_broadening(stack, old_t, new_t)
    return findings


def _lifecycle(stack: str, lid: str, old: dict, new: dict | None,
               gone_stack: bool) -> Iterator[Finding]:
    type_ = old.get("Type")
    if type_ == "AWS::SageMaker::Endpoint":
        name = old.get("Properties", {}).get("EndpointName", lid)
        if new is None:
            where = "the whole stack is removed" if gone_stack else "it is no longer in the stack"
            yield Finding("endpoint-replaced", stack, lid,
                          f"endpoint {name!r} would be DELETED ({where}); clients lose it. "
                          "If intended, accept the rule for this change.")
        elif _replaced(old, new):
            yield Finding("endpoint-replaced", stack, lid,
                          f"endpoint {name!r} would be REPLACED (changed: "
                          f"{', '.join(_replaced(old, new))}): a new endpoint is created and the "
                          "old one deleted, with downtime and a new name for clients; keep "
                          "EndpointName stable and change the endpoint config instead.")
    elif type_ == "AWS::S3::Bucket":
        retained = "Retain" in (old.get("DeletionPolicy"), old.get("UpdateReplacePolicy"))
        if new is None and not retained:
            yield Finding("bucket-deleted", stack, lid,
                          "bucket would be DELETED with everything in it (async requests, "
                          "results, logs) and its DeletionPolicy is not Retain; export the data "
                          "or set removal_policy: retain first.")
        elif new is not None and _replaced(old, new) and not retained:
            yield Finding("bucket-deleted", stack, lid,
                          f"bucket would be REPLACED (changed: {', '.join(_replaced(old, new))}): "
                          "a new empty bucket is created and the old one deleted.")


def _components_removed(stack: str, old_r: dict, new_r: dict,
                        gone_stack: bool) -> Iterator[Finding]:
    """Inference components (models and LoRA adapters) deleted, renamed, or deleted and
    created again under the same name. cfn-lint 1.58 gives AWS::SageMaker::InferenceComponent
    no create-only property, so the replacement rule never sees them. With the whole stack
    gone, ``endpoint-replaced`` says it already."""
    if gone_stack:
        return
    added = {json.dumps(_component_name(r, lid)): lid for lid, r in new_r.items()
             if r.get("Type") == "AWS::SageMaker::InferenceComponent" and lid not in old_r}
    for lid, old in old_r.items():
        if old.get("Type") == "AWS::SageMaker::InferenceComponent":
            yield from _component_removed(stack, lid, old, new_r.get(lid), added)


def _component_name(resource: dict, lid: str) -> Any:
    return resource.get("Properties", {}).get("InferenceComponentName", lid)


def _component_removed(stack: str, lid: str, old: dict, new: dict | None,
                       added: dict[str, str]) -> Iterator[Finding]:
    """One component gone from the config, renamed (its logical ID follows the config
    name), moved (an adapter under another base: a new logical ID, the same name), or given
    another InferenceComponentName."""
    name = _component_name(old, lid)
    again = added.get(json.dumps(name))
    if new is None and again is not None:
        yield Finding("component-removed", stack, lid,
                      f"inference component {name!r} would be created again as {again} under "
                      "the same name: CloudFormation creates the new one before it deletes "
                      "this one, and SageMaker refuses a second component of that name, so "
                      "the update fails. Remove it in one deployment and add it in the next.")
    elif new is None:
        yield Finding("component-removed", stack, lid,
                      f"inference component {name!r} would be DELETED: clients invoking it "
                      "by InferenceComponentName get errors. If intended (or renamed on "
                      "purpose), accept the rule for this change.")
    elif _component_name(new, lid) != name:
        yield Finding("component-removed", stack, lid,
                      f"inference component {name!r} would be RENAMED to "
                      f"{_component_name(new, lid)!r}: clients invoking the old name get "
                      "errors; keep the component and endpoint names stable, or accept the "
                      "rule and move the clients.")


#: Resource type -> (rule, "is it protected?", what losing it means): a protection the old
#: template has and the new one lacks is a finding.
_PROTECTIONS: dict[str, tuple[str, Callable[[dict], object], str]] = {
    "AWS::SQS::Queue": (
        "encryption-removed", lambda p: p.get("KmsMasterKeyId") or p.get("SqsManagedSseEnabled"),
        "queue loses server-side encryption."),
    "AWS::DynamoDB::Table": (
        "encryption-removed", lambda p: (p.get("SSESpecification") or {}).get("SSEEnabled"),
        "table goes back from a KMS key to the default encryption."),
    "AWS::SageMaker::EndpointConfig": (
        "encryption-removed", lambda p: p.get("KmsKeyId"),
        "endpoint config drops its KMS key (storage volume, async outputs)."),
    "AWS::KMS::Key": (
        "encryption-removed", lambda p: p.get("EnableKeyRotation"),
        "KMS key rotation is turned off."),
    "AWS::Logs::LogGroup": (
        "encryption-removed", lambda p: p.get("KmsKeyId"), "log group loses its KMS key."),
    "AWS::SageMaker::Model": (
        "iam-broadened", lambda p: p.get("EnableNetworkIsolation"),
        "model loses network isolation: the container may reach the network."),
}


def _weakening(stack: str, lid: str, old: dict, new: dict, old_t: dict,
               new_t: dict) -> Iterator[Finding]:
    type_, before, after = old["Type"], old.get("Properties", {}), new.get("Properties", {})
    if type_ == "AWS::S3::Bucket":
        yield from _bucket_weakening(stack, lid, before, after, old_t, new_t)
    elif type_ == "AWS::SNS::Topic":
        yield from _topic_weakening(stack, lid, before, after, old_t, new_t)
    elif type_ in _PROTECTIONS:
        rule, protected, what = _PROTECTIONS[type_]
        if protected(before) and not protected(after):
            yield Finding(rule, stack, lid, what)
    if type_ == "AWS::SageMaker::EndpointConfig":
        yield from _capture_key_lost(stack, lid, before, after)
    if type_ in ("AWS::SageMaker::Endpoint", "AWS::SageMaker::InferenceComponent"):
        yield from _rollback_removed(stack, lid, type_, before, after)


def _rollback_alarms(props: dict) -> list:
    deployment = props.get("DeploymentConfig") or {}
    return (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms") or []


def _rollback_removed(stack: str, lid: str, type_: str, before: dict,
                      after: dict) -> Iterator[Finding]:
    """Guardrails (an endpoint's blue/green) and rolling updates (a component's) roll back
    on alarms; without them a bad update stays deployed."""
    if _rollback_alarms(before) and not _rollback_alarms(after):
        what = "endpoint" if type_.endswith("::Endpoint") else "inference component"
        yield Finding("rollback-removed", stack, lid,
                      f"{what} loses its auto-rollback (AutoRollbackConfiguration had "
                      f"{len(_rollback_alarms(before))} alarm(s), now none): a bad update "
                      "stays deployed until someone notices; keep auto_rollback and alarms "
                      "on, or accept the rule.")


def _capturing(props: dict) -> dict | None:
    """The DataCaptureConfig of an endpoint config when it captures (EnableCapture defaults
    to true), else None."""
    capture = props.get("DataCaptureConfig")
    return capture if capture and capture.get("EnableCapture", True) is not False else None


def _capture_key_lost(stack: str, lid: str, before: dict, after: dict) -> Iterator[Finding]:
    """Captures hold whole prompts and responses: encrypted with the given key before,
    with whatever the destination bucket defaults to after."""
    old, new = _capturing(before), _capturing(after)
    if old and new and old.get("KmsKeyId") and not new.get("KmsKeyId"):
        yield Finding("encryption-removed", stack, lid,
                      "endpoint config's data capture drops its KMS key (DataCaptureConfig."
                      "KmsKeyId): captured prompts and responses are encrypted as the "
                      "destination bucket's default says, no longer with that key; set "
                      "data_capture.kms_key_arn, or accept the rule.")


def _bucket_weakening(stack: str, lid: str, before: dict, after: dict, old_t: dict,
                      new_t: dict) -> Iterator[Finding]:
    old_encryption = json.dumps(before.get("BucketEncryption"))
    new_encryption = json.dumps(after.get("BucketEncryption"))
    if "aws:kms" in old_encryption and "aws:kms" not in new_encryption:
        yield Finding("bucket-weakened", stack, lid,
                      "bucket encryption changes from SSE-KMS to "
                      f"{'SSE-S3' if 'AES256' in new_encryption else 'none'}; objects lose the "
                      "KMS key's access control and audit.")
    elif before.get("BucketEncryption") and not after.get("BucketEncryption"):
        yield Finding("bucket-weakened", stack, lid, "bucket encryption is removed.")
    old_block = before.get("PublicAccessBlockConfiguration") or {}
    new_block = after.get("PublicAccessBlockConfiguration") or {}
    opened = [k for k, v in old_block.items() if v is True and new_block.get(k) is not True]
    if opened:
        yield Finding("bucket-weakened", stack, lid,
                      f"public access block loosened: {', '.join(sorted(opened))} no longer "
                      "true; the bucket could become public.")
    if _lost_ssl_only(old_t, new_t, "AWS::S3::BucketPolicy", "Bucket", lid):
        yield Finding("bucket-weakened", stack, lid,
                      "the bucket policy no longer denies requests without TLS (SSL-only).")
    lost = _denials(old_t, lid) - _denials(new_t, lid)
    if lost:
        yield Finding("bucket-weakened", stack, lid,
                      f"the bucket policy loses its Deny statement(s) {', '.join(sorted(lost))}"
                      " (e.g. the capture bucket's NoOtherWriter): principals it kept out "
                      "may act again.")


def _denials(template: dict, bucket: str) -> set[str]:
    """The Deny statements of ``bucket``'s policies, by Sid (else by their actions), except
    the SSL-only one, which has its own finding."""
    return {s.get("Sid") or json.dumps(s.get("Action"), sort_keys=True)
            for doc in _policies_on(template, "AWS::S3::BucketPolicy", "Bucket", bucket)
            for s in _statements(doc)
            if s.get("Effect") == "Deny" and not _ssl_only({"Statement": [s]})}


def _topic_weakening(stack: str, lid: str, before: dict, after: dict, old_t: dict,
                     new_t: dict) -> Iterator[Finding]:
    if before.get("KmsMasterKeyId") and not after.get("KmsMasterKeyId"):
        yield Finding("topic-weakened", stack, lid,
                      "topic loses its KMS key: messages (which can carry inference "
                      "results) are stored unencrypted by a key you control.")
    if _lost_ssl_only(old_t, new_t, "AWS::SNS::TopicPolicy", "Topics", lid):
        yield Finding("topic-weakened", stack, lid,
                      "the topic policy no longer denies publishing without TLS.")


def _variants(template: dict) -> dict[str, str]:
    """Endpoint name/variant -> instance type, via Endpoint -> EndpointConfig."""
    res = template.get("Resources", {})
    out = {}
    for lid, r in res.items():
        if r.get("Type") != "AWS::SageMaker::Endpoint":
            continue
        name = r["Properties"].get("EndpointName", lid)
        ref = json.dumps(r["Properties"].get("EndpointConfigName"))
        for clid, c in res.items():
            if c.get("Type") == "AWS::SageMaker::EndpointConfig" and f'"{clid}"' in ref:
                for v in c["Properties"].get("ProductionVariants", []):
                    if "InstanceType" in v or "InstancePools" in v:
                        out[f"{name}/{v['VariantName']}"] = _instance_types(v)
    return out


def _instance_types(variant: dict) -> str:
    """A variant's instance type, or its instance pools' types by priority (``a, b``):
    a change of either is an instance-type change."""
    if "InstanceType" in variant:
        return str(variant["InstanceType"])
    pools = sorted(variant["InstancePools"], key=lambda pool: pool.get("Priority", 0))
    return ", ".join(str(pool["InstanceType"]) for pool in pools)


def _instance_type_changes(stack: str, old_t: dict, new_t: dict) -> Iterator[Finding]:
    before, after = _variants(old_t), _variants(new_t)
    text = json.dumps(new_t.get("Resources", {}))
    for key, itype in before.items():
        if key not in after or after[key] == itype:
            continue
        name, variant = key.split("/", 1)
        native = any(r.get("Type") == "AWS::ApplicationAutoScaling::ScalableTarget"
                     and f"endpoint/{name}/variant/{variant}" in json.dumps(r["Properties"])
                     for r in list(old_t.get("Resources", {}).values())
                     + list(new_t.get("Resources", {}).values()))
        guarded = "Custom::ScalingRelease" in text
        if native and not guarded:
            yield Finding("scaled-instance-type", stack, key,
                          f"instance type {itype} -> {after[key]} on a variant registered with "
                          "Application Auto Scaling: SageMaker rejects the endpoint update "
                          "(deregister first) and the stack rolls back. Use LlmEndpoint's "
                          "scaling (the scaling guard deregisters and registers again).")


# -- notes (informational) --------------------------------------------------------------------
def notes(base: dict[str, dict], head: dict[str, dict]) -> list[Finding]:
    """What a reviewer should know and nothing blocks: an endpoint config (same logical
    ID) that stops capturing, or captures less, or elsewhere. Captures stored so far stay
    (a capture bucket deleted with the stack is ``bucket-deleted``)."""
    out: list[Finding] = []
    for stack, old_t in base.items():
        new_r = head.get(stack, {}).get("Resources", {})
        for lid, old in old_t.get("Resources", {}).items():
            new = new_r.get(lid)
            if old.get("Type") == "AWS::SageMaker::EndpointConfig" and new is not None:
                out += _capture_notes(stack, lid, _capturing(old.get("Properties", {})),
                                      _capturing(new.get("Properties", {})))
    return out


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else "a location made at deploy time " \
        f"({json.dumps(value)[:120]})"


def _capture_notes(stack: str, lid: str, old: dict | None,
                   new: dict | None) -> Iterator[Finding]:
    if old is None:
        return
    where = _shown(old.get("DestinationS3Uri"))
    if new is None:
        yield Finding("capture-stopped", stack, lid,
                      "endpoint config stops data capture: requests from now on are not "
                      f"captured; those captured so far stay in {where}.")
        return
    def modes(c: dict) -> set[str]:
        return {o.get("CaptureMode") for o in c.get("CaptureOptions", [])}
    dropped = modes(old) - modes(new)
    if dropped:
        yield Finding("capture-stopped", stack, lid,
                      f"data capture no longer records {' and '.join(sorted(dropped))}.")
    if old.get("DestinationS3Uri") != new.get("DestinationS3Uri"):
        yield Finding("capture-moved", stack, lid,
                      f"captures go to {_shown(new.get('DestinationS3Uri'))} from now on; "
                      f"those so far stay in {where} (readers of CaptureLocation must follow).")


def _wild(values: list[str]) -> set[str]:
    return {v for v in values if isinstance(v, str) and (v == "*" or v.endswith(":*"))}


_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role")


def _iam_broadening(stack: str, old_t: dict, new_t: dict) -> Iterator[Finding]:
    def grants(t: dict) -> dict[str, set[tuple[str, str]]]:
        out: dict[str, set[tuple[str, str]]] = {}
        for lid, r in t.get("Resources", {}).items():
            if r.get("Type") not in _POLICY_TYPES:
                continue
            docs = [r["Properties"].get("PolicyDocument")] + [
                p.get("PolicyDocument") for p in r["Properties"].get("Policies", [])]
            pairs = set()
            for doc in docs:
                for s in _statements(doc):
                    if s.get("Effect") != "Allow":
                        continue
                    for a in _as_list(s.get("Action", [])):
                        for res in _as_list(s.get("Resource", [])):
                            pairs.add((a if isinstance(a, str) else json.dumps(a),
                                       res if isinstance(res, str) else json.dumps(res)))
            out[lid] = pairs
        return out
    before, after = grants(old_t), grants(new_t)
    for lid, pairs in after.items():
        old_pairs = before.get(lid, set())
        new_wild = {(a, r) for a, r in pairs - old_pairs
                    if r == "*" or a == "*" or a.endswith(":*")}
        old_wild_actions = {a for a, r in old_pairs if r == "*"}
        new_wild = {(a, r) for a, r in new_wild if not (r == "*" and a in old_wild_actions)}
        if new_wild:
            shown = ", ".join(f"{a} on {r}" for a, r in sorted(new_wild)[:5])
            yield Finding("iam-broadened", stack, lid,
                          f"IAM grants widen to wildcards: {shown}"
                          f"{' ...' if len(new_wild) > 5 else ''}; name the resources instead.")


# -- command line -----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", type=Path)
    ap.add_argument("head", type=Path)
    ap.add_argument("--accept", default="", help="comma-separated rules accepted on purpose")
    ap.add_argument("--markdown", type=Path, help="also write the report as Markdown here")
    args = ap.parse_args(argv)
    try:
        summary, lines, blocking = _judge(args.base, args.head, args.accept)
    except GuardError as exc:
        print(f"deploy-risk guard: cannot judge this change: {exc}", file=sys.stderr)
        _markdown(args.markdown, f"**The guard could not judge this change** (it fails "
                  f"closed): {exc}", [])
        return 2
    print(summary)
    for line in lines:
        print("  " + line)
    _markdown(args.markdown, summary, lines)
    return 1 if blocking else 0


def accepted_rules(accept: str) -> set[str]:
    """The rules named in ``--accept`` (comma- or space-separated); an unknown name is an
    error that lists the known ones (a mistyped label must not pass silently)."""
    names = {r.strip() for r in accept.replace(" ", ",").split(",") if r.strip()}
    unknown = names - set(RULES)
    if unknown:
        raise GuardError(f"unknown rule(s) to accept: {', '.join(sorted(unknown))}; "
                         f"known rules: {', '.join(RULES)}")
    return names


def _judge(base_dir: Path, head_dir: Path, accept: str) -> tuple[str, list[str], list[Finding]]:
    accepted = accepted_rules(accept)
    _schemas()  # the tool is checked even when no change needs it: a broken job fails now
    base, head = templates(base_dir), templates(head_dir)
    findings, noted = compare(base, head), notes(base, head)
    blocking = [f for f in findings if f.rule not in accepted]
    lines = [f.line() + ("  (accepted)" if f.rule in accepted else "") for f in findings]
    lines += [f.line() + "  (note)" for f in noted]
    summary = (f"deploy-risk guard: {len(base)} stack(s) before, {len(head)} after; "
               f"{len(findings)} finding(s), {len(blocking)} blocking"
               + (f"; {len(noted)} note(s), never blocking" if noted else ""))
    return summary, lines, blocking


def _markdown(path: Path | None, summary: str, lines: list[str]) -> None:
    if path is not None:
        md = ["### Deploy-risk guard", "", summary, ""] + [f"- `{ln}`" for ln in lines]
        path.write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    sys.exit(main())
