"""Serving backends: each backend's own rules (its record's), then the ones every backend
gets from its record: tensor parallelism against the GPUs, the settings, dtypes and
quantizations it has."""

from __future__ import annotations

from config.backends import BACKENDS, Backend, Problem
from config.shapes import ModelSpec, Serving, close

_BACKEND_KEYS = ", ".join(f"{b.key}:" for b in BACKENDS)


def serving_problems(p: str, ep: ModelSpec) -> list[Problem]:
    backend, serving = ep.backend, ep.serving
    if backend is None:
        if serving is None:
            return []
        return [(f"{p}.serving", f"only for serving-backend images ({_BACKEND_KEYS}); set "
                                 "what your image reads in environment")]
    errors = [problem for rule in backend.rules for problem in rule(p, ep)]
    if serving is None:
        return errors
    if ep.tgi_settings is not None:
        errors.append((f"{p}.serving", "give serving or tgi_settings, not both"))
    if ep.sm_num_gpus is not None and serving.tensor_parallel_degree is not None:
        errors.append((f"{p}.sm_num_gpus", "give serving.tensor_parallel_degree or "
                                           "sm_num_gpus, not both"))
    return (errors + _degree_problems(p, ep, serving) + _field_problems(p, backend, serving)
            + _choice_problems(p, backend, serving))


def _degree_problems(p: str, ep: ModelSpec, serving: Serving) -> list[Problem]:
    """The tensor-parallel degree divides the GPUs available."""
    gpus, degree = ep.gpus_available, serving.tensor_parallel_degree
    if degree is None or not gpus:
        return []
    divisors = [d for d in range(1, gpus + 1) if gpus % d == 0]
    if degree in divisors:
        return []
    return [(f"{p}.serving.tensor_parallel_degree",
             f"{degree} is not a divisor of the {gpus} GPU(s) available "
             f"({ep.instance_type}); allowed: {', '.join(map(str, divisors))}")]


def _field_problems(p: str, backend: Backend, serving: Serving) -> list[Problem]:
    """Settings the backend lacks, and the input limit within the sequence limit."""
    errors = [(f"{p}.serving.{name}",
               f"{backend.name} has no such setting (it limits the whole sequence with "
               "max_model_len); remove it")
              for name in ("max_input_tokens", "max_concurrent_sequences")
              if getattr(serving, name) is not None and not backend.reads(name)]
    limit, inputs = serving.max_model_len, serving.max_input_tokens
    if inputs and limit and inputs >= limit:
        errors.append((f"{p}.serving.max_input_tokens",
                       f"{inputs} must be below max_model_len {limit}"))
    return errors


def _choice_problems(p: str, backend: Backend, serving: Serving) -> list[Problem]:
    """The quantization and dtype are ones the backend accepts."""
    errors: list[Problem] = []
    allowed = backend.quantizations
    if serving.quantization is not None and serving.quantization not in allowed:
        errors.append((f"{p}.serving.quantization",
                       f"{serving.quantization!r} is not a {backend.name} quantization"
                       f"{close(serving.quantization, allowed)}; allowed: {', '.join(allowed)}"))
    if serving.dtype is not None and serving.dtype not in backend.dtypes:
        errors.append((f"{p}.serving.dtype", f"{backend.name} does not take {serving.dtype!r}; "
                                             f"allowed: {', '.join(backend.dtypes)}"))
    return errors
