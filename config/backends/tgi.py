"""Hugging Face Text Generation Inference (``huggingface-pytorch-tgi-inference``): the
launcher's (and router's) options, each read from its own variable (clap ``env``), plus
``tgi_settings``, TGI's own typed settings. Which options a version has, their accepted
values and the variables the SageMaker entrypoint renames come from
``config/data/engine_options.json``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .record import Backend, OptionMap, Problem, assignments, version_problem

if TYPE_CHECKING:
    from config.shapes import ModelSpec

#: ``tgi_settings`` field -> the options that mean it, the first the version has wins:
#: TGI 2.0 renamed ``--max-input-length`` to ``--max-input-tokens`` (and kept both), and the
#: Messages API switch is a router option of some versions only.
SETTINGS: OptionMap = {
    "max_input_tokens": ("--max-input-tokens", "--max-input-length"),
    "max_total_tokens": ("--max-total-tokens",),
    "max_batch_prefill_tokens": ("--max-batch-prefill-tokens",),
    "quantize": ("--quantize",),
    "messages_api_enabled": ("--messages-api-enabled",),
}


def settings_environment(spec: ModelSpec) -> dict[str, str]:
    """``tgi_settings`` -> TGI's variables, as the image's version names them."""
    settings = spec.tgi_settings
    if settings is None:
        return {}
    engine = TGI.engine(spec.backend_version or "")
    return assignments(TGI, engine, {name: getattr(settings, name) for name in SETTINGS},
                       SETTINGS, write_off=True)


def setting_variables(spec: ModelSpec) -> list[str]:
    """Every variable the version reads for a ``tgi_settings`` field (old and new names)."""
    engine = TGI.engine(spec.backend_version or "")
    if engine is None:
        return []
    return [engine.variable(option) for options in SETTINGS.values() for option in options
            if engine.option(option) is not None]


def gpu_rules(p: str, spec: ModelSpec) -> list[Problem]:
    """SM_NUM_GPUS: the instance must have GPUs we know, and enough of them."""
    errors: list[Problem] = []
    gpus = spec.gpus
    if gpus == 0:
        errors.append((f"{p}.instance_type", f"{spec.instance_type!r} has no GPU; the TGI "
                                             "image needs one (e.g. ml.g5.2xlarge)"))
    elif gpus is None and spec.sm_num_gpus is None:
        errors.append((f"{p}.sm_num_gpus", f"the GPU count of {spec.instance_type!r} is not "
                                           "in our table; set sm_num_gpus"))
    if "SM_NUM_GPUS" in spec.environment:
        errors.append((f"{p}.environment.SM_NUM_GPUS",
                       "set sm_num_gpus instead (it is checked against the instance)"))
    if spec.sm_num_gpus is not None and gpus and spec.sm_num_gpus > gpus:
        errors.append((f"{p}.sm_num_gpus", f"{spec.sm_num_gpus} is more than the {gpus} GPU(s) "
                                           f"of {spec.instance_type}; allowed: 1..{gpus}"))
    return errors


def settings_rules(p: str, spec: ModelSpec) -> list[Problem]:
    """``tgi_settings``: the limits TGI enforces at start-up, and no variable given twice."""
    t = spec.tgi_settings
    if t is None:
        return []
    errors = [(f"{p}.environment.{key}", "set it in tgi_settings instead (checked there)")
              for key in setting_variables(spec) if key in spec.environment]
    if t.max_input_tokens and t.max_total_tokens and t.max_input_tokens >= t.max_total_tokens:
        errors.append((f"{p}.tgi_settings.max_input_tokens",
                       f"{t.max_input_tokens} must be below max_total_tokens "
                       f"{t.max_total_tokens} (TGI: input < total)"))
    if (t.max_batch_prefill_tokens and t.max_input_tokens
            and t.max_batch_prefill_tokens < t.max_input_tokens):
        errors.append((f"{p}.tgi_settings.max_batch_prefill_tokens",
                       f"{t.max_batch_prefill_tokens} is below max_input_tokens "
                       f"{t.max_input_tokens}; TGI refuses to start (prefill >= input)"))
    return errors + version_rules(p, spec)


def version_rules(p: str, spec: ModelSpec) -> list[Problem]:
    """Each ``tgi_settings`` field the image's version lacks, or a value it refuses."""
    t, version = spec.tgi_settings, spec.backend_version
    if t is None or version is None:
        return []
    found = ((name, version_problem(TGI, version, name, getattr(t, name), SETTINGS))
             for name in SETTINGS if getattr(t, name) is not None)
    return [(f"{p}.tgi_settings.{name}", problem) for name, problem in found if problem]


TGI = Backend(
    key="tgi", image_key="tgi", engine_key="tgi",
    options={"model": ("--model-id",), "tensor_parallel_degree": ("--num-shard",),
             "max_model_len": ("--max-total-tokens",),
             "max_input_tokens": SETTINGS["max_input_tokens"],
             "max_concurrent_sequences": ("--max-concurrent-requests",),
             "quantization": ("--quantize",), "dtype": ("--dtype",),
             "trust_remote_code": ("--trust-remote-code",)},
    # SageMaker's names, which the image's entrypoint renames to MODEL_ID and NUM_SHARD.
    variables={"model": "HF_MODEL_ID", "tensor_parallel_degree": "SM_NUM_GPUS"},
    true=("true",),
    dtypes={"bf16": "bfloat16", "fp16": "float16"},
    # TGI's --quantize choices (a subset) and the weight size each gives.
    quantizations={"bitsandbytes": "int8", "eetq": "int8", "fp8": "int8",
                   "bitsandbytes-nf4": "int4", "bitsandbytes-fp4": "int4", "gptq": "int4",
                   "awq": "int4", "marlin": "int4", "exl2": "int4"},
    rules=(gpu_rules, settings_rules),
    settings_environment=settings_environment,
    source_first=True,
)
