"""Facts derived from a validated model: GPUs it shards over, its DLC image, its weight
size. Functions of the config models; their thin properties delegate here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.backends import TGI
from llm_constructs import images, inference_ami

if TYPE_CHECKING:
    from config.shapes import Endpoint, ModelSpec

#: Parameters (billions) of models the configs use, from their model cards; others need
#: ``model_size.parameters_billions`` for the sizing check.
KNOWN_MODELS: dict[str, float] = {
    "google/flan-t5-xxl": 11.3,
    "Qwen/Qwen2.5-1.5B-Instruct": 1.5,
    "Qwen/Qwen2.5-7B-Instruct": 7.6,
    "Qwen/Qwen2.5-32B-Instruct": 32.8,
    "meta-llama/Meta-Llama-3-8B-Instruct": 8.0,
    "meta-llama/Meta-Llama-3-70B-Instruct": 70.6,
    "meta-llama/Llama-3.1-8B-Instruct": 8.0,
    "mistralai/Mistral-7B-Instruct-v0.3": 7.2,
}


def shard_count(spec: ModelSpec) -> int:
    """GPUs the model shards over (SM_NUM_GPUS, tensor-parallel degree): config, else
    every GPU available."""
    if spec.sm_num_gpus is not None:
        return spec.sm_num_gpus
    if spec.serving is not None and spec.serving.tensor_parallel_degree is not None:
        return spec.serving.tensor_parallel_degree
    return spec.gpus_available or 0


def dlc_image(spec: ModelSpec) -> images.DlcImage | None:
    """The AWS Deep Learning Container the model runs (a serving backend's, or the Hugging
    Face PyTorch DLC's GPU or CPU build); None for other images."""
    from config.shapes import PytorchImage

    if spec.backend is not None and spec.backend_version is not None:
        return spec.backend.image(spec.backend_version)
    if isinstance(spec.image, PytorchImage):
        return images.pytorch_image(spec.image.pytorch, gpu=spec.uses_gpu)
    return None


def parameters_billions(spec: ModelSpec) -> float | None:
    """The model's size: the config's, else the known size of its Hub model."""
    from config.shapes import HubSource

    if spec.model_size is not None and spec.model_size.parameters_billions is not None:
        return spec.model_size.parameters_billions
    if isinstance(spec.source, HubSource):
        return KNOWN_MODELS.get(spec.source.hub)
    return None


def weight_dtype(spec: ModelSpec) -> str:
    """The dtype of the loaded weights: the config's, else what the quantization gives,
    else bf16."""
    if spec.model_size is not None and spec.model_size.dtype is not None:
        return spec.model_size.dtype
    quantized = None
    if spec.tgi_settings is not None and spec.tgi_settings.quantize:
        quantized = TGI.quantizations.get(spec.tgi_settings.quantize)
    if spec.serving is not None and spec.serving.quantization and spec.backend:
        quantized = spec.backend.quantizations.get(spec.serving.quantization)
    return quantized or "bf16"


def key_prefix(path: str) -> str:
    """An async config path (a prefix, or an ``s3://`` URI) -> its key prefix in the bucket."""
    from config.shapes.base import s3_parts

    return s3_parts(path)[1] if path.startswith("s3://") else path


def amis_needed(ep: Endpoint) -> dict[str, str]:
    """The inference AMI each DLC of the endpoint needs -> ``repository:tag`` of an image
    needing it (``data/inference_ami.json``); images the default AMI runs are left out."""
    specs = ([ep.component_view(c) for c in ep.components or []] if ep.is_components
             else [ep])
    needed: dict[str, str] = {}
    for spec in specs:
        try:
            dlc = spec.dlc_image()
        except images.ImageResolutionError:  # reported by the image rules
            continue
        ami = inference_ami.required_for(dlc.tag) if dlc is not None else None
        if dlc is not None and ami is not None:
            needed.setdefault(ami, f"{dlc.repository}:{dlc.tag}")
    return needed


def host_ami(ep: Endpoint) -> str | None:
    """The variant's ``InferenceAmiVersion``: the config's, else the one its images need."""
    if ep.inference_ami_version is not None:
        return ep.inference_ami_version
    needed = amis_needed(ep)
    return next(iter(needed)) if len(needed) == 1 else None
