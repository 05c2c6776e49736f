"""Instance facts are generated from their sources (llm_constructs/data/instances.json) and
drive the accelerator and sizing rules."""

from __future__ import annotations

import copy
import importlib.metadata
import json
from pathlib import Path

import pytest

from config import parse_config
from llm_constructs import instances
from tests.helpers import changed, config_data, dev_with, problems
from tools.aws_facts import instances as tool

EP = "endpoints[0] (chat)"
DATA = json.loads(instances.DATA.read_text())


def sdk_gpu_info() -> dict[str, dict[str, dict]]:
    dist = importlib.metadata.distribution("sagemaker-core")
    return json.loads(Path(str(dist.locate_file(tool.GPU_INFO))).read_text())


# -- the data file against its sources --------------------------------------------------------
def test_every_sdk_figure_is_the_committed_one_in_every_region():
    dist_version = importlib.metadata.version("sagemaker-core")
    checked = set()
    for region, types in sdk_gpu_info().items():
        for itype, info in types.items():
            if itype not in instances.realtime_instance_types():
                assert itype not in DATA["types"], itype
                continue
            facts = DATA["types"][itype]
            assert (facts["gpus"], facts["gpus"] * facts["gpu_memory_mib"]) == (
                info["Count"], info["TotalGpuMemoryInMiB"]), (region, itype)
            assert facts["gpu_source"] == f"sagemaker-core=={dist_version}:{tool.GPU_INFO}"
            checked.add(itype)
    assert len(checked) == 22  # the SDK's types that production variants accept


def test_every_type_of_the_pinned_enum_has_an_entry_and_nothing_else():
    assert set(DATA["types"]) == instances.realtime_instance_types()


def test_every_gpu_type_has_sourced_figures_or_a_written_reason():
    gpu_named = {t for t in DATA["types"]
                 if instances.family(t)[:1] in "gp" and instances.family(t)[1:2].isdigit()}
    gpu_kind = {t for t, f in DATA["types"].items() if f["kind"] == "gpu"}
    assert gpu_named == gpu_kind and len(gpu_kind) == 57
    for itype in gpu_kind:
        facts = DATA["types"][itype]
        if "unknown" in facts:
            assert itype in tool.UNSOURCED and "gpus" not in facts
        else:
            assert facts["gpus"] > 0 and facts["gpu_memory_mib"] > 0, itype
            assert facts["gpu_source"].startswith(("sagemaker-core==", tool.KARPENTER_REPO))
    assert {t for t in gpu_kind if "unknown" in DATA["types"][t]} == {"ml.p6e-gb200.36xlarge"}


def test_the_sdk_first_then_ec2_for_the_types_it_lacks():
    sources = [f.get("gpu_source", "").split("==")[0].split("@")[0]
               for f in DATA["types"].values() if f["kind"] == "gpu"]
    assert (sources.count("sagemaker-core"), sources.count(tool.KARPENTER_REPO)) == (22, 34)


@pytest.mark.skipif(not tool.KARPENTER_GIT_DIR.exists(),
                    reason="needs the aws/karpenter-provider-aws mirror (tools/aws_facts)")
def test_the_data_file_is_what_the_tool_generates():
    assert tool.generate() == DATA


KARPENTER_EXCERPT = """\
### `g7.12xlarge`
#### Labels
 | Label | Value |
 |--|--|
 |karpenter.k8s.aws/instance-gpu-count|2|
 |karpenter.k8s.aws/instance-gpu-memory|32768|
 |karpenter.k8s.aws/instance-gpu-name|rtx-pro-4500|
 |karpenter.k8s.aws/instance-memory|196608|
 |kubernetes.io/arch|amd64|
#### Resources
 | Resource | Quantity |
 |--|--|
 |memory|180000Mi|
### `inf2.xlarge`
#### Labels
 | Label | Value |
 |--|--|
 |karpenter.k8s.aws/instance-accelerator-count|1|
 |karpenter.k8s.aws/instance-accelerator-manufacturer|aws|
 |karpenter.k8s.aws/instance-accelerator-name|inferentia2|
 |karpenter.k8s.aws/instance-memory|16384|
 |kubernetes.io/arch|amd64|
"""


def test_karpenter_reference_is_read_per_type():
    labels = tool.karpenter_labels(KARPENTER_EXCERPT)
    assert tool.ec2_entry(labels["g7.12xlarge"], "src") == {
        "kind": "gpu", "gpus": 2, "gpu_memory_mib": 32768, "gpu_name": "rtx-pro-4500",
        "gpu_source": "src"}
    assert tool.ec2_entry(labels["inf2.xlarge"], "src") == {
        "kind": "neuron", "gpus": 0, "accelerators": 1, "accelerator_name": "inferentia2",
        "accelerator_source": "src"}
    assert labels["inf2.xlarge"]["memory"] == "16384"


def test_a_type_in_no_source_needs_a_written_reason():
    with pytest.raises(SystemExit, match=r"ml\.x9\.large: in no source"):
        tool.entry("ml.x9.large", ("sdk", {}), ("ec2", {}))
    assert tool.entry("ml.dl1.24xlarge", ("sdk", {}), ("ec2", {}))["kind"] == "accelerator"


def test_sdk_memory_that_does_not_divide_by_the_gpus_is_refused():
    with pytest.raises(SystemExit, match="whole number"):
        tool.sdk_entry({"Count": 8, "TotalGpuMemoryInMiB": 183105}, "src")


