"""The instance's accelerators are ones the images this project picks can use."""

from __future__ import annotations

from config.backends import Problem
from config.shapes import ModelSpec
from llm_constructs import instances


def accelerator_problems(p: str, ep: ModelSpec) -> list[Problem]:
    """Neuron and other non-NVIDIA accelerators for a DLC this project picks (a serving
    backend or the PyTorch DLC; an image of your own is yours to match); a GPU type whose
    GPU facts no source gives, for an engine that would shard over all of them."""
    if ep.backend is None and not ep.is_pytorch:
        return []
    itype = ep.instance_type
    if instances.is_neuron(itype):
        return [(f"{p}.instance_type",
                 f"{itype} has AWS Neuron accelerators (Inferentia/Trainium), no GPU: it needs "
                 "a model compiled for Neuron and a Neuron image (such as the LMI neuronx or "
                 "TGI neuronx DLC), which this project does not offer yet; pick a GPU type "
                 "(e.g. ml.g5.2xlarge)")]
    reason = instances.unknown_reason(itype)
    if reason is None:
        return []
    if instances.facts(itype).get("kind") != "gpu":
        return [(f"{p}.instance_type", f"{itype}: {reason}; no image this project offers "
                                       "runs on it; pick a GPU type (e.g. ml.g5.2xlarge)")]
    # TGI's own rule asks for sm_num_gpus; the PyTorch DLC does not shard by config
    engine = ep.backend is not None and not ep.is_tgi
    if engine and (ep.serving is None or ep.serving.tensor_parallel_degree is None):
        return [(f"{p}.instance_type",
                 f"the GPU count and memory of {itype} are unknown ({reason}); set "
                 "serving.tensor_parallel_degree to the GPUs to use (the memory check is "
                 "skipped)")]
    return []
