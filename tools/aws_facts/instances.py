#!/usr/bin/env python3
"""Generate the instance facts (GPUs, GPU memory, host memory) from machine-readable sources.

    python tools/aws_facts/instances.py [--karpenter-git-dir DIR] [--out FILE]

Every type of botocore's ``ProductionVariantInstanceType`` enum (the pinned botocore) gets an
entry in ``llm_constructs/data/instances.json``, with the source of its figures:

* GPU count and memory: the ``instance_gpu_info.json`` of the installed ``sagemaker-core``
  (the SDK's table, per region; every region must agree), read as a data file from the
  installed distribution, without importing it;
* for types the SDK lacks, and host memory and CPU architecture for every type: the instance
  type reference Karpenter generates from EC2 ``DescribeInstanceTypes``
  (``hack/docs/instancetypes_gen``), at a pinned commit of aws/karpenter-provider-aws.

Memory stays in MiB as the sources give it (EC2 reports an A10G as 22,888 MiB, 22.35 GiB,
not the marketing 24 GB). A type in neither source is not guessed: it needs a written
reason in ``UNSOURCED`` or the tool fails.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import subprocess
from pathlib import Path

import botocore
from botocore.loaders import Loader

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "llm_constructs" / "data" / "instances.json"
GPU_INFO = "sagemaker/core/image_uri_config/instance_gpu_info.json"
KARPENTER_REPO = "aws/karpenter-provider-aws"
KARPENTER_COMMIT = "1d927085dd81a9df9301e613f371dac5b4d16bfe"
KARPENTER_PATH = "website/content/en/preview/reference/instance-types.md"
KARPENTER_GIT_DIR = Path("/work/.mirror/aws+karpenter-provider-aws/repo")

#: Types of the enum that no source lists: their kind and why there are no figures.
UNSOURCED: dict[str, tuple[str, str]] = {
    "ml.p6e-gb200.36xlarge": (
        "gpu", "no machine-readable source: not in sagemaker-core's instance_gpu_info.json, "
               "and Karpenter's EC2 DescribeInstanceTypes reference does not list it (it is "
               "sold as part of P6e-GB200 UltraServers)"),
    "ml.dl1.24xlarge": (
        "accelerator", "Habana Gaudi accelerators (not NVIDIA GPUs); in neither "
                       "sagemaker-core's instance_gpu_info.json nor Karpenter's EC2 reference"),
}


def enum_types() -> list[str]:
    raw = Loader().load_service_model("sagemaker", "service-2")
    return sorted(raw["shapes"]["ProductionVariantInstanceType"]["enum"])


def sdk_gpu_info() -> tuple[str, dict[str, dict]]:
    """``(source, type -> {Count, TotalGpuMemoryInMiB})`` from the installed sagemaker-core;
    fails if two regions disagree about a type."""
    dist = importlib.metadata.distribution("sagemaker-core")
    per_region = json.loads(Path(str(dist.locate_file(GPU_INFO))).read_text())
    facts: dict[str, dict] = {}
    for region, types in per_region.items():
        for itype, info in types.items():
            if facts.setdefault(itype, info) != info:
                raise SystemExit(f"sagemaker-core: {itype} in {region} is {info}, "
                                 f"elsewhere {facts[itype]}")
    return f"sagemaker-core=={dist.version}:{GPU_INFO}", facts


def karpenter_text(git_dir: Path | None) -> tuple[str, str]:
    """The reference at the pinned commit, from a clone or mirror of the repository (the
    commit is what the source names, so nothing else is read)."""
    text = subprocess.run(
        ["git", f"--git-dir={git_dir or KARPENTER_GIT_DIR}", "show",
         f"{KARPENTER_COMMIT}:{KARPENTER_PATH}"],
        check=True, capture_output=True, text=True).stdout
    return f"{KARPENTER_REPO}@{KARPENTER_COMMIT}:{KARPENTER_PATH}", text


def karpenter_labels(text: str) -> dict[str, dict[str, str]]:
    """EC2 type -> its labels (``instance-gpu-count`` ... without the prefix; ``arch``)."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        heading = re.match(r"^### `([^`]+)`", line)
        if heading:
            current = out.setdefault(heading.group(1), {})
        elif current is not None and line.lstrip().startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 2 and cells[0].startswith("karpenter.k8s.aws/instance-"):
                current[cells[0].removeprefix("karpenter.k8s.aws/instance-")] = cells[1]
            elif len(cells) == 2 and cells[0] == "kubernetes.io/arch":
                current["arch"] = cells[1]
    return out


def sdk_entry(info: dict, source: str) -> dict:
    count, total = info["Count"], info["TotalGpuMemoryInMiB"]
    if total % count:
        raise SystemExit(f"{source}: {total} MiB is not a whole number per GPU of {count}")
    return {"kind": "gpu", "gpus": count, "gpu_memory_mib": total // count,
            "gpu_source": source}


def ec2_entry(labels: dict[str, str], source: str) -> dict:
    if "gpu-count" in labels:
        return {"kind": "gpu", "gpus": int(labels["gpu-count"]),
                "gpu_memory_mib": int(labels["gpu-memory"]), "gpu_name": labels["gpu-name"],
                "gpu_source": source}
    if labels.get("accelerator-manufacturer") == "aws":
        return {"kind": "neuron", "gpus": 0, "accelerators": int(labels["accelerator-count"]),
                "accelerator_name": labels["accelerator-name"], "accelerator_source": source}
    return {"kind": "cpu", "gpus": 0}


def entry(itype: str, sdk: tuple[str, dict], ec2: tuple[str, dict]) -> dict:
    """One type's facts: GPUs from the SDK, else from EC2; host memory and arch from EC2."""
    (sdk_source, sdk_facts), (ec2_source, ec2_facts) = sdk, ec2
    labels = ec2_facts.get(itype.removeprefix("ml."))
    if itype in sdk_facts:
        facts = sdk_entry(sdk_facts[itype], sdk_source)
    elif labels is not None:
        facts = ec2_entry(labels, ec2_source)
    elif itype in UNSOURCED:
        kind, reason = UNSOURCED[itype]
        return {"kind": kind, "unknown": reason}
    else:
        raise SystemExit(f"{itype}: in no source; add it to UNSOURCED with a reason")
    if labels is not None:
        facts.update(memory_mib=int(labels["memory"]), arch=labels["arch"],
                     host_source=ec2_source)
    return facts


def generate(git_dir: Path | None = None) -> dict:
    sdk = sdk_gpu_info()
    source, text = karpenter_text(git_dir)
    ec2 = (source, karpenter_labels(text))
    return {
        "_about": "Generated by tools/aws_facts/instances.py; do not edit. Every type of "
                  f"botocore=={botocore.__version__} ProductionVariantInstanceType, with the "
                  "source of its figures. Memory in MiB as the sources give it.",
        "_sources": {"enum": f"botocore=={botocore.__version__}:sagemaker/2017-07-24/"
                             "service-2.json ProductionVariantInstanceType",
                     "gpu": sdk[0], "ec2": source},
        "types": {itype: entry(itype, sdk, ec2) for itype in enum_types()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--karpenter-git-dir", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = generate(args.karpenter_git_dir)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    kinds: dict[str, int] = {}
    for facts in data["types"].values():
        kinds[facts["kind"]] = kinds.get(facts["kind"], 0) + 1
    print(f"{args.out}: {len(data['types'])} types, {kinds}")


if __name__ == "__main__":
    main()
