"""Hugging Face Text Generation Inference (``huggingface-pytorch-tgi-inference``): the
launcher's options as upper-case variables (TGI launcher docs), plus ``tgi_settings``,
TGI's own typed settings, and the version rules they follow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .record import Backend, Problem

if TYPE_CHECKING:
    from config.shapes import ModelSpec

#: Variables ``tgi_settings`` sets; giving them in ``environment`` too is an error.
SETTING_VARIABLES = ("MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH", "MAX_TOTAL_TOKENS",
                     "MAX_BATCH_PREFILL_TOKENS", "QUANTIZE", "MESSAGES_API_ENABLED")


def settings_environment(spec: ModelSpec) -> dict[str, str]:
    """``tgi_settings`` -> TGI's variables, as the image's version names them."""
    settings = spec.tgi_settings
    if settings is None:
        return {}
    env = {}
    if settings.max_input_tokens is not None:
        # TGI 2.0 renamed --max-input-length to --max-input-tokens.
        key = "MAX_INPUT_TOKENS" if _version(spec) >= (2, 0) else "MAX_INPUT_LENGTH"
        env[key] = str(settings.max_input_tokens)
    for key, value in (("MAX_TOTAL_TOKENS", settings.max_total_tokens),
                       ("MAX_BATCH_PREFILL_TOKENS", settings.max_batch_prefill_tokens),
                       ("QUANTIZE", settings.quantize)):
        if value is not None:
            env[key] = str(value)
    if settings.messages_api_enabled is not None:
        env["MESSAGES_API_ENABLED"] = "true" if settings.messages_api_enabled else "false"
    return env


def _version(spec: ModelSpec) -> tuple[int, ...]:
    """``"3.3.6"`` -> ``(3, 3, 6)``, for version rules."""
    return tuple(int(part) for part in (spec.backend_version or "0").split("."))


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
              for key in SETTING_VARIABLES if key in spec.environment]
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
    """Settings that exist only in some TGI versions."""
    t, text = spec.tgi_settings, spec.backend_version
    if t is None or t.messages_api_enabled is None:
        return []
    version = _version(spec)
    if version < (1, 4):
        return [(f"{p}.tgi_settings.messages_api_enabled",
                 f"TGI {text} has no Messages API (added in 1.4)")]
    if version >= (2, 4):
        return [(f"{p}.tgi_settings.messages_api_enabled",
                 f"removed in TGI 2.4 (the SageMaker route accepts both payloads); "
                 f"remove it for {text}")]
    return []


TGI = Backend(
    key="tgi", image_key="tgi",
    variables={"model": "HF_MODEL_ID", "tensor_parallel_degree": "SM_NUM_GPUS",
               "max_model_len": "MAX_TOTAL_TOKENS", "max_input_tokens": "MAX_INPUT_TOKENS",
               "max_concurrent_sequences": "MAX_CONCURRENT_REQUESTS", "quantization": "QUANTIZE",
               "dtype": "DTYPE", "trust_remote_code": "TRUST_REMOTE_CODE"},
    true="true",
    dtypes={"bf16": "bfloat16", "fp16": "float16"},
    # TGI's --quantize choices (a subset) and the weight size each gives.
    quantizations={"bitsandbytes": "int8", "eetq": "int8", "fp8": "int8",
                   "bitsandbytes-nf4": "int4", "bitsandbytes-fp4": "int4", "gptq": "int4",
                   "awq": "int4", "marlin": "int4", "exl2": "int4"},
    rules=(gpu_rules, settings_rules),
    settings_environment=settings_environment,
    source_first=True,
)
