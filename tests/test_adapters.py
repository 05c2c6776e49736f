"""Issue 16, item 1: LoRA adapters as inference components on a base component.

Config errors through ``parse_config`` (no synth); the template from the one shared synth of
``seed-components`` (its base component serves the seed's un-merged QLoRA adapter).
cfn-lint and cdk-nag cover that config with every shipped one (tests/test_lint_and_nag.py)."""

from __future__ import annotations

import copy
import json

import pytest

from config import parse_config
from llm_client.client import component_names
from stacks.translate import container_environment
from tests.helpers import config_data, problems, resources, statements, synthesize

ARTIFACT = "s3://my-llm-artifacts-bucket/llama3-8b-naver-news/adapter/adapter.tar.gz"
ENDPOINT = "llm-seed-ic-lora"
BASE_PATH = "endpoints[1] (lora).components[0] (base)"


def seed(**base_changes) -> dict:
    """seed-components.yaml with changes to the lora endpoint's base component."""
    data = copy.deepcopy(config_data("seed-components"))
    base = data["endpoints"][1]["components"][0]
    assert base["name"] == "base"
    base.update(base_changes)
    return data


def adapter(**fields) -> dict:
    return {"name": "naver-news-lora", "artifact": ARTIFACT, **fields}


# -- config: shapes and rules --------------------------------------------------------------

@pytest.mark.parametrize("key", ["accelerators", "memory_mb", "copies", "autoscaling",
                                 "image", "source"])
def test_an_adapter_has_no_compute_copies_or_model_of_its_own(key):
    value = {"min_copies": 0} if key == "autoscaling" else 1
    found = problems(seed(adapters=[adapter(**{key: value})]))
    assert found == {f"{BASE_PATH}.adapters[0] (naver-news-lora)": (
        f"{key}: an adapter has no model, compute, copies or scaling of its own (it runs in "
        "each copy of the component it is listed under): set them on that component; an "
        "adapter takes name, artifact and kms_key_arn")}


def test_an_adapter_is_one_tar_gz_not_a_prefix():
    found = problems(seed(adapters=[adapter(artifact="s3://my-llm-artifacts-bucket/lora/")]))
    (message,) = found.values()
    assert "'s3://my-llm-artifacts-bucket/lora/'" in message
    assert "one .tar.gz archive" in message


def test_adapters_need_a_base_on_one_instance_type():
    """Fallback types give the base one Specification per type; an adapter has only the
    singular Specification (cfn-lint 1.58), so the pair is refused before any synth."""
    data = seed()
    data["endpoints"][1]["fallback_instance_types"] = ["ml.g6.2xlarge"]
    found = problems(data)
    assert found == {f"{BASE_PATH}.adapters": (
        "adapters on an endpoint with fallback_instance_types ['ml.g6.2xlarge']: the base "
        "would get one Specification per instance type, and an adapter takes only the "
        "singular Specification (cfn-lint 1.58) of a base on one type; put the base and its "
        "adapters on an endpoint without fallback types")}


def test_a_tgi_base_does_not_serve_adapters():
    data = copy.deepcopy(config_data("seed-components"))
    data["endpoints"][0]["components"][0]["adapters"] = [adapter(name="on-tgi")]
    found = problems(data)
    assert found == {"endpoints[0] (llama3).components[0] (naver-news).adapters": (
        "'naver-news' runs TGI 3.3.6, which does not load adapter inference components; "
        "list adapters under a component with one of these images: vllm, lmi")}


def test_adapter_names_are_unique_among_components_and_adapters():
    found = problems(seed(adapters=[adapter(name="base"), adapter(name="extra"),
                                    adapter(name="extra")]))
    assert found == {
        f"{BASE_PATH}.adapters[0] (base).name":
            "'base' is used by another component or adapter of this endpoint",
        f"{BASE_PATH}.adapters[2] (extra).name":
            "'extra' is used by another component or adapter of this endpoint"}


def test_an_adapter_name_beyond_63_characters_names_the_field():
    name = "a" * 31
    data = seed(adapters=[adapter(name=name)])
    data["endpoints"][1]["endpoint_name"] = "e" * 40
    found = problems(data)
    key = f"{BASE_PATH}.adapters[0] ({name}).name"
    assert found[key] == (f"the component name {'e' * 40 + '-' + name!r} is longer than 63 "
                          "characters; shorten it or endpoint_name")


def test_the_base_may_not_turn_lora_off():
    found = problems(seed(environment={"OPTION_ENABLE_LORA": "false"}))
    assert found == {f"{BASE_PATH}.environment.OPTION_ENABLE_LORA":
                     "'false' would override 'true', which the adapters need (LoRA on); "
                     "remove it"}


def test_an_adapter_kms_key_must_be_a_key_arn():
    found = problems(seed(adapters=[adapter(kms_key_arn="alias/mine")]))
    assert list(found) == [f"{BASE_PATH}.adapters[0] (naver-news-lora).kms_key_arn"]


def _base_environment(data: dict) -> dict[str, str]:
    ep = parse_config(data).endpoints[1]
    base = next(c for c in ep.components or [] if c.name == "base")
    return container_environment(ep.component_view(base))


