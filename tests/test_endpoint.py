"""The endpoint stacks: model, endpoint config, endpoint, role, scaling, outputs."""

from __future__ import annotations

import json
import re

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from llm_constructs import LlmEndpoint, SageMakerExecutionRole
from tests.helpers import (as_list, dev_with, one, resources, statements, synthesize,
                           synthesize_data)


def test_no_model_or_config_names_and_stable_endpoint_name(endpoint_template):
    t = endpoint_template
    _, config = one(t, "AWS::SageMaker::EndpointConfig")
    _, endpoint = one(t, "AWS::SageMaker::Endpoint")
    for model in resources(t, "AWS::SageMaker::Model").values():
        assert "ModelName" not in model["Properties"]
    assert "EndpointConfigName" not in config["Properties"]
    assert endpoint["Properties"]["RetainAllVariantProperties"] is True
    assert endpoint["Properties"]["EndpointName"] in (
        "llm-dev-chat", "llm-dev-batch", "llm-prod-chat", "llm-seed-async-flan-t5-xxl",
        "llm-seeds-dlc", "llm-seeds-custom", "llm-seeds-serverless", "llm-seed-ic-llama3",
        "llm-seed-ic-lora", "llm-backends-vllm", "llm-backends-lmi")


def test_model_waits_for_the_role_policy(endpoint_template):
    t = endpoint_template
    policies = [k for k in resources(t, "AWS::IAM::Policy") if k.startswith("ExecutionRolePolicy")]
    assert len(policies) == 1
    _, model = one(t, "AWS::SageMaker::Model")
    assert policies[0] in model["DependsOn"]


@pytest.mark.parametrize("name,instance,gpus,count", [("dev", "ml.g5.2xlarge", "1", 1),
                                                     ("prod", "ml.g5.12xlarge", "4", 2)])
