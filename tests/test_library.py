"""llm_constructs as a library: grants return ``iam.Grant`` and acknowledge their own
wildcards, metrics of component endpoints and components, imported endpoints."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from llm_constructs import (AsyncInferenceStorage, AsyncJobRuntime, AsyncOutput,
                            ComponentEndpoint, LlmEndpoint, SageMakerExecutionRole)
from tests.helpers import as_list, resources

CLIENT = "arn:aws:iam::123456789012:role/client"


def _app(**kw) -> cdk.App:
    """With cdk.json's recommended feature flags, as a ``cdk init`` app has them."""
    from app import feature_flags

    return cdk.App(context=feature_flags(), **kw)


def _stack(app: cdk.App | None = None) -> cdk.Stack:
    return cdk.Stack(app or _app(), "Lib")


def _async_parts(stack: cdk.Stack) -> tuple[LlmEndpoint, AsyncInferenceStorage,
                                               AsyncJobRuntime]:
    role = SageMakerExecutionRole(stack, "Role", endpoint_names=["lib-async"])
    storage = AsyncInferenceStorage(stack, "Async", removal_policy=cdk.RemovalPolicy.DESTROY)
    endpoint = LlmEndpoint(stack, "Llm", execution_role=role, image_uri="img",
                           instance_type="ml.g5.xlarge", endpoint_name="lib-async",
                           async_output=AsyncOutput(
                               output_path=storage.output_path,
                               failure_path=storage.failure_path,
                               success_topic_arn=storage.success_topic.topic_arn,
                               error_topic_arn=storage.error_topic.topic_arn))
    runtime = AsyncJobRuntime(stack, "Runtime", endpoint=endpoint, storage=storage,
                              removal_policy=cdk.RemovalPolicy.DESTROY)
    return endpoint, storage, runtime


def _statements(stack: cdk.Stack, path_part: str) -> list[dict]:
    template = cdk.assertions.Template.from_stack(stack).to_json()
    return [s for lid, r in resources(template, "AWS::IAM::Policy").items() if path_part in lid
            for s in r["Properties"]["PolicyDocument"]["Statement"]]


def _resolve(stack: cdk.Stack, value: object) -> object:
    return json.loads(json.dumps(stack.resolve(value)))


def test_every_grant_returns_a_successful_grant_with_its_statement():
    stack = _stack()
    endpoint, storage, runtime = _async_parts(stack)
    client = iam.Role.from_role_arn(stack, "Client", CLIENT)
    exec_role = endpoint.execution_role.role
    grants = {
        "submit": storage.grant_submit(client),
        "read_results": storage.grant_read_results(client),
        "read_requests": storage.grant_read_requests(exec_role),
        "write_results": storage.grant_write_results(exec_role),
        "publish": storage.grant_publish(exec_role),
        "read_jobs": runtime.grant_read_jobs(client),
        "wait": runtime.grant_wait(client),
        "replay": runtime.grant_replay(client),
        "invoke": endpoint.grant_invoke(client),
    }
    assert {name: g.success for name, g in grants.items()} == dict.fromkeys(grants, True)
    first_actions = {name: as_list(_resolve(stack, g.principal_statements[0].to_json())["Action"])
                     for name, g in grants.items()}
    assert first_actions == {
        "submit": ["s3:PutObject", "s3:AbortMultipartUpload"],
        "read_results": ["s3:GetObject"], "read_requests": ["s3:GetObject"],
        "write_results": ["s3:PutObject", "s3:AbortMultipartUpload"],
        "publish": ["sns:Publish"], "read_jobs": ["dynamodb:GetItem", "dynamodb:BatchGetItem"],
        "replay": ["s3:GetObject"],
        "wait": ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes",
                 "sqs:SetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
        "invoke": ["sagemaker:InvokeEndpointAsync"]}
    # the combined grants carry the key and subscription statements too
    wait_actions = [a for s in grants["wait"].principal_statements
                    for a in as_list(_resolve(stack, s.to_json())["Action"])]
    assert wait_actions[-2:] == ["sns:Subscribe", "sns:Unsubscribe"]
    # an imported role's key grant lands in the key policy: the combined grant has it
    (key_statement,) = grants["submit"].resource_statements
    assert _resolve(stack, key_statement.to_json())["Action"] == ["kms:GenerateDataKey",
                                                                  "kms:Decrypt"]
    queue = _resolve(stack, grants["wait"].principal_statements[0].to_json())["Resource"]
    assert queue["Fn::Join"][1][-1] == ":lib-async-wait-*"


