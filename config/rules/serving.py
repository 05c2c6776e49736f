"""Serving backends: each backend's own rules (its record's), then the ones every backend
gets from its record: tensor parallelism against the GPUs, the settings, dtypes and
quantizations it has, and what the image's engine version has (``version_problem``: the
option exists at that version and takes the value, from the engines' own data)."""

from __future__ import annotations

from config.backends import BACKENDS, Backend, Problem
from config.backends.options import Engine
from config.backends.record import SERVING_FIELDS, version_problem
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
    errors += _model_problems(p, ep, backend) + _environment_problems(p, ep, backend)
    if serving is None:
        return errors
    if ep.tgi_settings is not None:
        errors.append((f"{p}.serving", "give serving or tgi_settings, not both"))
    if ep.sm_num_gpus is not None and serving.tensor_parallel_degree is not None:
        errors.append((f"{p}.sm_num_gpus", "give serving.tensor_parallel_degree or "
                                           "sm_num_gpus, not both"))
    choices = _choice_problems(p, backend, serving)
    return (errors + _degree_problems(p, ep, serving) + _field_problems(p, backend, serving)
            + choices + _version_problems(p, ep, backend, serving, refused={c[0] for c in choices}))


def _offered_version(ep: ModelSpec, backend: Backend) -> str | None:
    """The image's version, if offered (an unknown one is the image rules' error)."""
    version = ep.backend_version
    return version if version in backend.versions() else None


def _environment_problems(p: str, ep: ModelSpec, backend: Backend) -> list[Problem]:
    """Variables of your own that the image's entrypoint turns into engine flags (vLLM's and
    SGLang's ``SM_<ENGINE>_<NAME>``): a value the version's option refuses stops the
    container at start-up. A flag the data does not list is a synth warning instead
    (``unknown_flags``): an extraction can miss options, and a valid config must pass."""
    engine = _prefix_engine(ep, backend)
    if engine is None:
        return []
    errors = []
    for key, value in ep.environment.items():
        flag = _flag(engine, key)
        problem = engine.refusal(key, value) if flag and engine.option(flag) else None
        if problem is not None:
            errors.append((f"{p}.environment.{key}",
                           f"the {backend.name} {engine.version} image passes it as {flag}: "
                           f"{problem}; the engine would stop at start-up"))
    return errors


def unknown_flags(ep: ModelSpec) -> dict[str, str]:
    """``environment``/``secrets`` variable -> why the engine data does not know its flag."""
    backend = ep.backend
    engine = _prefix_engine(ep, backend) if backend is not None else None
    if backend is None or engine is None:
        return {}
    flags = sorted(o for o in engine.options if o.startswith("--"))
    return {key: (f"the {backend.name} {engine.version} image passes it as {flag}, which is "
                  f"not among that version's options{close(flag, flags)}")
            for key in [*ep.environment, *ep.secrets]
            if (flag := _flag(engine, key)) and engine.option(flag) is None}


def _prefix_engine(ep: ModelSpec, backend: Backend) -> Engine | None:
    version = _offered_version(ep, backend)
    engine = backend.engine(version) if version else None
    return engine if engine is not None and engine.style == "prefix" else None


def _flag(engine: Engine, key: str) -> str | None:
    prefix = engine.entrypoint["prefix"]
    return "--" + key[len(prefix):].lower().replace("_", "-") if key.startswith(prefix) else None


def _model_problems(p: str, ep: ModelSpec, backend: Backend) -> list[Problem]:
    """The variable the model goes in reaches the engine at this version."""
    version = _offered_version(ep, backend)
    model = getattr(ep.source, "hub", None) or "/opt/ml/model"
    problem = version and version_problem(backend, version, "model", model)
    return [(f"{p}.image.{backend.key}", f"the model: {problem}")] if problem else []


def _version_problems(p: str, ep: ModelSpec, backend: Backend, serving: Serving, *,
                      refused: set[str]) -> list[Problem]:
    """Each field set, as the image's version has it: an option that exists there and a
    value it accepts (fields already refused for every version are not repeated)."""
    version = _offered_version(ep, backend)
    if version is None:
        return []
    fields = ("tensor_parallel_degree", *SERVING_FIELDS)
    values = {name: getattr(serving, name) for name in fields
              if backend.reads(name) and getattr(serving, name) not in (None, False)
              and f"{p}.serving.{name}" not in refused}
    found = ((name, version_problem(backend, version, name, value))
             for name, value in values.items())
    return [(f"{p}.serving.{name}", problem) for name, problem in found if problem]


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
