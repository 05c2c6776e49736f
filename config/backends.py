"""How each serving backend reads the backend-neutral ``serving:`` block.

Each container has its own convention, from its own entrypoint or documentation:

* TGI (huggingface-pytorch-tgi-inference): the launcher's options as upper-case
  variables, ``HF_MODEL_ID``, ``SM_NUM_GPUS``, ``MAX_TOTAL_TOKENS``... (TGI launcher docs).
* vLLM (AWS ``vllm`` DLC): ``sagemaker_entrypoint.sh`` turns every ``SM_VLLM_<NAME>=value``
  into ``--<name> value`` for ``vllm.entrypoints.openai.api_server``; an empty value gives
  the bare flag, so a boolean is ``""`` (``"true"`` would be passed as an argument).
* SGLang (AWS ``sglang`` DLC): its entrypoint turns ``SM_SGLANG_<NAME>`` into ``--<name>``
  for ``sglang.launch_server``; ``true`` gives the bare flag, ``false`` drops it; the model
  path defaults to ``/opt/ml/model``.
* LMI (``djl-inference``): ``HF_MODEL_ID`` and ``OPTION_<NAME>`` properties (LMI docs).
"""

from __future__ import annotations

#: serving field -> environment variable, per backend. A field a backend lacks is absent.
ENV: dict[str, dict[str, str]] = {
    "tgi": {"model": "HF_MODEL_ID", "tensor_parallel_degree": "SM_NUM_GPUS",
            "max_model_len": "MAX_TOTAL_TOKENS", "max_input_tokens": "MAX_INPUT_TOKENS",
            "max_concurrent_sequences": "MAX_CONCURRENT_REQUESTS", "quantization": "QUANTIZE",
            "dtype": "DTYPE", "trust_remote_code": "TRUST_REMOTE_CODE"},
    "vllm": {"model": "SM_VLLM_MODEL", "tensor_parallel_degree": "SM_VLLM_TENSOR_PARALLEL_SIZE",
             "max_model_len": "SM_VLLM_MAX_MODEL_LEN",
             "max_concurrent_sequences": "SM_VLLM_MAX_NUM_SEQS",
             "quantization": "SM_VLLM_QUANTIZATION", "dtype": "SM_VLLM_DTYPE",
             "trust_remote_code": "SM_VLLM_TRUST_REMOTE_CODE"},
    "sglang": {"model": "SM_SGLANG_MODEL_PATH", "tensor_parallel_degree": "SM_SGLANG_TP_SIZE",
               "max_model_len": "SM_SGLANG_CONTEXT_LENGTH",
               "max_concurrent_sequences": "SM_SGLANG_MAX_RUNNING_REQUESTS",
               "quantization": "SM_SGLANG_QUANTIZATION", "dtype": "SM_SGLANG_DTYPE",
               "trust_remote_code": "SM_SGLANG_TRUST_REMOTE_CODE"},
    "lmi": {"model": "HF_MODEL_ID", "tensor_parallel_degree": "OPTION_TENSOR_PARALLEL_DEGREE",
            "max_model_len": "OPTION_MAX_MODEL_LEN",
            "max_concurrent_sequences": "OPTION_MAX_ROLLING_BATCH_SIZE",
            "quantization": "OPTION_QUANTIZE", "dtype": "OPTION_DTYPE",
            "trust_remote_code": "OPTION_TRUST_REMOTE_CODE"},
}

#: How a boolean "on" is written for each backend (see the module docstring).
TRUE = {"tgi": "true", "vllm": "", "sglang": "true", "lmi": "true"}

#: Config dtype -> the backend's spelling; a dtype missing here is not accepted by it.
DTYPE: dict[str, dict[str, str]] = {
    "tgi": {"bf16": "bfloat16", "fp16": "float16"},
    "vllm": {"auto": "auto", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"},
    "sglang": {"auto": "auto", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"},
    "lmi": {"auto": "auto", "bf16": "bf16", "fp16": "fp16", "fp32": "fp32"},
}

#: Quantization methods accepted per backend (a subset of each engine's own choices:
#: TGI's --quantize, vLLM's and SGLang's --quantization, LMI's option.quantize with vLLM)
#: and the weight size each gives, for the sizing check.
QUANTIZATION: dict[str, dict[str, str]] = {
    "tgi": {"bitsandbytes": "int8", "eetq": "int8", "fp8": "int8", "bitsandbytes-nf4": "int4",
            "bitsandbytes-fp4": "int4", "gptq": "int4", "awq": "int4", "marlin": "int4",
            "exl2": "int4"},
    "vllm": {"awq": "int4", "gptq": "int4", "fp8": "int8", "bitsandbytes": "int8",
             "awq_marlin": "int4", "gptq_marlin": "int4", "compressed-tensors": "int8"},
    "sglang": {"awq": "int4", "gptq": "int4", "fp8": "int8", "bitsandbytes": "int8",
               "awq_marlin": "int4", "gptq_marlin": "int4", "w8a8_int8": "int8"},
    "lmi": {"awq": "int4", "gptq": "int4", "fp8": "int8", "bitsandbytes": "int8"},
}

NAMES = {"tgi": "TGI", "vllm": "vLLM", "sglang": "SGLang", "lmi": "LMI"}


def environment(backend: str, serving, *, model: str | None, gpus: int) -> dict[str, str]:
    """The variables ``serving`` (a ``config.schema.Serving``) gives ``backend``;
    ``model`` is the Hub id or local path, ``gpus`` the default tensor-parallel degree."""
    keys = ENV[backend]
    env: dict[str, str] = {}
    if model is not None:
        env[keys["model"]] = model
    tp = serving.tensor_parallel_degree if serving and serving.tensor_parallel_degree else gpus
    if tp:
        env[keys["tensor_parallel_degree"]] = str(tp)
    if serving is None:
        return env
    for field in ("max_model_len", "max_input_tokens", "max_concurrent_sequences"):
        value = getattr(serving, field)
        if value is not None and field in keys:
            env[keys[field]] = str(value)
    if serving.quantization is not None:
        env[keys["quantization"]] = serving.quantization
    if serving.dtype is not None:
        env[keys["dtype"]] = DTYPE[backend][serving.dtype]
    if serving.trust_remote_code:
        env[keys["trust_remote_code"]] = TRUE[backend]
    return env
