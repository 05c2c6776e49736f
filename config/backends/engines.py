"""vLLM, SGLang and LMI: each reads the backend-neutral ``serving:`` block its own way,
from its own entrypoint or documentation:

* vLLM (AWS ``vllm`` DLC): ``sagemaker_entrypoint.sh`` turns every ``SM_VLLM_<NAME>=value``
  into ``--<name> value`` for ``vllm.entrypoints.openai.api_server``; an empty value gives
  the bare flag, so a boolean is ``""`` (``"true"`` would be passed as an argument).
* SGLang (AWS ``sglang`` DLC): its entrypoint turns ``SM_SGLANG_<NAME>`` into ``--<name>``
  for ``sglang.launch_server``; ``true`` gives the bare flag, ``false`` drops it; the model
  path defaults to ``/opt/ml/model``.
* LMI (``djl-inference``): ``HF_MODEL_ID`` and ``OPTION_<NAME>`` properties (LMI docs).

Quantizations are a subset of each engine's own choices (vLLM's and SGLang's
``--quantization``, LMI's ``option.quantize`` with vLLM), with the weight size each gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .record import Backend, Problem

if TYPE_CHECKING:
    from config.shapes import ModelSpec


def engine_rules(p: str, spec: ModelSpec) -> list[Problem]:
    """An engine that is not TGI: a GPU, and the tensor-parallel degree in ``serving``."""
    errors: list[Problem] = []
    if spec.sm_num_gpus is not None:
        errors.append((f"{p}.sm_num_gpus", "only TGI images read SM_NUM_GPUS; use "
                                           "serving.tensor_parallel_degree"))
    if spec.tgi_settings is not None:
        errors.append((f"{p}.tgi_settings", "only for TGI images; use serving"))
    if spec.gpus == 0:
        name = spec.backend.name if spec.backend else "serving"
        errors.append((f"{p}.instance_type", f"{spec.instance_type!r} has no GPU; the {name} "
                                             "image needs one (e.g. ml.g5.2xlarge)"))
    return errors


_FLOAT_DTYPES = {"auto": "auto", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}

VLLM = Backend(
    key="vllm", image_key="vllm",
    variables={"model": "SM_VLLM_MODEL", "tensor_parallel_degree": "SM_VLLM_TENSOR_PARALLEL_SIZE",
               "max_model_len": "SM_VLLM_MAX_MODEL_LEN",
               "max_concurrent_sequences": "SM_VLLM_MAX_NUM_SEQS",
               "quantization": "SM_VLLM_QUANTIZATION", "dtype": "SM_VLLM_DTYPE",
               "trust_remote_code": "SM_VLLM_TRUST_REMOTE_CODE"},
    true="",
    dtypes=_FLOAT_DTYPES,
    quantizations={"awq": "int4", "gptq": "int4", "fp8": "int8", "bitsandbytes": "int8",
                   "awq_marlin": "int4", "gptq_marlin": "int4", "compressed-tensors": "int8"},
    rules=(engine_rules,),
)

SGLANG = Backend(
    key="sglang", image_key="sglang",
    variables={"model": "SM_SGLANG_MODEL_PATH", "tensor_parallel_degree": "SM_SGLANG_TP_SIZE",
               "max_model_len": "SM_SGLANG_CONTEXT_LENGTH",
               "max_concurrent_sequences": "SM_SGLANG_MAX_RUNNING_REQUESTS",
               "quantization": "SM_SGLANG_QUANTIZATION", "dtype": "SM_SGLANG_DTYPE",
               "trust_remote_code": "SM_SGLANG_TRUST_REMOTE_CODE"},
    true="true",
    dtypes=_FLOAT_DTYPES,
    quantizations={"awq": "int4", "gptq": "int4", "fp8": "int8", "bitsandbytes": "int8",
                   "awq_marlin": "int4", "gptq_marlin": "int4", "w8a8_int8": "int8"},
    rules=(engine_rules,),
)

LMI = Backend(
    key="lmi", image_key="lmi",
    variables={"model": "HF_MODEL_ID", "tensor_parallel_degree": "OPTION_TENSOR_PARALLEL_DEGREE",
               "max_model_len": "OPTION_MAX_MODEL_LEN",
               "max_concurrent_sequences": "OPTION_MAX_ROLLING_BATCH_SIZE",
               "quantization": "OPTION_QUANTIZE", "dtype": "OPTION_DTYPE",
               "trust_remote_code": "OPTION_TRUST_REMOTE_CODE"},
    true="true",
    dtypes={"auto": "auto", "bf16": "bf16", "fp16": "fp16", "fp32": "fp32"},
    quantizations={"awq": "int4", "gptq": "int4", "fp8": "int8", "bitsandbytes": "int8"},
    rules=(engine_rules,),
)
