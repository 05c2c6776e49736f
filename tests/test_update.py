"""Updates roll forward without a manual delete: changing the instance type keeps the
Endpoint (same logical ID and name) and replaces Model and EndpointConfig, which carry
no custom names, so CloudFormation can create the new ones before deleting the old."""

from __future__ import annotations

from tests.helpers import dev_with, one, replacements, synthesize, synthesize_data


def _ids(template: dict, type_: str) -> str:
    return one(template, type_)[0]


def test_changing_instance_type_replaces_model_and_config_but_not_the_endpoint():
    before = synthesize("dev").endpoint("chat")
    after = synthesize_data(dev_with(**{"endpoints.0.instance_type": "ml.g5.12xlarge"}),
                            nag=False).endpoint("chat")

    endpoint_id = _ids(before, "AWS::SageMaker::Endpoint")
    assert _ids(after, "AWS::SageMaker::Endpoint") == endpoint_id
    assert after["Resources"][endpoint_id]["Properties"]["EndpointName"] == \
        before["Resources"][endpoint_id]["Properties"]["EndpointName"] == "llm-dev-chat"

    replaced = replacements(before, after)
    model_id = _ids(before, "AWS::SageMaker::Model")
    config_id = _ids(before, "AWS::SageMaker::EndpointConfig")
    assert replaced[model_id] == ["PrimaryContainer"]  # SM_NUM_GPUS 1 -> 4
    assert replaced[config_id] == ["ProductionVariants"]
    assert endpoint_id not in replaced
    # What lets CloudFormation replace them: no custom names to collide with.
    for lid in (model_id, config_id):
        props = after["Resources"][lid]["Properties"]
        assert "ModelName" not in props and "EndpointConfigName" not in props
    assert after["Resources"][model_id]["Properties"]["PrimaryContainer"]["Environment"][
        "SM_NUM_GPUS"] == "4"


def test_same_gpu_count_instance_change_keeps_the_model():
    before = synthesize("dev").endpoint("chat")
    after = synthesize_data(dev_with(**{"endpoints.0.instance_type": "ml.g5.4xlarge"}),
                            nag=False).endpoint("chat")
    replaced = replacements(before, after)
    assert list(replaced) == [_ids(before, "AWS::SageMaker::EndpointConfig")]


def test_replacement_helper_knows_the_create_only_properties():
    from tests.helpers import create_only_properties

    assert "EndpointName" in create_only_properties("AWS::SageMaker::Endpoint")
    assert "EndpointConfigName" not in create_only_properties("AWS::SageMaker::Endpoint")
    assert {"ProductionVariants", "KmsKeyId"} <= create_only_properties(
        "AWS::SageMaker::EndpointConfig")
    assert "PrimaryContainer" in create_only_properties("AWS::SageMaker::Model")


def test_renaming_the_endpoint_is_a_replacement_the_helper_sees():
    before = synthesize("dev").endpoint("chat")
    after = synthesize_data(dev_with(**{"endpoints.0.endpoint_name": "renamed"}),
                            nag=False).endpoint("chat")
    endpoint_id = _ids(before, "AWS::SageMaker::Endpoint")
    assert replacements(before, after)[endpoint_id] == ["EndpointName"]
