"""Which SageMaker inference AMI (``InferenceAmiVersion``) an image needs.

SageMaker's default host AMI carries an NVIDIA driver too old for the CUDA 12.9 and 13
images AWS publishes now: such an endpoint fails its health check after 10-20 minutes.
The rule (by the CUDA version in the tag) is data with its sources in
``data/inference_ami.json``; the values a variant accepts are botocore's enum."""

from __future__ import annotations

import json
import re
from functools import cache

from .botocore_data import service_model
from .images import DATA_DIR


@cache
def _rules() -> list[dict]:
    data = json.loads((DATA_DIR / "inference_ami.json").read_text(encoding="utf-8"))
    return sorted(data["by_cuda"], key=lambda r: tuple(r["from_cuda"]), reverse=True)


@cache
def versions() -> tuple[str, ...]:
    """Every ``InferenceAmiVersion`` a production variant accepts (the pinned botocore)."""
    shapes = service_model("sagemaker")["shapes"]
    return tuple(shapes["ProductionVariantInferenceAmiVersion"]["enum"])


@cache
def accelerators() -> dict[str, str]:
    """AMI -> the accelerator it is for (``gpu`` or ``neuron``), from the documentation of
    ``ProductionVariant.InferenceAmiVersion`` in the pinned botocore ("Accelerator: GPU",
    "Accelerator: Inferentia2 and Trainium")."""
    variant = service_model("sagemaker")["shapes"]["ProductionVariant"]
    doc = variant["members"]["InferenceAmiVersion"]["documentation"]
    found = re.findall(r"<dt>([\w-]+)</dt>\s*<dd>.*?Accelerator: ([^<]+)<", doc, re.S)
    return {ami: "gpu" if what.strip() == "GPU" else "neuron" for ami, what in found}


def cuda_version(tag: str) -> tuple[int, int] | None:
    """``(12, 9)`` for a tag built on CUDA 12.9 (``...-cu129-...``); None for a CPU build."""
    match = re.search(r"(?:^|-)cu(\d+)(\d)(?:-|$)", tag)
    return (int(match[1]), int(match[2])) if match else None


def required_for(tag: str) -> str | None:
    """The AMI an image with ``tag`` needs; None where the default AMI runs it."""
    cuda = cuda_version(tag)
    if cuda is None:
        return None
    return next((r["ami"] for r in _rules() if cuda >= tuple(r["from_cuda"])), None)
