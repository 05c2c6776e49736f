"""A text-generation handler in the SageMaker inference toolkit's shape.

The same file serves two ways:

* as ``image: {pytorch: <version>, code: examples/text-generation/code}``: the Hugging Face
  PyTorch DLC's inference toolkit imports it from ``/opt/ml/model/code/inference.py`` and
  calls ``model_fn`` once, then ``input_fn`` -> ``predict_fn`` -> ``output_fn`` per request;
* inside this folder's own container (``image: {build: examples/text-generation}``), where
  ``serve.py`` calls the same four functions from FastAPI.

Requests use the Hugging Face payload, ``{"inputs": "...", "parameters": {...}}``; seed
002's ``{"text": "..."}`` is accepted too. The response is a JSON list of
``{"generated_text": "..."}``: the continuation only, not the prompt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

JSON = "application/json"
#: Bounds for request parameters: a request cannot ask for unbounded work.
MAX_NEW_TOKENS = int(os.environ.get("MAX_NEW_TOKENS_LIMIT", "512"))
MAX_SEQUENCES = 4


class UnsupportedMediaType(ValueError):
    """A content type or accept type other than JSON."""


def model_fn(model_dir: str, context: Any = None) -> dict[str, Any]:
    """Load the model: from ``model_dir`` (SageMaker's /opt/ml/model, the S3 artifacts)
    when it holds one, else the Hub model named by ``HF_MODEL_ID``."""
    source = model_dir if (Path(model_dir) / "config.json").is_file() else os.environ.get(
        "HF_MODEL_ID")
    if not source:
        raise RuntimeError(f"no model: {model_dir} has no config.json and HF_MODEL_ID is unset")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.float16 if device == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(source)
    # torch_dtype, not dtype: the DLC's transformers 4.51.3 passes an unknown `dtype` on to
    # the model's __init__ (TypeError); 5.x still accepts torch_dtype, with a warning.
    model = AutoModelForCausalLM.from_pretrained(source, torch_dtype=dtype).to(device).eval()
    return {"model": model, "tokenizer": tokenizer, "device": device}


def input_fn(request_body: bytes | str, content_type: str = JSON) -> dict[str, Any]:
    """Parse and bound a request. Raises ``UnsupportedMediaType`` or ``ValueError``."""
    if (content_type or JSON).split(";")[0].strip().lower() != JSON:
        raise UnsupportedMediaType(f"content type {content_type!r} is not supported; send {JSON}")
    try:
        data = json.loads(request_body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError('send an object: {"inputs": "...", "parameters": {...}}')
    prompt = data.get("inputs", data.get("text"))
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError('"inputs" must be a non-empty string')
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise ValueError('"parameters" must be an object')
    new_tokens = params.get("max_new_tokens", 50)
    sequences = params.get("num_return_sequences", 1)
    temperature = params.get("temperature")
    if not isinstance(new_tokens, int) or not 1 <= new_tokens <= MAX_NEW_TOKENS:
        raise ValueError(f'"max_new_tokens" must be an integer from 1 to {MAX_NEW_TOKENS}')
    if not isinstance(sequences, int) or not 1 <= sequences <= MAX_SEQUENCES:
        raise ValueError(f'"num_return_sequences" must be an integer from 1 to {MAX_SEQUENCES}')
    if temperature is not None and (not isinstance(temperature, (int, float))
                                    or not 0 < temperature <= 2):
        raise ValueError('"temperature" must be a number in (0, 2]')
    return {"inputs": prompt, "max_new_tokens": new_tokens,
            "num_return_sequences": sequences, "temperature": temperature}


def predict_fn(data: dict[str, Any], model: dict[str, Any]) -> list[str]:
    """Generate; greedy unless a temperature is given (then sampled)."""
    tokenizer, lm = model["tokenizer"], model["model"]
    encoded = tokenizer(data["inputs"], return_tensors="pt").to(model["device"])
    sampled = data["temperature"] is not None
    with torch.inference_mode():
        output = lm.generate(
            **encoded, max_new_tokens=data["max_new_tokens"],
            num_return_sequences=data["num_return_sequences"],
            do_sample=sampled, temperature=data["temperature"] if sampled else None,
            num_beams=1,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id)
    prompt_length = encoded["input_ids"].shape[1]
    return [tokenizer.decode(sequence[prompt_length:], skip_special_tokens=True)
            for sequence in output]


def output_fn(prediction: list[str], accept: str = JSON) -> str:
    """Serialize. The toolkit sends the returned string as the body, typed ``accept``."""
    if (accept or JSON).split(";")[0].strip().lower() not in (JSON, "*/*"):
        raise UnsupportedMediaType(f"accept type {accept!r} is not supported; accept {JSON}")
    return json.dumps([{"generated_text": text} for text in prediction])
