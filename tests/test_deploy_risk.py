"""Issue 7: the deploy-risk guard, one before/after pair per rule."""

from __future__ import annotations

import copy
import json

import pytest

from tests.helpers import dev_with, synthesize, synthesize_data
from tools import deploy_risk as risk


def rules(base: dict, head: dict) -> list[str]:
    return sorted({f.rule for f in risk.compare(base, head)})


@pytest.fixture(scope="module")
def dev() -> dict:
    return synthesize("dev").templates


def edit(templates: dict, stack_suffix: str, fn) -> dict:
    out = copy.deepcopy(templates)
    (name,) = [n for n in out if n.endswith(stack_suffix)]
    fn(out[name]["Resources"])
    return out


def of_type(res: dict, type_: str) -> list[dict]:
    return [r for r in res.values() if r["Type"] == type_]


def test_no_change_no_finding(dev):
    assert risk.compare(dev, copy.deepcopy(dev)) == []


def test_safe_changes_pass():
    """Instance type of an autoscaled variant (the scaling guard handles it), the TGI
    version, tokens: Model and EndpointConfig replaced, the Endpoint updated in place."""
    after = synthesize_data(dev_with(**{"endpoints.0.instance_type": "ml.g5.4xlarge",
                                        "endpoints.0.image": {"tgi": "3.2.3"}})).templates
    base = dict(synthesize_data(dev_with()).templates)
    assert rules(base, after) == []


def test_endpoint_replaced_by_a_new_name():
    base = synthesize_data(dev_with()).templates
    head = synthesize_data(dev_with(**{"endpoints.0.endpoint_name": "chat-v2"})).templates
    findings = risk.compare(base, head)
    assert [f.rule for f in findings] == ["endpoint-replaced"]
    assert "REPLACED (changed: EndpointName)" in findings[0].message


def test_endpoint_deleted_with_its_stack(dev):
    head = {k: v for k, v in dev.items() if not k.endswith("-endpoint-batch")}
    findings = risk.compare(dev, head)
    assert {f.rule for f in findings} >= {"endpoint-replaced", "bucket-deleted"}
    assert any("whole stack is removed" in f.message for f in findings)