def test_a_base_with_adapters_turns_lora_on_as_its_engine_spells_it():
    """LMI: OPTION_ENABLE_LORA; vLLM: --enable-lora as the DLC's SM_VLLM_ variable (empty:
    the bare flag) and vLLM's run-time adapter loading. Without adapters: neither."""
    assert _base_environment(seed())["OPTION_ENABLE_LORA"] == "true"
    vllm = _base_environment(seed(image={"vllm": "0.30.0"}))
    assert (vllm["SM_VLLM_ENABLE_LORA"], vllm["VLLM_ALLOW_RUNTIME_LORA_UPDATING"]) == ("", "true")
    plain = _base_environment(seed(adapters=[]))
    assert "OPTION_ENABLE_LORA" not in plain


# -- the template ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template() -> dict:
    return synthesize("seed-components").endpoint("lora")


def _component(template: dict, name: str) -> tuple[str, dict]:
    (found,) = [(lid, r) for lid, r in resources(template, "AWS::SageMaker::InferenceComponent")
                .items() if r["Properties"]["InferenceComponentName"] == f"{ENDPOINT}-{name}"]
    return found


def test_the_adapter_component_names_its_base_and_archive_and_nothing_else(template):
    _, adapter_ic = _component(template, "naver-news-lora")
    base_id, _ = _component(template, "base")
    endpoint_id = next(iter(resources(template, "AWS::SageMaker::Endpoint")))
    assert adapter_ic["Properties"] == {
        "EndpointName": {"Fn::GetAtt": [endpoint_id, "EndpointName"]},
        "InferenceComponentName": f"{ENDPOINT}-naver-news-lora",
        "Specification": {"BaseInferenceComponentName": f"{ENDPOINT}-base",
                          "Container": {"ArtifactUrl": ARTIFACT}},
        "Tags": [{"Key": "project", "Value": "llm-seed-ic"}],
    }
    assert adapter_ic["DependsOn"] == [base_id]


def test_the_role_reads_exactly_the_adapter_archive(template):
    arn = "arn:${Partition}:s3:::" + ARTIFACT.removeprefix("s3://")

    def text(resource: object) -> str:
        if isinstance(resource, dict) and "Fn::Join" in resource:
            return "".join("${Partition}" if part == {"Ref": "AWS::Partition"}
                           else part if isinstance(part, str) else json.dumps(part)
                           for part in resource["Fn::Join"][1])
        return str(resource)

    grants = [(action, text(r)) for s in statements(template) for action in
              ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
              for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    adapter_reads = [g for g in grants if "/llama3-8b-naver-news/adapter" in g[1]]
    assert adapter_reads == [("s3:GetObject", arn)]
    listing = [s for s in statements(template) if s["Action"] == "s3:ListBucket"
               and "adapter" in json.dumps(s["Condition"])]
    assert [s["Condition"] for s in listing] == [
        {"StringLike": {"s3:prefix": ["llama3-8b-naver-news/adapter/adapter.tar.gz"]}}]


def test_the_stack_names_the_adapter_component_for_the_client(template):
    outputs = {k: v["Value"] for k, v in template["Outputs"].items()}
    assert outputs["ANaverNewsLoraComponentName"] == f"{ENDPOINT}-naver-news-lora"
    names = component_names({"EndpointName": ENDPOINT, **outputs})
    assert names["naver-news-lora"] == f"{ENDPOINT}-naver-news-lora"


def test_the_base_model_loads_adapters(template):
    base = _component(template, "base")[1]["Properties"]["Specification"]
    model = template["Resources"][base["ModelName"]["Fn::GetAtt"][0]]
    assert model["Properties"]["PrimaryContainer"]["Environment"]["OPTION_ENABLE_LORA"] == "true"


# -- the construct, without the app -------------------------------------------------------

def test_an_encrypted_adapter_is_decrypted_with_exactly_its_key_and_checked_by_the_construct():
    """A cheap stack (no network, images or app): add_adapters on one base component."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from llm_constructs import ComponentEndpoint, SageMakerExecutionRole
    from stacks import translate

    key = "arn:aws:kms:ap-northeast-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ep = parse_config(seed(adapters=[adapter(kms_key_arn=key)])).endpoints[1]
    base = next(c for c in ep.components or [] if c.name == "base")
    # Without CDK's built-in validation (about 6 s of CPU here): test_lint_and_nag lints
    # the real template.
    stack = cdk.Stack(cdk.App(builtin_cloud_formation_validation=False), "Adapters")
    role = SageMakerExecutionRole(stack, "Role")
    endpoint = ComponentEndpoint(stack, "Components", instance_type=ep.instance_type,
                                 execution_role=role, endpoint_name=ENDPOINT)
    component = endpoint.add_component("CBase", image_uri="img", memory_mb=1024,
                                       component_name=f"{ENDPOINT}-base", accelerators=1)
    translate.add_adapters(stack, role, component, base, ENDPOINT)
    decrypt = [s for s in statements(Template.from_stack(stack).to_json())
               if s.get("Sid") == "DecryptAdapterANaverNewsLora"]
    assert [(s["Action"], s["Resource"]) for s in decrypt] == [("kms:Decrypt", key)]
    assert list(component.adapters) == ["ANaverNewsLora"]
    with pytest.raises(ValueError, match=r"an adapter is one s3://bucket/key\.tar\.gz"):
        component.add_adapter("Prefix", component_name="x", artifact_url="s3://b/lora/")
    with pytest.raises(ValueError, match="is not an inference component name"):
        component.add_adapter("Bad", component_name="-x", artifact_url=ARTIFACT)
