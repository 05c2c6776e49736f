"""vLLM, SGLang and LMI: each reads the backend-neutral ``serving:`` block its own way.

The records say which engine option each field means (vLLM ``--max-model-len``, SGLang
``--context-length``, LMI ``option.max_model_len``); the variable, the value spelling and
whether the version has the option come from ``config/data/engine_options.json``:

* vLLM (AWS ``vllm`` DLC): ``SM_VLLM_<NAME>=value`` -> ``--<name> value``. An empty value
  gives the bare flag in every image (``true`` too from the 0.23 images on).
* SGLang (AWS ``sglang`` DLC): ``SM_SGLANG_<NAME>``, same shape; ``true`` gives the bare flag
  only in the images built after AWS's 2026-03 entrypoint change (0.5.13 on): the older ones
  pass ``true`` as an argument, so they get an empty value.
* LMI (``djl-inference``): ``HF_MODEL_ID`` and ``OPTION_<NAME>`` properties.

Quantizations are the methods the sizing check knows (the weight size each gives); each
version's own choices then decide (vLLM 0.28 dropped ``bitsandbytes``, LMI 0.28 takes only
awq and gptq of them).
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
    key="vllm", image_key="vllm", engine_key="vllm",
    options={"model": ("--model",), "tensor_parallel_degree": ("--tensor-parallel-size",),
             "max_model_len": ("--max-model-len",), "max_concurrent_sequences": ("--max-num-seqs",),
             "quantization": ("--quantization",), "dtype": ("--dtype",),
             "trust_remote_code": ("--trust-remote-code",)},
    true=("", "true"),
    dtypes=_FLOAT_DTYPES,
    quantizations={"awq": "int4", "gptq": "int4", "fp8": "int8", "bitsandbytes": "int8",
                   "awq_marlin": "int4", "gptq_marlin": "int4", "compressed-tensors": "int8"},
    rules=(engine_rules,),
)

SGLANG = Backend(
    key="sglang", image_key="sglang", engine_key="sglang",
    options={"model": ("--model-path",), "tensor_parallel_degree": ("--tp-size",),
             "max_model_len": ("--context-length",),
             "max_concurrent_sequences": ("--max-running-requests",),
             "quantization": ("--quantization",), "dtype": ("--dtype",),
             "trust_remote_code": ("--trust-remote-code",)},
    true=("true", ""),
    dtypes=_FLOAT_DTYPES,
    quantizations={"awq": "int4", "gptq": "int4", "fp8": "int8", "bitsandbytes": "int8",
                   "awq_marlin": "int4", "gptq_marlin": "int4", "w8a8_int8": "int8"},
    rules=(engine_rules,),
)

LMI = Backend(
    key="lmi", image_key="lmi", engine_key="lmi",
    options={"model": ("model_id_or_path",), "tensor_parallel_degree": ("tensor_parallel_degree",),
             "max_model_len": ("max_model_len",),
             "max_concurrent_sequences": ("max_rolling_batch_size",),
             "quantization": ("quantize",), "dtype": ("dtype",),
             "trust_remote_code": ("trust_remote_code",)},
    variables={"model": "HF_MODEL_ID"},  # djl-serving reads it as the model (the data says where)
    true=("true",),
    dtypes={"auto": "auto", "bf16": "bf16", "fp16": "fp16", "fp32": "fp32"},
    quantizations={"awq": "int4", "gptq": "int4", "fp8": "int8", "bitsandbytes": "int8"},
    rules=(engine_rules,),
)