# -- the accessors ----------------------------------------------------------------------------
@pytest.mark.parametrize("itype, gpus, per_gpu_gib", [
    ("ml.g5.xlarge", 1, 22888 / 1024),      # EC2's figure: the SDK lacks g5.xlarge
    ("ml.g5.2xlarge", 1, 24),               # the SDK's figure
    ("ml.g7.12xlarge", 2, 32),              # not 4: the g5 size pattern does not hold for g7
    ("ml.g7e.48xlarge", 8, 96),
    ("ml.p6-b300.48xlarge", 8, 275040 / 1024),
    ("ml.m5.xlarge", 0, None),
    ("ml.inf2.xlarge", 0, None),
    ("ml.p6e-gb200.36xlarge", None, None),
])
def test_gpu_facts(itype, gpus, per_gpu_gib):
    assert (instances.gpu_count(itype), instances.gpu_memory_gib(itype)) == (gpus, per_gpu_gib)


def test_host_memory_and_kinds():
    assert instances.memory_gib("ml.g5.xlarge") == 16
    assert instances.memory_gib("ml.p2.xlarge") is None  # only the SDK lists p2: no host figure
    assert instances.is_neuron("ml.trn2.48xlarge") and not instances.is_neuron("ml.g5.xlarge")
    assert "UltraServers" in (instances.unknown_reason("ml.p6e-gb200.36xlarge") or "")


def test_suggestion_ranks_by_memory_then_size():
    assert instances.smallest_fitting(20, "g5") == "ml.g5.xlarge"  # 22.35 GiB (EC2's figure)
    # 24 GiB (the SDK's figure) on g5.2xlarge to 16xlarge: the least host memory wins
    assert instances.smallest_fitting(23, "g5") == "ml.g5.2xlarge"
    assert instances.smallest_fitting(23, "g6") == "ml.g6.12xlarge"  # one L4 is 22.35 GiB


# -- the rules --------------------------------------------------------------------------------
def backend_with(index: int, **changes) -> tuple[str, dict]:
    """backends.yaml's endpoint ``index`` alone, with changes, and its path."""
    data = copy.deepcopy(config_data("backends"))
    data["endpoints"] = data["endpoints"][index:index + 1]
    name = data["endpoints"][0]["name"]
    return f"endpoints[0] ({name})", changed(data, **{f"endpoints.0.{k}": v
                                                      for k, v in changes.items()})


@pytest.mark.parametrize("itype", ["ml.inf2.xlarge", "ml.trn1.32xlarge"])
def test_neuron_types_need_a_neuron_image_one_line(itype):
    found = problems(dev_with(**{"endpoints.0.instance_type": itype}))
    assert [p for p in found if p.startswith(EP)] == [f"{EP}.instance_type"]
    msg = found[f"{EP}.instance_type"]
    assert itype in msg and "compiled for Neuron" in msg and "neuronx" in msg


def test_neuron_types_for_an_engine_and_the_pytorch_dlc():
    path, data = backend_with(1, instance_type="ml.inf2.8xlarge")
    assert "Neuron" in problems(data)[f"{path}.instance_type"]
    data = config_data("seed-containers")
    data["endpoints"] = data["endpoints"][:1]
    data = changed(data, **{"endpoints.0.instance_type": "ml.inf2.xlarge"})
    name = data["endpoints"][0]["name"]
    assert "Neuron" in problems(data)[f"endpoints[0] ({name}).instance_type"]


def test_an_image_of_your_own_may_run_on_neuron():
    data = config_data("seed-containers")
    data["endpoints"] = [e for e in data["endpoints"] if "build" in e["image"]]
    data = changed(data, **{"endpoints.0.instance_type": "ml.inf2.xlarge"})
    assert parse_config(data).endpoints[0].instance_type == "ml.inf2.xlarge"


@pytest.mark.parametrize("itype", ["ml.c7g.xlarge", "ml.m6g.large"])
def test_graviton_types_are_refused_for_our_images(itype):
    data = config_data("seed-containers")
    data["endpoints"] = data["endpoints"][:1]
    data = changed(data, **{"endpoints.0.instance_type": itype})
    name = data["endpoints"][0]["name"]
    msg = problems(data)[f"endpoints[0] ({name}).instance_type"]
    assert itype in msg and "arm64" in msg and "x86_64" in msg


def test_arch_comes_from_ec2():
    arches = {t: f.get("arch") for t, f in DATA["types"].items()}
    assert arches["ml.c7g.xlarge"] == "arm64" and arches["ml.g5.xlarge"] == "amd64"
    assert sum(a == "arm64" for a in arches.values()) == 94


def test_gaudi_is_refused_for_our_images():
    msg = problems(dev_with(**{"endpoints.0.instance_type": "ml.dl1.24xlarge"}))
    assert "Habana Gaudi" in msg[f"{EP}.instance_type"]


def test_a_type_of_unknown_gpus_and_architecture_is_refused_for_an_engine():
    path, data = backend_with(1, instance_type="ml.p6e-gb200.36xlarge",
                              **{"serving.tensor_parallel_degree": 4})
    msg = problems(data)[f"{path}.instance_type"]
    assert "no source gives the GPUs or the CPU architecture of ml.p6e-gb200.36xlarge" in msg


def test_sizing_uses_the_source_figure():
    # 16B in bf16 ~ 35.8 GiB: more than 1 x 22.35 GiB... and than 1 x 24 GiB
    data = dev_with(**{"endpoints.0.instance_type": "ml.g6.2xlarge",
                       "endpoints.0.model_size": {"parameters_billions": 16}})
    assert "gives 22.4 GiB (1 GPU(s) x 22.4 GiB)" in problems(data)[f"{EP}.instance_type"]
