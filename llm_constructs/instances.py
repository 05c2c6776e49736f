"""Facts about SageMaker hosting instance types.

* Valid real-time instance types come from botocore's SageMaker service model
  (the ``ProductionVariantInstanceType`` enum), so they follow the pinned botocore.
* GPU counts are a hand-kept table. Source: "Amazon EC2 accelerated computing
  instance specifications", https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html
  (the ``ml.`` SageMaker types have the GPUs of the EC2 type of the same name).
  A type missing here is not guessed: an endpoint on it must set ``sm_num_gpus``.
* GPU memory per GPU, GiB, from the same EC2 specification pages ("GPU memory"); families
  without a sourced figure are left out and skipped by the sizing check.
* Host memory, GiB, from the same EC2 pages ("Memory (GiB)"), for the accelerated
  families the sizing and inference-component checks use; others are skipped, not guessed.
* Families with local NVMe instance storage. Source: SageMaker "Host instance storage
  volumes", https://docs.aws.amazon.com/sagemaker/latest/dg/host-instance-storage.html:
  on these, the production variant accepts neither ``VolumeSizeInGB`` nor a
  ``KmsKeyId`` (the local volume is encrypted by the instance's hardware module).
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def realtime_instance_types() -> frozenset[str]:
    """Every instance type a SageMaker production variant accepts (botocore's enum).
    Read from the raw service model: building botocore's ServiceModel took 4x longer
    (0.22 s against 0.05 s here), on every synth."""
    from botocore.loaders import Loader

    raw = Loader().load_service_model("sagemaker", "service-2")
    return frozenset(raw["shapes"]["ProductionVariantInstanceType"]["enum"])


def _sizes(family: str, counts: dict[str, int]) -> dict[str, int]:
    return {f"ml.{family}.{size}": n for size, n in counts.items()}


_G5_LIKE = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1,
            "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}

#: NVIDIA GPUs per instance type.
GPU_COUNT: dict[str, int] = {
    **_sizes("p2", {"xlarge": 1, "8xlarge": 8, "16xlarge": 16}),
    **_sizes("p3", {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}),
    **_sizes("g4dn", {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1,
                      "12xlarge": 4}),
    **_sizes("g5", _G5_LIKE),
    **_sizes("g6", _G5_LIKE),
    **_sizes("g6e", _G5_LIKE),
    "ml.p4d.24xlarge": 8,
    "ml.p4de.24xlarge": 8,
    "ml.p5.4xlarge": 1,
    "ml.p5.48xlarge": 8,
    "ml.p5e.48xlarge": 8,
    "ml.p5en.48xlarge": 8,
    "ml.p6-b200.48xlarge": 8,
}

#: GiB of memory per GPU, by family (T4, A10G, L4, L40S, V100, A100 40/80, H100, H200).
GPU_MEMORY_GIB: dict[str, int] = {
    "g4dn": 16, "g5": 24, "g6": 24, "g6e": 48, "p3": 16,
    "p4d": 40, "p4de": 80, "p5": 80, "p5e": 141, "p5en": 141,
}

_G5_MEMORY = {"xlarge": 16, "2xlarge": 32, "4xlarge": 64, "8xlarge": 128, "16xlarge": 256,
              "12xlarge": 192, "24xlarge": 384, "48xlarge": 768}

#: GiB of host memory per instance type.
MEMORY_GIB: dict[str, int] = {
    **_sizes("g4dn", {k: v for k, v in _G5_MEMORY.items() if k not in ("24xlarge", "48xlarge")}),
    **_sizes("g5", _G5_MEMORY),
    **_sizes("g6", _G5_MEMORY),
    **_sizes("g6e", {k: 2 * v for k, v in _G5_MEMORY.items()}),
    "ml.p4d.24xlarge": 1152, "ml.p4de.24xlarge": 1152,
    "ml.p5.48xlarge": 2048, "ml.p5e.48xlarge": 2048, "ml.p5en.48xlarge": 2048,
}

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
    """GPUs of an instance type; 0 for a CPU type; None when the table does not know it."""
    if instance_type in GPU_COUNT:
        return GPU_COUNT[instance_type]
    fam = family(instance_type)
    if fam.startswith(("g", "p")) and fam[1:2].isdigit():
        return None  # an accelerated family we have no sourced figure for
    return 0


def memory_gib(instance_type: str) -> int | None:
    """GiB of host memory, or None when not in the table."""
    return MEMORY_GIB.get(instance_type)


def has_instance_store(instance_type: str) -> bool:
    return family(instance_type) in INSTANCE_STORE_FAMILIES


def gpu_memory_gib(instance_type: str) -> int | None:
    """GiB per GPU, or None when not in the table."""
    return GPU_MEMORY_GIB.get(family(instance_type))


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
    GPUs, then the smallest size, on a tie): in ``prefer_family`` if one fits there, else
    among the current bf16-capable families."""
    def fits(families) -> list[tuple]:
        out = []
        for rank, (itype, gpus) in enumerate(GPU_COUNT.items()):
            per_gpu = gpu_memory_gib(itype)
            if (family(itype) in families and per_gpu and gpus * per_gpu >= need_gib
                    and itype in realtime_instance_types()):
                out.append((gpus * per_gpu, gpus, rank, itype))
        return out

    candidates = (fits({prefer_family}) if prefer_family else []) or fits(SUGGESTED_FAMILIES)
    return min(candidates)[3] if candidates else None
