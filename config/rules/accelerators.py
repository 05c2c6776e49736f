"""The instance's accelerators and CPUs are ones the images this project picks can use."""

from __future__ import annotations

from config.backends import Problem
from config.shapes import ModelSpec
from llm_constructs import instances

_GPU_TYPE = "pick a GPU type (e.g. ml.g5.2xlarge)"


def accelerator_problems(p: str, ep: ModelSpec) -> list[Problem]:
    """For a DLC this project picks (a serving backend or the PyTorch DLC; an image of your
    own is yours to match): a type it cannot run on, or a GPU type whose GPU facts no source
    gives when an engine would shard over all of them."""
    if ep.backend is None and not ep.is_pytorch:
        return []
    problem = _unusable(ep.instance_type) or _unknown_gpus(ep)
    return [(f"{p}.instance_type", problem)] if problem else []


def _unusable(itype: str) -> str | None:
    """Neuron and other non-NVIDIA accelerators; Graviton (arm64) CPUs, for which
    sagemaker-core's image tables list no build of these images."""
    facts = instances.facts(itype)
    if "arch" not in facts and "unknown" in facts:
        return (f"no source gives the GPUs or the CPU architecture of {itype} "
                f"({facts['unknown']}); the images this project picks are x86_64 builds and "
                "would not start on an arm64 host: use an image of your own (uri: or build:) "
                f"or {_GPU_TYPE}")
    if facts.get("arch") == "arm64":
        return (f"{itype} has Graviton (arm64) CPUs; the images this project picks are built "
                "for x86_64 only (sagemaker-core lists no arm64 build of them); pick an x86_64 "
                "type (e.g. ml.m5.xlarge, ml.c6i.xlarge) or an image of your own")
    if facts.get("kind") == "neuron":
        return (f"{itype} has AWS Neuron accelerators (Inferentia/Trainium), no GPU: it needs a "
                "model compiled for Neuron and a Neuron image (such as the LMI neuronx or TGI "
                f"neuronx DLC), which this project does not offer yet; {_GPU_TYPE}")
    if facts.get("kind") == "accelerator":
        return (f"{itype}: {facts['unknown']}; no image this project offers runs on it; "
                f"{_GPU_TYPE}")
    return None


def _unknown_gpus(ep: ModelSpec) -> str | None:
    """TGI's own rule asks for sm_num_gpus; the PyTorch DLC does not shard by config."""
    reason = instances.unknown_reason(ep.instance_type)
    if reason is None or ep.backend is None or ep.is_tgi:
        return None
    if ep.serving is not None and ep.serving.tensor_parallel_degree is not None:
        return None
    return (f"the GPU count and memory of {ep.instance_type} are unknown ({reason}); set "
            "serving.tensor_parallel_degree to the GPUs to use (the memory check is skipped)")