def _native_target(res: dict) -> None:
    """What a plain CDK app would have: a native scalable target, no scaling guard."""
    res["NativeTarget"] = {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {"ResourceId": "endpoint/llm-dev-chat/variant/AllTraffic",
                       "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                       "ServiceNamespace": "sagemaker", "MinCapacity": 1, "MaxCapacity": 2}}
    for k in [k for k, r in res.items() if r["Type"].startswith("Custom::Scal")]:
        del res[k]


def test_scaled_instance_type_change_without_the_guard(dev):
    native = _native_target
    base = edit(dev, "-endpoint-chat", native)

    def bigger(res):
        native(res)
        for c in of_type(res, "AWS::SageMaker::EndpointConfig"):
            c["Properties"]["ProductionVariants"][0]["InstanceType"] = "ml.g5.4xlarge"
    head = edit(dev, "-endpoint-chat", bigger)
    findings = risk.compare(base, head)
    assert [f.rule for f in findings] == ["scaled-instance-type"]
    assert "ml.g5.2xlarge -> ml.g5.4xlarge" in findings[0].message


def test_bucket_deleted_or_retained(dev):
    def drop_buckets(res):
        for k in [k for k, r in res.items() if r["Type"] == "AWS::S3::Bucket"]:
            del res[k]
    head = edit(dev, "-endpoint-batch", drop_buckets)
    assert "bucket-deleted" in rules(dev, head)

    def retain(res):
        for r in of_type(res, "AWS::S3::Bucket"):
            r["DeletionPolicy"] = "Retain"
    retained = edit(dev, "-endpoint-batch", retain)
    assert "bucket-deleted" not in rules(retained, edit(retained, "-endpoint-batch", drop_buckets))


def test_bucket_weakened(dev):
    def weaken(res):
        for r in of_type(res, "AWS::S3::Bucket"):
            if "aws:kms" in json.dumps(r["Properties"].get("BucketEncryption")):
                r["Properties"]["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
                r["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] = False
        for r in of_type(res, "AWS::S3::BucketPolicy"):
            r["Properties"]["PolicyDocument"]["Statement"] = [
                s for s in r["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] != "Deny"]
    findings = [f for f in risk.compare(dev, edit(dev, "-endpoint-batch", weaken))
                if f.rule == "bucket-weakened"]
    text = " ".join(f.message for f in findings)
    assert "SSE-KMS to SSE-S3" in text and "BlockPublicPolicy" in text and "TLS" in text


def test_topic_weakened(dev):
    def weaken(res):
        for r in of_type(res, "AWS::SNS::Topic"):
            del r["Properties"]["KmsMasterKeyId"]
        for r in of_type(res, "AWS::SNS::TopicPolicy"):
            r["Properties"]["PolicyDocument"]["Statement"] = []
    findings = risk.compare(dev, edit(dev, "-endpoint-batch", weaken))
    assert {f.rule for f in findings} == {"topic-weakened"}
    assert len(findings) == 4  # two topics: key and TLS policy each


def test_encryption_removed(dev):
    def weaken(res):
        for r in of_type(res, "AWS::SQS::Queue"):
            r["Properties"].pop("SqsManagedSseEnabled", None)
        for r in of_type(res, "AWS::KMS::Key"):
            r["Properties"]["EnableKeyRotation"] = False
    findings = risk.compare(dev, edit(dev, "-endpoint-batch", weaken))
    assert {f.rule for f in findings} == {"encryption-removed"}
    assert any("rotation" in f.message for f in findings)


def test_iam_broadened(dev):
    def widen(res):
        (policy,) = [r for k, r in res.items()
                     if r["Type"] == "AWS::IAM::Policy" and k.startswith("ExecutionRolePolicy")]
        policy["Properties"]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    findings = risk.compare(dev, edit(dev, "-endpoint-chat", widen))
    assert [f.rule for f in findings] == ["iam-broadened"]
    assert "s3:* on *" in findings[0].message


def test_network_isolation_removed(prod):
    def open_(res):
        for r in of_type(res, "AWS::SageMaker::Model"):
            r["Properties"]["EnableNetworkIsolation"] = False
    base = prod.templates
    assert rules(base, edit(base, "-endpoint-chat", open_)) == ["iam-broadened"]


def test_command_line_accepts_a_rule_and_writes_markdown(tmp_path):
    base = synthesize_data(dev_with()).outdir
    head = synthesize_data(dev_with(**{"endpoints.0.endpoint_name": "chat-v2"})).outdir
    md = tmp_path / "risk.md"
    assert risk.main([str(base), str(head), "--markdown", str(md)]) == 1
    assert "endpoint-replaced" in md.read_text()
    assert risk.main([str(base), str(head), "--accept", "endpoint-replaced"]) == 0
    assert risk.main([str(base), str(head), "--accept", "nonsense"]) == 2


# -- issue 18: the guard fails closed ---------------------------------------------------------
def write_assembly(folder, templates: dict) -> None:
    """A cloud assembly on disk as ``cdk synth`` writes one: manifest.json + templates."""
    folder.mkdir(parents=True)
    artifacts = {}
    for name, template in templates.items():
        (folder / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {"type": "aws:cloudformation:stack",
                           "properties": {"templateFile": f"{name}.template.json"}}
    (folder / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))


def rename_endpoint(res):
    for r in of_type(res, "AWS::SageMaker::Endpoint"):
        r["Properties"]["EndpointName"] = "llm-dev-chat-v2"


def test_two_configs_with_the_same_stack_names_are_compared_each_with_its_own(dev, tmp_path):
    """One config per account, same ``project``: the second no longer overwrites the first."""
    renamed = edit(dev, "-endpoint-chat", rename_endpoint)
    write_assembly(tmp_path / "base" / "dev-eu", dev)
    write_assembly(tmp_path / "base" / "dev-us", dev)
    write_assembly(tmp_path / "head" / "dev-eu", renamed)   # the rename is in this one only
    write_assembly(tmp_path / "head" / "dev-us", dev)
    base, head = risk.templates(tmp_path / "base"), risk.templates(tmp_path / "head")
    assert "dev-eu/llm-dev-endpoint-chat" in base and "dev-us/llm-dev-endpoint-chat" in base
    findings = risk.compare(base, head)
    assert [(f.rule, f.stack) for f in findings] == [
        ("endpoint-replaced", "dev-eu/llm-dev-endpoint-chat")]
    assert risk.main([str(tmp_path / "base"), str(tmp_path / "head")]) == 1


@pytest.mark.parametrize("layout", ["missing", "empty", "half-written"])
def test_a_missing_or_broken_input_is_an_error_not_a_pass(dev, tmp_path, layout, capsys):
    write_assembly(tmp_path / "head" / "dev", dev)
    base = tmp_path / "base"
    if layout != "missing":
        base.mkdir()
    if layout == "half-written":
        (base / "dev").mkdir()  # a synth that died before writing its manifest
    md = tmp_path / "risk.md"
    assert risk.main([str(base), str(tmp_path / "head"), "--markdown", str(md)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deploy-risk guard: cannot judge this change: ")
    assert {"missing": "no such directory", "empty": "no cloud assembly",
            "half-written": "no manifest.json"}[layout] in err
    assert "could not judge" in md.read_text()


def test_without_cfn_lint_the_guard_fails_instead_of_passing(dev, tmp_path, monkeypatch, capsys):
    write_assembly(tmp_path / "base" / "dev", dev)
    write_assembly(tmp_path / "head" / "dev", edit(dev, "-endpoint-chat", rename_endpoint))
    monkeypatch.setitem(__import__("sys").modules, "cfnlint.schema", None)  # not importable
    assert risk.main([str(tmp_path / "base"), str(tmp_path / "head")]) == 2
    assert "cfn-lint is needed" in capsys.readouterr().err
    # and even for a change that needs no replacement check
    write_assembly(tmp_path / "same" / "dev", dev)
    assert risk.main([str(tmp_path / "base"), str(tmp_path / "same")]) == 2


def test_an_aws_type_cfn_lint_does_not_know_cannot_be_judged():
    with pytest.raises(risk.GuardError, match="no schema for AWS::SageMaker::Nonexistent"):
        risk._create_only("AWS::SageMaker::Nonexistent")
    assert risk._create_only("Custom::ScalingRelease") == set()
    assert risk._create_only("AWS::SageMaker::Endpoint") == {"EndpointName"}


def test_a_mistyped_accept_label_names_the_known_rules(dev, tmp_path, capsys):
    write_assembly(tmp_path / "base" / "dev", dev)
    write_assembly(tmp_path / "head" / "dev", dev)
    md = tmp_path / "risk.md"
    assert risk.main([str(tmp_path / "base"), str(tmp_path / "head"), "--accept",
                      "endpoint-replace", "--markdown", str(md)]) == 2
    err = capsys.readouterr().err
    assert "unknown rule(s) to accept: endpoint-replace; known rules: endpoint-replaced, " in err
    assert "endpoint-replace;" in md.read_text()
    assert risk.accepted_rules("endpoint-replaced bucket-deleted,") == {
        "endpoint-replaced", "bucket-deleted"}


def test_an_instance_type_change_through_instance_pools_is_one_too(dev):
    """A variant with InstancePools names no InstanceType: moving to pools, or reordering
    them, changes the type SageMaker launches first (issue 16, item 5)."""
    native = _native_target

    def pools(*types):
        def change(res):
            native(res)
            for c in of_type(res, "AWS::SageMaker::EndpointConfig"):
                variant = c["Properties"]["ProductionVariants"][0]
                del variant["InstanceType"]
                variant["InstancePools"] = [{"InstanceType": t, "Priority": i}
                                            for i, t in enumerate(types, start=1)]
        return change
    base = edit(dev, "-endpoint-chat", native)
    to_pools = risk.compare(base, edit(dev, "-endpoint-chat", pools("ml.g6.2xlarge",
                                                                    "ml.g5.2xlarge")))
    assert [f.rule for f in to_pools] == ["scaled-instance-type"]
    assert "ml.g5.2xlarge -> ml.g6.2xlarge, ml.g5.2xlarge" in to_pools[0].message
    same = edit(dev, "-endpoint-chat", pools("ml.g6.2xlarge", "ml.g5.2xlarge"))
    assert risk.compare(same, same) == []


# -- issue 16: what components, capture and rollbacks can drop ---------------------------------
def _notes(base: dict, head: dict) -> list[tuple[str, str]]:
    return [(f.rule, f.message) for f in risk.notes(base, head)]


def _capture(res: dict) -> dict:
    (config,) = of_type(res, "AWS::SageMaker::EndpointConfig")
    return config["Properties"]["DataCaptureConfig"]


def test_capture_losing_its_key_is_encryption_removed(prod):
    base = prod.templates
    keyless = edit(base, "-endpoint-chat", lambda res: _capture(res).pop("KmsKeyId"))
    findings = risk.compare(base, keyless)
    assert [f.rule for f in findings] == ["encryption-removed"]
    assert "data capture drops its KMS key (DataCaptureConfig.KmsKeyId)" in findings[0].message
    # capture turned off as well: nothing is captured without the key, only a note
    off = edit(keyless, "-endpoint-chat", lambda res: _capture(res).update(EnableCapture=False))
    assert risk.compare(base, off) == []
    assert [rule for rule, _ in _notes(base, off)] == ["capture-stopped"]


def test_stopping_narrowing_or_moving_capture_is_a_note_not_a_finding(prod):
    base = prod.templates

    def drop(res):
        (config,) = of_type(res, "AWS::SageMaker::EndpointConfig")
        del config["Properties"]["DataCaptureConfig"]

    def inputs_only(res):
        _capture(res)["CaptureOptions"] = [{"CaptureMode": "Input"}]

    def elsewhere(res):
        _capture(res)["DestinationS3Uri"] = "s3://audit-bucket/llm/"
    for change in (drop, inputs_only, elsewhere):
        assert risk.compare(base, edit(base, "-endpoint-chat", change)) == [], change.__name__
    (stopped,) = _notes(base, edit(base, "-endpoint-chat", drop))
    assert stopped[0] == "capture-stopped"
    assert "requests from now on are not captured; those captured so far stay in a " \
           "location made at deploy time" in stopped[1]
    assert _notes(base, edit(base, "-endpoint-chat", inputs_only)) == [
        ("capture-stopped", "data capture no longer records Output.")]
    (moved,) = _notes(base, edit(base, "-endpoint-chat", elsewhere))
    assert moved[0] == "capture-moved"
    assert moved[1].startswith("captures go to s3://audit-bucket/llm/ from now on")
    assert _notes(base, copy.deepcopy(base)) == []


def test_the_capture_bucket_losing_its_only_writer_rule_is_weakened(prod):
    def open_(res):
        for policy in of_type(res, "AWS::S3::BucketPolicy"):
            document = policy["Properties"]["PolicyDocument"]
            document["Statement"] = [s for s in document["Statement"]
                                     if s.get("Sid") != "NoOtherWriter"]
    findings = risk.compare(prod.templates, edit(prod.templates, "-endpoint-chat", open_))
    assert [f.rule for f in findings] == ["bucket-weakened"]
    assert "loses its Deny statement(s) NoOtherWriter" in findings[0].message


@pytest.fixture(scope="module")
def components() -> dict:
    return synthesize("seed-components").templates


def test_an_inference_component_deleted_or_renamed(components):
    def drop(res):
        for lid in [k for k, r in res.items() if r["Type"] == "AWS::SageMaker::InferenceComponent"]:
            del res[lid]

    def rename(res):
        (component,) = of_type(res, "AWS::SageMaker::InferenceComponent")
        component["Properties"]["InferenceComponentName"] = "llm-seed-ic-llama3-news"
    deleted = risk.compare(components, edit(components, "-endpoint-llama3", drop))
    assert [f.rule for f in deleted] == ["component-removed"]
    assert deleted[0].message.startswith(
        "inference component 'llm-seed-ic-llama3-naver-news' would be DELETED")
    renamed = risk.compare(components, edit(components, "-endpoint-llama3", rename))
    assert [f.rule for f in renamed] == ["component-removed"]
    assert "RENAMED to 'llm-seed-ic-llama3-news'" in renamed[0].message
    # the whole stack gone: endpoint-replaced says it, once
    gone = {k: v for k, v in components.items() if not k.endswith("-endpoint-llama3")}
    assert "component-removed" not in rules(components, gone)


def test_auto_rollback_removed_from_a_component_or_an_endpoint(components, prod):
    def no_rollback(res):
        for r in res.values():
            if r["Type"] in ("AWS::SageMaker::InferenceComponent", "AWS::SageMaker::Endpoint"):
                r["Properties"].get("DeploymentConfig", {}).pop("AutoRollbackConfiguration", None)
    component = risk.compare(components, edit(components, "-endpoint-llama3", no_rollback))
    assert [(f.rule, f.message.split(" (")[0]) for f in component] == [
        ("rollback-removed", "inference component loses its auto-rollback")]
    assert "had 2 alarm(s), now none" in component[0].message
    endpoint = risk.compare(prod.templates, edit(prod.templates, "-endpoint-chat", no_rollback))
    assert [(f.rule, f.message.split(" (")[0]) for f in endpoint] == [
        ("rollback-removed", "endpoint loses its auto-rollback")]

    def no_deployment_config(res):
        for r in of_type(res, "AWS::SageMaker::InferenceComponent"):
            del r["Properties"]["DeploymentConfig"]
    assert rules(components, edit(components, "-endpoint-llama3", no_deployment_config)) == [
        "rollback-removed"]


def test_notes_are_reported_and_never_block(prod, tmp_path):
    def off(res):
        _capture(res)["EnableCapture"] = False
    write_assembly(tmp_path / "base" / "prod", prod.templates)
    write_assembly(tmp_path / "head" / "prod", edit(prod.templates, "-endpoint-chat", off))
    md = tmp_path / "risk.md"
    assert risk.main([str(tmp_path / "base"), str(tmp_path / "head"), "--markdown", str(md)]) == 0
    text = md.read_text()
    assert "0 finding(s), 0 blocking; 1 note(s), never blocking" in text
    assert "[capture-stopped] prod/llm-prod-endpoint-chat/" in text and "(note)" in text
    with pytest.raises(risk.GuardError, match=r"known rules: .*component-removed, "
                                              r"rollback-removed$"):
        risk.accepted_rules("capture-stopped")  # a note has nothing to accept


# -- issue 16, item 1: inference components and their LoRA adapters ---------------------------
def _components_stack(*adapters: tuple[str, str]) -> dict:
    """A components stack as the app writes it (tests/test_adapters.py checks the real one):
    base component ``CBase`` and adapters ``(logical ID, base)``, each named
    ``llm-seed-ic-llama3-naver-news-lora`` after the seed's adapter."""
    endpoint = {"Fn::GetAtt": ["ComponentsEndpoint", "EndpointName"]}
    res = {lid: {"Type": "AWS::SageMaker::InferenceComponent", "Properties": {
        "EndpointName": endpoint, "InferenceComponentName": f"llm-seed-ic-llama3-{lid.lower()}",
        "RuntimeConfig": {"CopyCount": 0}, "Specification": {"ModelName": f"{lid}-model"}}}
           for lid in ("CBase", "COther")}
    for lid, base in adapters:
        res[lid] = {"Type": "AWS::SageMaker::InferenceComponent", "DependsOn": [base],
                    "Properties": {"EndpointName": endpoint,
                                   "InferenceComponentName": "llm-seed-ic-llama3-naver-news-lora",
                                   "Specification": {
                                       "BaseInferenceComponentName":
                                           res[base]["Properties"]["InferenceComponentName"],
                                       "Container": {"ArtifactUrl": "s3://b/adapter.tar.gz"}}}}
    return {"llm-seed-ic-endpoint-llama3": {"Resources": res}}


def test_an_adapter_removed_is_reported_as_a_removed_component():
    """Inference components have no create-only property (cfn-lint 1.58), so the replacement
    rule says nothing about them: a removed adapter (or one renamed: a new logical ID) is a
    deleted component, and clients invoking its name fail."""
    assert risk._create_only("AWS::SageMaker::InferenceComponent") == set()
    base = _components_stack(("CBaseANaverNewsLora", "CBase"))
    findings = risk.compare(base, _components_stack())
    assert [(f.rule, f.resource) for f in findings] == [("component-removed",
                                                         "CBaseANaverNewsLora")]
    assert "'llm-seed-ic-llama3-naver-news-lora' would be DELETED" in findings[0].message
    assert risk.compare(base, copy.deepcopy(base)) == []


def test_an_adapter_moved_to_another_base_is_created_again_under_its_name():
    """The adapter's construct lives under its base: moving it is a new logical ID with the
    same InferenceComponentName, which CloudFormation creates before deleting the old one."""
    before = _components_stack(("CBaseANaverNewsLora", "CBase"))
    after = _components_stack(("COtherANaverNewsLora", "COther"))
    findings = risk.compare(before, after)
    assert [(f.rule, f.resource) for f in findings] == [("component-removed",
                                                         "CBaseANaverNewsLora")]
    assert "created again as COtherANaverNewsLora under the same name" in findings[0].message
