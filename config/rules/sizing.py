"""The weights fit the GPU memory the model shards over."""

from __future__ import annotations

from config import facts
from config.backends import Problem
from config.shapes import ModelSpec
from llm_constructs import instances


def sizing_problems(p: str, ep: ModelSpec) -> list[Problem]:
    params, dtype = facts.parameters_billions(ep), facts.weight_dtype(ep)
    per_gpu = instances.gpu_memory_gib(ep.instance_type)
    if params is None or per_gpu is None or ep.num_gpus == 0:
        return []
    need = instances.required_gpu_memory_gib(params, dtype)
    have = per_gpu * ep.num_gpus
    if need <= have:
        return []
    fit = instances.smallest_fitting(need, instances.family(ep.instance_type))
    hint = f"; smallest instance that fits: {fit}" if fit else "; no single instance fits"
    if dtype == "fp32":
        hint += f"; or load in bf16 (~{instances.required_gpu_memory_gib(params, 'bf16'):.0f} GiB)"
    return [(f"{p}.instance_type",
             f"{params:g}B parameters in {dtype} need ~{need:.0f} GiB of GPU memory (weights "
             f"+20% for KV cache and activations); {ep.instance_type} gives {_gib(have)} GiB "
             f"({ep.num_gpus} GPU(s) x {_gib(per_gpu)} GiB){hint}")]


def _gib(value: float) -> str:
    """22.3515625 -> "22.4", 24.0 -> "24"."""
    return f"{value:.1f}".removesuffix(".0")