def test_variant_and_gpus(name, instance, gpus, count, request):
    t = request.getfixturevalue(name).endpoint("chat")
    _, model = one(t, "AWS::SageMaker::Model")
    assert model["Properties"]["PrimaryContainer"]["Environment"]["SM_NUM_GPUS"] == gpus
    _, config = one(t, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["InstanceType"] == instance
    assert variant["InitialInstanceCount"] == count
    assert variant["ModelName"] == {"Fn::GetAtt": [one(t, "AWS::SageMaker::Model")[0],
                                                   "ModelName"]}
    # g5 has NVMe instance storage: SageMaker refuses VolumeSizeInGB and KmsKeyId for it.
    assert "VolumeSizeInGB" not in variant
    assert "KmsKeyId" not in config["Properties"]


def test_dev_model_loads_from_the_hub(dev):
    _, model = one(dev.endpoint("chat"), "AWS::SageMaker::Model")
    c = model["Properties"]["PrimaryContainer"]
    assert c["Environment"]["HF_MODEL_ID"] == "Qwen/Qwen2.5-7B-Instruct"
    assert c["Environment"]["MAX_TOTAL_TOKENS"] == "8192"
    assert "ModelDataUrl" not in c and "ModelDataSource" not in c
    assert "EnableNetworkIsolation" not in model["Properties"]


def test_prod_model_loads_uncompressed_from_s3_with_isolation(prod):
    _, model = one(prod.endpoint("chat"), "AWS::SageMaker::Model")
    c = model["Properties"]["PrimaryContainer"]
    assert c["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    assert c["Environment"]["HF_HUB_OFFLINE"] == "1"
    assert c["ModelDataSource"]["S3DataSource"] == {
        "CompressionType": "None", "S3DataType": "S3Prefix",
        "S3Uri": "s3://example-llm-artifacts-111122223333/qwen2.5-32b-instruct/"}
    assert model["Properties"]["EnableNetworkIsolation"] is True
    _, config = one(prod.endpoint("chat"), "AWS::SageMaker::EndpointConfig")
    v = config["Properties"]["ProductionVariants"][0]
    assert v["ContainerStartupHealthCheckTimeoutInSeconds"] == 1800
    assert v["ModelDataDownloadTimeoutInSeconds"] == 2400


def test_compressed_artifact_uses_model_data_url():
    synth = synthesize_data(dev_with(**{
        "network.egress": "none",
        "endpoints.0.source": {"s3": "s3://my-models/llm/model.tar.gz"}}), nag=False)
    t = synth.endpoint("chat")
    _, model = one(t, "AWS::SageMaker::Model")
    assert model["Properties"]["PrimaryContainer"]["ModelDataUrl"] == \
        "s3://my-models/llm/model.tar.gz"
    reads = [s for s in statements(t) if s["Action"] == "s3:GetObject"]
    assert len(reads) == 1
    assert json.dumps(reads[0]["Resource"]).endswith(':s3:::my-models/llm/model.tar.gz"]]}')
    lists = [s for s in statements(t) if s["Action"] == "s3:ListBucket"]
    assert lists[0]["Condition"] == {"StringLike": {"s3:prefix": ["llm/model.tar.gz"]}}


# -- image ----------------------------------------------------------------------------
TGI_TAG = "huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"


TGI_ENDPOINTS = [("dev", "chat"), ("dev", "batch"), ("prod", "chat"),
                 ("seed-async", "flan-t5-xxl")]


@pytest.mark.parametrize("config,name", TGI_ENDPOINTS)
def test_image_is_resolved_at_deploy_time_from_the_region_mapping(config, name):
    t = synthesize(config).endpoint(name)
    (mapping_id, mapping), = t["Mappings"].items()  # one image, one mapping of its regions
    assert mapping_id.startswith("DlcRegistryHuggingfacePytorchTgiInference")
    assert mapping["us-east-1"] == {"account": "763104351884"}
    assert mapping["ap-east-1"] == {"account": "871362719292"}
    assert mapping["me-south-1"] == {"account": "217643126080"}
    assert mapping["cn-north-1"] == {"account": "727897471807"}
    assert mapping["us-gov-west-1"] == {"account": "442386744353"}
    _, model = one(t, "AWS::SageMaker::Model")
    parts = model["Properties"]["PrimaryContainer"]["Image"]["Fn::Join"][1]
    assert parts[0] == {"Fn::FindInMap": [mapping_id, {"Ref": "AWS::Region"}, "account"]}
    assert t["Rules"][f"{mapping_id}Region"]["Assertions"][0]["Assert"] == {
        "Fn::Contains": [sorted(mapping), {"Ref": "AWS::Region"}]}
    assert parts[-1] in (f"/{TGI_TAG}",  # seed-async reproduces the seed's TGI 1.1.0:
                         "/huggingface-pytorch-tgi-inference:2.0.1-tgi1.1.0-gpu-py39-cu118-ubuntu20.04")
    assert {"Ref": "AWS::URLSuffix"} in parts


@pytest.mark.parametrize("region,account,suffix", [
    ("us-east-1", "763104351884", "amazonaws.com"),
    ("ap-east-1", "871362719292", "amazonaws.com"),
    ("me-south-1", "217643126080", "amazonaws.com"),
    ("cn-northwest-1", "727897471807", "amazonaws.com.cn"),
])
def test_image_for_a_fixed_region_is_a_literal(region, account, suffix):
    synth = synthesize_data(dev_with(**{"deployment.region": region}), nag=False)
    t = synth.endpoint("chat")
    _, model = one(t, "AWS::SageMaker::Model")
    assert model["Properties"]["PrimaryContainer"]["Image"] == \
        f"{account}.dkr.ecr.{region}.{suffix}/{TGI_TAG}"
    assert "Mappings" not in t
    pull = next(s for s in statements(t) if s.get("Sid") == "PullModelImage")
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    assert pull["Resource"] == (f"arn:{partition}:ecr:{region}:{account}:"
                                "repository/huggingface-pytorch-tgi-inference")


# -- role -----------------------------------------------------------------------------
ALLOWED_STAR_ACTIONS = {"ecr:GetAuthorizationToken", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                        "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                        "ec2:DescribeNetworkInterfaces", "cloudwatch:PutMetricData"}


def test_role_is_trusted_by_sagemaker_only_and_has_no_managed_policies(endpoint_template):
    t = endpoint_template
    (role,) = [r for k, r in resources(t, "AWS::IAM::Role").items()
               if k.startswith("ExecutionRole")]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Action": "sts:AssumeRole", "Effect": "Allow",
                      "Principal": {"Service": "sagemaker.amazonaws.com"}}]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_only_unscopable_actions_have_star_resources(endpoint_template):
    for s in statements(endpoint_template, "ExecutionRole"):
        if "*" in as_list(s["Resource"]):
            assert set(as_list(s["Action"])) <= ALLOWED_STAR_ACTIONS, s
            assert s["Resource"] == "*"


def test_ecr_pull_is_limited_to_the_image_repository(endpoint_template):
    pull = [s for s in statements(endpoint_template, "ExecutionRole")
            if s.get("Sid") == "PullModelImage"]
    assert len(pull) == 1
    assert set(pull[0]["Action"]) == {"ecr:BatchCheckLayerAvailability",
                                      "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"}
    arn = json.dumps(pull[0]["Resource"])
    _, model = one(endpoint_template, "AWS::SageMaker::Model")
    image = json.dumps(model["Properties"]["PrimaryContainer"]["Image"])
    if "cdk-hnb659fds-container-assets" in image:  # build: the bootstrap's asset repository
        assert arn.endswith(':repository/", {"Fn::Sub": '
                            '"cdk-hnb659fds-container-assets-${AWS::AccountId}-${AWS::Region}"}]]}')
    else:
        repository = re.search(r"/([a-z0-9-]+):[^/]*\"\]\]}$", image).group(1)
        assert arn.endswith(f':repository/{repository}"]]}}')


def test_prod_s3_read_is_limited_to_the_model_prefix(prod):
    t = prod.endpoint("chat")
    reads = [s for s in statements(t) if "s3:GetObject" in as_list(s["Action"])]
    assert len(reads) == 1
    assert json.dumps(reads[0]["Resource"]).endswith(
        ':s3:::example-llm-artifacts-111122223333/qwen2.5-32b-instruct/*"]]}')
    s3_actions = {a for s in statements(t) for a in as_list(s["Action"]) if a.startswith("s3:")}
    assert s3_actions == {"s3:GetObject", "s3:ListBucket", "s3:PutObject"}
    # the one write: data capture, into its own prefix
    (put,) = [s for s in statements(t) if "s3:PutObject" in as_list(s["Action"])]
    assert json.dumps(put["Resource"]).endswith('/capture/*"]]}')


def test_dev_role_has_no_s3_access(dev):
    assert not [s for s in statements(dev.endpoint("chat"))
                if any(a.startswith("s3:") for a in as_list(s["Action"]))]


def test_eni_permissions_for_vpc_mode_are_scoped(endpoint_template):
    by_sid = {s.get("Sid"): s for s in statements(endpoint_template)}
    if endpoint_template["Outputs"]["Mode"]["Value"] == "serverless":
        assert not {"VpcDescribe", "VpcCreateEni", "VpcManageEni"} & set(by_sid)
        return
    create = json.dumps(by_sid["VpcCreateEni"]["Resource"])
    assert ":network-interface/*" in create and ":subnet/" in create and \
        ":security-group/" in create
    assert set(by_sid["VpcManageEni"]["Action"]) == {
        "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission"}
    assert json.dumps(by_sid["VpcManageEni"]["Resource"]).endswith(':network-interface/*"]]}')


def test_logs_are_limited_to_the_endpoint_log_group(endpoint_template):
    (logs,) = [s for s in statements(endpoint_template) if s.get("Sid") == "EndpointLogs"]
    text = json.dumps(logs["Resource"])
    assert text.count("/aws/sagemaker/Endpoints/llm-") == 2
    assert "Endpoints/*" not in text


def test_prod_role_may_decrypt_with_the_cmk_only(prod):
    (kms_stmt,) = [s for s in statements(prod.endpoint("chat")) if "kms:Decrypt" in
                   as_list(s["Action"])]
    assert kms_stmt["Resource"] != "*"


# -- scaling and outputs --------------------------------------------------------------
@pytest.mark.parametrize("name,endpoint,lo,hi,target", [("dev", "llm-dev-chat", 1, 2, 20),
                                                       ("prod", "llm-prod-chat", 2, 6, 30)])
def test_invocation_autoscaling(name, endpoint, lo, hi, target, request):
    t = request.getfixturevalue(name).endpoint("chat")
    assert not resources(t, "AWS::ApplicationAutoScaling::ScalableTarget")  # see test_scaling
    _, st = one(t, "Custom::ScalableVariant")
    p = st["Properties"]
    assert p["ResourceId"] == f"endpoint/{endpoint}/variant/AllTraffic"
    assert p["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (p["MinCapacity"], p["MaxCapacity"]) == (lo, hi)
    assert one(t, "AWS::SageMaker::Endpoint")[0] in st["DependsOn"]
    (policy,) = json.loads(p["Policies"])
    cfg = policy["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert cfg["PredefinedMetricSpecification"]["PredefinedMetricType"] == \
        "SageMakerVariantInvocationsPerInstance"
    assert cfg["TargetValue"] == target


def test_no_autoscaling_when_not_configured():
    synth = synthesize_data(dev_with(**{"endpoints.0.autoscaling": None}), nag=False)
    assert not resources(synth.endpoint("chat"), "Custom::ScalableVariant")
    assert not resources(synth.endpoint("chat"), "AWS::Lambda::Function")


def test_outputs(endpoint_template):
    outputs = endpoint_template["Outputs"]
    assert outputs["EndpointName"]["Value"].startswith("llm-")
    endpoint_id, _ = one(endpoint_template, "AWS::SageMaker::Endpoint")
    assert outputs["EndpointArn"]["Value"] == {"Ref": endpoint_id}
    assert "ExecutionRoleArn" in outputs


def test_invoke_principals_get_invoke_on_this_endpoint_only():
    arn = "arn:aws:iam::123456789012:role/app-backend"
    synth = synthesize_data(dev_with(**{"endpoints.0.invoke_principals": [arn]}))
    t = synth.endpoint("chat")
    endpoint_id, _ = one(t, "AWS::SageMaker::Endpoint")
    invoke = [r["Properties"] for r in resources(t, "AWS::IAM::Policy").values()
              if r["Properties"].get("Roles") == ["app-backend"]]
    assert len(invoke) == 1
    stmt, outputs = invoke[0]["PolicyDocument"]["Statement"]
    assert set(stmt["Action"]) == {"sagemaker:InvokeEndpoint",
                                   "sagemaker:InvokeEndpointWithResponseStream"}
    assert stmt["Resource"] == {"Ref": endpoint_id}
    # llm-client --stack reads the endpoint's name from this stack's outputs
    assert (outputs["Action"], outputs["Resource"]) == (
        "cloudformation:DescribeStacks", {"Ref": "AWS::StackId"})


# -- construct API ----------------------------------------------------------------------
def _construct_stack() -> tuple[cdk.Stack, SageMakerExecutionRole]:
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    role = SageMakerExecutionRole(stack, "Role")
    return stack, role


def test_construct_sets_volume_key_only_where_the_instance_allows_it():
    stack, role = _construct_stack()
    key = kms.Key(stack, "Key")
    LlmEndpoint(stack, "Cpu", execution_role=role, image_uri="img", instance_type="ml.m5.xlarge",
                volume_size_gb=50, volume_kms_key=key)
    LlmEndpoint(stack, "Gpu", execution_role=role, image_uri="img", instance_type="ml.g5.xlarge",
                volume_kms_key=key)
    configs = {k[:3]: v["Properties"] for k, v in resources(
        cdk.assertions.Template.from_stack(stack).to_json(),
        "AWS::SageMaker::EndpointConfig").items()}
    assert "KmsKeyId" in configs["Cpu"] and configs["Cpu"]["ProductionVariants"][0][
        "VolumeSizeInGB"] == 50
    assert "KmsKeyId" not in configs["Gpu"]


def test_construct_rejects_what_sagemaker_would_reject_at_deploy():
    stack, role = _construct_stack()
    with pytest.raises(ValueError, match="NVMe"):
        LlmEndpoint(stack, "A", execution_role=role, image_uri="i",
                    instance_type="ml.g5.xlarge", volume_size_gb=100)
    with pytest.raises(ValueError, match="at least 1"):
        LlmEndpoint(stack, "B", execution_role=role, image_uri="i",
                    instance_type="ml.g5.xlarge", initial_instance_count=0)
    ep = LlmEndpoint(stack, "C", execution_role=role, image_uri="i",
                     instance_type="ml.g5.xlarge", endpoint_name="c")
    with pytest.raises(ValueError, match="below 1"):
        ep.add_invocation_autoscaling(min_capacity=0, max_capacity=2)
    with pytest.raises(ValueError, match="only async endpoints have a backlog"):
        ep.add_backlog_autoscaling(min_capacity=0, max_capacity=2)
    with pytest.raises(ValueError, match="min_capacity 3 > max_capacity 2"):
        ep.add_invocation_autoscaling(min_capacity=3, max_capacity=2)


def test_construct_grant_invoke_and_metrics():
    stack, role = _construct_stack()
    ep = LlmEndpoint(stack, "E", execution_role=role, image_uri="i",
                     instance_type="ml.g5.xlarge", endpoint_name="my-ep")
    user = iam.Role(stack, "User", assumed_by=iam.AccountRootPrincipal())
    ep.grant_invoke(user)
    t = cdk.assertions.Template.from_stack(stack).to_json()
    invoke = [s for s in statements(t) if "sagemaker:InvokeEndpoint" in as_list(s["Action"])]
    assert invoke and invoke[0]["Resource"] == {"Ref": one(t, "AWS::SageMaker::Endpoint")[0]}
    m = ep.metric_model_latency()
    assert (m.namespace, m.metric_name, m.statistic) == ("AWS/SageMaker", "ModelLatency", "p90")
    assert m.dimensions == {"EndpointName": "my-ep", "VariantName": "AllTraffic"}
    assert ep.metric_gpu_utilization().namespace == "/aws/sagemaker/Endpoints"