def test_publish_without_topics_is_a_dropped_grant():
    stack = _stack()
    storage = AsyncInferenceStorage(stack, "Quiet", notifications=False)
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    grant = storage.grant_publish(role)
    assert grant.principal_statements == []
    assert not any("sns:Publish" in as_list(s["Action"]) for s in _statements(stack, "R"))


def test_grants_acknowledge_exactly_their_wildcards_and_nag_passes(tmp_path):
    """Nothing but the constructs: with every client grant, cdk-nag finds no unacknowledged
    finding, and each IAM5 acknowledgement of the client names one wildcard resource."""
    app = _app(outdir=str(tmp_path))
    stack = _stack(app)
    endpoint, storage, runtime = _async_parts(stack)
    exec_role = endpoint.execution_role.role
    storage.grant_read_requests(exec_role)
    storage.grant_write_results(exec_role)
    storage.grant_publish(exec_role)
    client = iam.Role.from_role_arn(stack, "Client", CLIENT)
    for grant in (storage.grant_submit, storage.grant_read_results, runtime.grant_read_jobs,
                  runtime.grant_wait, endpoint.grant_invoke):
        grant(client)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged finding
    (report,) = json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
    assert report["conclusion"] == "success" and report["violations"] == []
    client_acks = {v["acknowledgedId"].split("Resource::", 1)[1].rstrip("]"): v["reason"]
                   for v in report["suppressedViolations"]
                   if "Lib/Client" in json.dumps(v) and "IAM5" in v["ruleName"]}
    bucket = stack.get_logical_id(storage.bucket.node.default_child)
    success, error = (stack.get_logical_id(t.node.default_child) for t in storage.topics)
    assert sorted(client_acks) == sorted([
        "arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:lib-async-wait-*",
        f"<{success}>:*", f"<{error}>:*",  # a topic's Ref is its ARN
        f"<{bucket}.Arn>/input/*", f"<{bucket}.Arn>/output/*", f"<{bucket}.Arn>/failure/*"])
    assert all(len(reason) > 40 for reason in client_acks.values())


def test_runtime_grant_wait_needs_a_literal_endpoint_name():
    stack = _stack()
    role = SageMakerExecutionRole(stack, "Role")
    storage = AsyncInferenceStorage(stack, "Async")
    endpoint = LlmEndpoint(stack, "Llm", execution_role=role, image_uri="img",
                           instance_type="ml.g5.xlarge",
                           async_output=AsyncOutput(output_path=storage.output_path,
                                                    failure_path=storage.failure_path))
    runtime = AsyncJobRuntime(stack, "Runtime", endpoint=endpoint, storage=storage)
    with pytest.raises(ValueError, match="literal"):
        runtime.grant_wait(iam.Role.from_role_arn(stack, "C", CLIENT))


def _components() -> tuple[cdk.Stack, ComponentEndpoint]:
    stack = _stack()
    role = SageMakerExecutionRole(stack, "Role")
    endpoint = ComponentEndpoint(stack, "Ep", execution_role=role,
                                 instance_type="ml.g5.12xlarge", endpoint_name="lib-ic")
    return stack, endpoint


def _shape(metric) -> tuple:
    return (metric.namespace, metric.metric_name, metric.statistic,
            dict(metric.dimensions), metric.period.to_seconds())


def test_component_endpoint_metrics_are_per_endpoint_and_variant():
    _, endpoint = _components()
    variant = {"EndpointName": "lib-ic", "VariantName": "AllTraffic"}
    assert _shape(endpoint.metric_invocations()) == (
        "AWS/SageMaker", "Invocations", "Sum", variant, 60)
    assert _shape(endpoint.metric_model_latency(period=cdk.Duration.minutes(5))) == (
        "AWS/SageMaker", "ModelLatency", "p90", variant, 300)
    assert _shape(endpoint.metric_gpu_reservation()) == (
        "/aws/sagemaker/Endpoints", "GPUReservation", "Average", variant, 60)
    assert _shape(endpoint.metric_cpu_utilization_normalized()) == (
        "/aws/sagemaker/Endpoints", "CPUUtilizationNormalized", "Average", variant, 60)
    assert _shape(endpoint.metric_instance_count()) == (
        "/aws/sagemaker/Endpoints", "CPUUtilization", "SampleCount", variant, 60)


