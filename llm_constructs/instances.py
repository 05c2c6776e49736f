"""Facts about SageMaker hosting instance types.

* Valid real-time instance types come from botocore's SageMaker service model
  (the ``ProductionVariantInstanceType`` enum), so they follow the pinned botocore.
* GPUs, GPU memory, host memory and CPU architecture per type are generated data
  (``data/instances.json``, written by ``tools/aws_facts/instances.py``): GPU figures from
  sagemaker-core's ``instance_gpu_info.json``, else from EC2 ``DescribeInstanceTypes`` as
  Karpenter's generated reference gives it; each entry names its source. Memory is in MiB
  as EC2 reports it (an A10G: 22,888 MiB, 22.35 GiB). A type no source lists carries the
  reason instead of figures, and is not guessed.
* Families with local NVMe instance storage. Source: SageMaker "Host instance storage
  volumes", https://docs.aws.amazon.com/sagemaker/latest/dg/host-instance-storage.html:
  on these, the production variant accepts neither ``VolumeSizeInGB`` nor a
  ``KmsKeyId`` (the local volume is encrypted by the instance's hardware module).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from .botocore_data import service_model

DATA = Path(__file__).resolve().parent / "data" / "instances.json"


@lru_cache(maxsize=1)
def realtime_instance_types() -> frozenset[str]:
    """Every instance type a SageMaker production variant accepts (botocore's enum).
    Read from the raw service model: building botocore's ServiceModel took 4x longer
    (0.22 s against 0.05 s here), on every synth."""
    shapes = service_model("sagemaker")["shapes"]
    return frozenset(shapes["ProductionVariantInstanceType"]["enum"])


@lru_cache(maxsize=1)
def facts_table() -> dict[str, dict[str, Any]]:
    """Instance type -> its generated facts (``kind``: gpu, neuron, cpu or accelerator)."""
    return json.loads(DATA.read_text())["types"]


def facts(instance_type: str) -> dict[str, Any]:
    """The generated facts of a type; ``{}`` for a type the table does not have."""
    return facts_table().get(instance_type, {})


def _gpu_counts() -> dict[str, int]:
    return {t: f["gpus"] for t, f in facts_table().items() if f["kind"] == "gpu" and "gpus" in f}


#: NVIDIA GPUs per GPU instance type with a sourced figure.
GPU_COUNT: dict[str, int] = _gpu_counts()

#: Instance families whose hosts have local NVMe instance storage.
INSTANCE_STORE_FAMILIES: frozenset[str] = frozenset({
    "m5d", "c5d", "r5d", "m6gd", "c6gd", "r6gd", "r7gd",
    "g4dn", "g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en",
    "trn1", "trn1n", "trn2", "dl1",
})


def family(instance_type: str) -> str:
    """``ml.g5.2xlarge`` -> ``g5``."""
    parts = instance_type.split(".")
    return parts[1] if len(parts) == 3 else ""


def gpu_count(instance_type: str) -> int | None:
    """GPUs of an instance type; 0 for a CPU type; None when no source gives a figure
    (a GPU type without one, Neuron and other accelerators, a type not in the table)."""
    return facts(instance_type).get("gpus")


def is_neuron(instance_type: str) -> bool:
    """AWS Inferentia / Trainium: models must be compiled for Neuron and run on a Neuron
    image."""
    return facts(instance_type).get("kind") == "neuron"


def unknown_reason(instance_type: str) -> str | None:
    """Why the table has no figures for an accelerated type (no source lists it)."""
    return facts(instance_type).get("unknown")


def _gib(mib: int | None) -> float | None:
    """MiB -> GiB; a whole number stays an int (16384 -> 16)."""
    if mib is None:
        return None
    return mib // 1024 if mib % 1024 == 0 else mib / 1024


def memory_gib(instance_type: str) -> float | None:
    """GiB of host memory, or None when no source gives it."""
    return _gib(facts(instance_type).get("memory_mib"))


def has_instance_store(instance_type: str) -> bool:
    return family(instance_type) in INSTANCE_STORE_FAMILIES


def gpu_memory_gib(instance_type: str) -> float | None:
    """GiB per GPU, or None when no source gives it."""
    return _gib(facts(instance_type).get("gpu_memory_mib"))


#: Bytes per parameter of the weights' dtype.
DTYPE_BYTES: dict[str, float] = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1, "int4": 0.5}

#: Memory beyond the weights: KV cache, activations, CUDA context. A planning figure
#: (the Hugging Face guidance for LLM hosting uses ~20%), not a guarantee.
HEADROOM = 1.2


def required_gpu_memory_gib(parameters_billions: float, dtype: str) -> float:
    weights = parameters_billions * 1e9 * DTYPE_BYTES[dtype] / 2**30
    return weights * HEADROOM


#: Families suggested when an instance is too small (bf16-capable, current generation).
SUGGESTED_FAMILIES = ("g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en")


def smallest_fitting(need_gib: float, prefer_family: str | None = None) -> str | None:
    """The instance type with the least total GPU memory that holds ``need_gib`` (fewest
    GPUs, then the least host memory, on a tie): in ``prefer_family`` if one fits there,
    else among the current bf16-capable families."""
    def fits(families) -> list[tuple]:
        out = []
        for itype, gpus in GPU_COUNT.items():
            per_gpu = gpu_memory_gib(itype)
            if (family(itype) in families and per_gpu and gpus * per_gpu >= need_gib
                    and itype in realtime_instance_types()):
                out.append((gpus * per_gpu, gpus, memory_gib(itype) or 0, itype))
        return out

    candidates = (fits({prefer_family}) if prefer_family else []) or fits(SUGGESTED_FAMILIES)
    return min(candidates)[3] if candidates else None
