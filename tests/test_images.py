"""Issue 4: DLC image URIs for every region of the published table, both image kinds."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from llm_constructs import images

# Domain and partition per region family, written out here (not read from CDK or the table).
SUFFIX = {"cn-": ("amazonaws.com.cn", "aws-cn"), "us-gov-": ("amazonaws.com", "aws-us-gov"),
          "us-iso-": ("c2s.ic.gov", "aws-iso"), "us-isob-": ("sc2s.sgov.gov", "aws-iso-b"),
          "us-isof-": ("csp.hci.ic.gov", "aws-iso-f"), "eu-isoe-": ("cloud.adc-e.uk", "aws-iso-e"),
          "eusc-": ("amazonaws.eu", "aws-eusc")}

TGI = ("tgi", "3.3.6",
       "huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04")
PYTORCH_GPU = ("pytorch", "4.51.3",
               "huggingface-pytorch-inference:2.6.0-transformers4.51.3-gpu-py312-cu124-ubuntu22.04")

#: Regions the issue names explicitly; both repositories must have them.
REQUIRED = ("ap-east-1", "me-south-1", "eu-south-1", "af-south-1", "il-central-1", "cn-north-1",
            "cn-northwest-1", "us-gov-west-1", "us-gov-east-1")


def _expected(region: str, account: str, image: str) -> tuple[str, str]:
    suffix, partition = "amazonaws.com", "aws"
    for prefix, (s, p) in sorted(SUFFIX.items(), key=lambda kv: -len(kv[0])):
        if region.startswith(prefix):
            suffix, partition = s, p
            break
    repo = image.split(":")[0]
    return (f"{account}.dkr.ecr.{region}.{suffix}/{image}",
            f"arn:{partition}:ecr:{region}:{account}:repository/{repo}")


def _image(kind: str, version: str) -> images.DlcImage:
    return (images.tgi_image(version) if kind == "tgi"
            else images.pytorch_image(version, gpu=True))


def _cases():
    for kind, version, image in (TGI, PYTORCH_GPU):
        for region, account in sorted(_image(kind, version).registries.items()):
            yield pytest.param(kind, version, image, region, account, id=f"{kind}-{region}")


@pytest.mark.parametrize("kind,version,image,region,account", list(_cases()))
def test_image_uri_in_every_region_of_the_table(kind, version, image, region, account):
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111111111111", region=region))
    bound = _image(kind, version).bind(stack)
    assert (bound.image_uri, bound.repository_arn) == _expected(region, account, image)


@pytest.mark.parametrize("kind,version", [("tgi", "3.3.6"), ("pytorch", "4.51.3")])
def test_the_regions_the_issue_names_are_covered(kind, version):
    registries = _image(kind, version).registries
    assert set(REQUIRED) <= set(registries)
    assert len(registries) >= 35


def test_the_two_published_tables_agree_where_they_overlap():
    tgi, pytorch = images.tgi_image("3.3.6").registries, _image("pytorch", "4.51.3").registries
    common = set(tgi) & set(pytorch)
    assert len(common) >= 33
    assert {r: tgi[r] for r in common} == {r: pytorch[r] for r in common}


def test_a_region_without_the_image_is_an_error_naming_the_regions_that_have_it():
    with pytest.raises(images.ImageResolutionError) as info:
        images.backend_image("vllm", "0.23.0").uri_for("us-gov-west-1")
    message = str(info.value)
    assert "vllm:0.23.0-gpu-py312-cu130-ubuntu22.04-sagemaker" in message
    assert "'us-gov-west-1'" in message and "nearest regions with it: ca-central-1" in message


@pytest.mark.parametrize("version,gpu,tag", [
    # seed 000's image, exactly as it deployed it
    ("4.28.1", True, "2.0.0-transformers4.28.1-gpu-py310-cu118-ubuntu20.04"),
    ("4.28.1", False, "2.0.0-transformers4.28.1-cpu-py310-ubuntu20.04"),
    # AWS publishes this one's CPU build on a newer Ubuntu than its GPU build
    ("4.37.0", True, "2.1.0-transformers4.37.0-gpu-py310-cu118-ubuntu20.04"),
    ("4.37.0", False, "2.1.0-transformers4.37.0-cpu-py310-ubuntu22.04"),
    ("4.26.0", False, "1.13.1-transformers4.26.0-cpu-py39-ubuntu20.04"),
    ("5.5.3", False, "2.6.0-transformers5.5.3-cpu-py312-ubuntu22.04"),
])
def test_pytorch_tags_are_built_from_framework_python_cuda_and_os(version, gpu, tag):
    assert images.pytorch_image(version, gpu=gpu).tag == tag


def test_unknown_versions_list_the_known_ones():
    with pytest.raises(images.ImageResolutionError, match=r"4.51.3"):
        images.pytorch_image("2.6.0", gpu=True)
    with pytest.raises(images.ImageResolutionError, match=r"3.3.6"):
        images.tgi_image("9.9.9")


def test_region_agnostic_stacks_get_one_mapping_and_rule_per_image():
    stack = cdk.Stack(cdk.App(), "S")
    images.pytorch_image("4.51.3", gpu=True).bind(stack)
    images.pytorch_image("4.51.3", gpu=True).bind(stack)  # the same image again: shared
    images.tgi_image("3.3.6").bind(stack)
    template = cdk.assertions.Template.from_stack(stack).to_json()
    pytorch = "DlcRegistryHuggingfacePytorchInference260Transformers4513GpuPy312Cu124Ubuntu2204"
    tgi = "DlcRegistryHuggingfacePytorchTgiInference270Tgi336GpuPy311Cu124Ubuntu2204"
    assert sorted(template["Mappings"]) == [pytorch, tgi]
    assert template["Mappings"][pytorch]["il-central-1"] == {"account": "780543022126"}
    assert sorted(template["Rules"]) == ["CheckBootstrapVersion", f"{pytorch}Region",
                                         f"{tgi}Region"]


def test_a_region_agnostic_stack_refuses_regions_without_the_version():
    """The change set fails at once, with the reason, where AWS lists no such image."""
    stack = cdk.Stack(cdk.App(), "S")
    image = images.backend_image("lmi", "0.38.0")
    image.bind(stack)
    rules = cdk.assertions.Template.from_stack(stack).to_json()["Rules"]
    (assertion,) = rules["DlcRegistryDjlInference0380Lmi2900Cu130Region"]["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert region == {"Ref": "AWS::Region"}
    assert regions == sorted(image.registries)
    assert "djl-inference:0.38.0" in assertion["AssertDescription"]