def test_component_metrics_carry_the_component_name_only():
    _, endpoint = _components()
    component = endpoint.add_component("Chat", component_name="lib-ic-chat", image_uri="img",
                                       memory_mb=1024, accelerators=1)
    only = {"InferenceComponentName": "lib-ic-chat"}
    assert _shape(component.metric_invocations()) == (
        "AWS/SageMaker", "Invocations", "Sum", only, 60)
    assert _shape(component.metric_model_latency()) == (
        "AWS/SageMaker", "ModelLatency", "p90", only, 60)
    assert _shape(component.metric_concurrent_requests_per_copy()) == (
        "AWS/SageMaker", "ConcurrentRequestsPerCopy", "Maximum", only, 60)
    assert _shape(component.metric_invocation_model_errors()) == (
        "AWS/SageMaker", "InvocationModelErrors", "Sum", only, 60)
    assert _shape(component.metric_gpu_utilization_normalized()) == (
        "/aws/sagemaker/InferenceComponents", "GPUUtilizationNormalized", "Average", only, 60)
    assert _shape(component.metric_memory_utilization_normalized()) == (
        "/aws/sagemaker/InferenceComponents", "MemoryUtilizationNormalized", "Average",
        only, 60)


def test_scale_from_zero_alarm_watches_the_no_capacity_metric():
    stack, endpoint = _components()
    component = endpoint.add_component("Chat", component_name="lib-ic-chat", image_uri="img",
                                       memory_mb=1024, accelerators=1)
    component.add_copy_autoscaling(min_copies=0, max_copies=2)
    template = cdk.assertions.Template.from_stack(stack).to_json()
    (alarm,) = resources(template, "AWS::CloudWatch::Alarm").values()
    props = alarm["Properties"]
    assert (props["MetricName"], props["Namespace"], props["Statistic"], props["Dimensions"]) == (
        "NoCapacityInvocationFailures", "AWS/SageMaker", "Maximum",
        [{"Name": "InferenceComponentName", "Value": "lib-ic-chat"}])


def test_imported_endpoint_by_name():
    stack = cdk.Stack(_app(), "Consumer",
                      env=cdk.Environment(account="123456789012", region="eu-west-1"))
    endpoint = LlmEndpoint.from_endpoint_name(stack, "Existing", "Team-LLM")
    assert endpoint.endpoint_name == "Team-LLM"
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/team-llm"
    assert stack.resolve(endpoint.endpoint_arn) == arn
    user = iam.Role(stack, "User", assumed_by=iam.AccountRootPrincipal())
    grant = endpoint.grant_invoke(user)
    assert grant.success
    (statement,) = _statements(stack, "User")
    assert statement["Action"] == ["sagemaker:InvokeEndpoint",
                                   "sagemaker:InvokeEndpointWithResponseStream"]
    assert statement["Resource"] == arn
    assert _shape(endpoint.metric_invocation_5xx_errors()) == (
        "AWS/SageMaker", "Invocation5XXErrors", "Sum",
        {"EndpointName": "Team-LLM", "VariantName": "AllTraffic"}, 60)
    # nothing is created for an imported endpoint
    template = cdk.assertions.Template.from_stack(stack).to_json()
    assert sorted(template["Resources"]) == ["User00B015A1", "UserDefaultPolicy1F97781E"]


def test_imported_async_endpoint_grants_async_invoke_and_has_backlog_metrics():
    stack = _stack()
    endpoint = LlmEndpoint.from_endpoint_name(stack, "Batch", "batch", is_async=True,
                                              variant_name="Main")
    user = iam.Role(stack, "User", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(user)
    (statement,) = _statements(stack, "User")
    assert statement["Action"] == "sagemaker:InvokeEndpointAsync"
    assert statement["Resource"]["Fn::Join"][1][-1] == ":endpoint/batch"
    assert _shape(endpoint.metric_approximate_backlog_size()) == (
        "AWS/SageMaker", "ApproximateBacklogSize", "Average", {"EndpointName": "batch"}, 60)
    assert dict(endpoint.metric_invocation_failures().dimensions) == {
        "EndpointName": "batch", "VariantName": "Main"}
