"""What runs in one container: image, weights, serving settings, environment."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, field_validator, model_validator

from config import facts
from config.backends import BACKENDS, TGI, Backend
from llm_constructs import images, instances

from .base import Strict, close, raise_each, short_name
from .images import BackendImage, Image, ModelPackageImage, PytorchImage
from .secrets import SecretRef, environment_problem, secret_name_problem
from .sources import Source

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")

if TYPE_CHECKING:
    ServingDtype = str
    TgiQuantize = str
else:
    # Every dtype some backend accepts (each backend's own list is checked by the rules).
    ServingDtype = Literal[tuple(sorted({d for b in BACKENDS for d in b.dtypes}))]
    TgiQuantize = Literal[tuple(TGI.quantizations)]


class Serving(Strict):
    """Backend-neutral serving settings; each backend turns them into the variables its
    container reads (``config/backends/``)."""

    tensor_parallel_degree: int | None = Field(
        default=None, ge=1, le=64,
        description="GPUs each model copy is sharded over: a divisor of the GPUs available "
                    "(default: all of them).")
    max_model_len: int | None = Field(
        default=None, ge=2, description="Longest sequence (prompt plus output) in tokens.")
    max_input_tokens: int | None = Field(
        default=None, ge=1, description="Longest prompt in tokens, below max_model_len (TGI only).")
    max_concurrent_sequences: int | None = Field(
        default=None, ge=1, description="Sequences the server runs at once.")
    quantization: str | None = Field(
        default=None, description="Quantization method, one the backend accepts (e.g. awq, "
                                  "gptq, fp8).")
    dtype: ServingDtype | None = Field(
        default=None, description="Weight dtype, one the backend accepts.")
    trust_remote_code: bool = Field(
        default=False, description="Let the backend run the model repository's own code.")


class TgiSettings(Strict):
    """Typed TGI launcher settings, turned into the container's environment."""

    max_input_tokens: int | None = Field(
        default=None, ge=1, description="Longest prompt in tokens, below max_total_tokens "
                                        "(sent as MAX_INPUT_LENGTH before TGI 2.0).")
    max_total_tokens: int | None = Field(
        default=None, ge=2, description="Longest prompt plus output in tokens.")
    max_batch_prefill_tokens: int | None = Field(
        default=None, ge=1, description="Tokens prefilled per batch; at least max_input_tokens.")
    quantize: TgiQuantize | None = Field(default=None, description="TGI's quantization method.")
    messages_api_enabled: bool | None = Field(
        default=None, description="TGI's Messages API (TGI 1.4 to 2.3 only).")


class ModelSize(Strict):
    """For the synth-time check that the weights fit the instance's GPU memory."""

    parameters_billions: float | None = Field(
        default=None, gt=0, le=10000,
        description="Parameters in billions (known for a few Hub models).")
    dtype: Literal["fp32", "bf16", "fp16", "int8", "int4"] | None = Field(
        default=None, description="Weight dtype (default bf16, or what the quantization gives).")


def _variable_problem(key: str) -> str | None:
    return None if ENV_NAME_RE.match(key) else "is not an environment variable name"


class ModelSpec(Strict):
    """What runs in one container: image, weights, environment, TGI settings."""

    name: str = Field(description="1-31 lower-case letters, digits and '-'; unique.")
    instance_type: str = Field(
        default="ml.g5.2xlarge",
        description="SageMaker hosting instance type (botocore's ProductionVariantInstanceType).")
    image: Image | None = Field(
        default=None, description="Exactly one image kind: tgi, vllm, sglang, lmi, pytorch, uri, "
                                  "build or model_package.")
    source: Source | None = Field(
        default=None, description="The model's weights: hub: <model id> or s3: <s3 uri>.")
    tgi_settings: TgiSettings | None = Field(
        default=None, description="TGI only: typed launcher settings (not with serving).")
    serving: Serving | None = Field(
        default=None, description="Backend-neutral serving settings for tgi, vllm, sglang and "
                                  "lmi images (not with tgi_settings).")
    model_size: ModelSize | None = Field(
        default=None, description="Parameters and dtype, for the check that the weights fit "
                                  "the GPU memory.")
    sm_num_gpus: int | None = Field(
        default=None, ge=1, description="TGI's SM_NUM_GPUS (tensor-parallel shards); default: "
                                        "the instance's GPUs.")
    environment: dict[str, str] = Field(
        default_factory=dict, description="Extra container variables, stored in the template "
                                          "in plain text: credentials (by their format, or a "
                                          "name like *_PASSWORD, *_TOKEN, *_API_KEY) are "
                                          "refused; give those in secrets.")
    secrets: dict[str, str | SecretRef] = Field(
        default_factory=dict,
        description="Container variables read from Secrets Manager at deploy time: name -> "
                    "secret name or ARN, or {secret: <name or arn>, json_key: <key>} for a "
                    "JSON secret; the template holds only a reference.")
    network_isolation: bool = Field(
        default=False, description="No network at all for the container (S3 sources only).")
    container_startup_health_check_timeout_seconds: int = Field(
        default=900, ge=60, le=3600, description="Seconds the container may take to pass its "
                                                 "health check (big models start slowly).")
    model_data_download_timeout_seconds: int = Field(
        default=1200, ge=60, le=3600, description="Seconds to download the model artifacts.")

    _name = field_validator("name")(short_name)

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, v: str) -> str:
        allowed = instances.realtime_instance_types()
        if v not in allowed:
            raise ValueError(f"{v!r} is not a SageMaker hosting instance type{close(v, allowed)}; "
                             "the list is botocore's ProductionVariantInstanceType")
        return v

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: dict[str, str]) -> dict[str, str]:
        raise_each([f"{key}: {problem}" for key, value in v.items()
                    if (problem := _variable_problem(key) or environment_problem(key, value, v))])
        return v

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, v: dict[str, str | SecretRef]) -> dict[str, str | SecretRef]:
        raise_each([f"{key}: {problem}" for key, ref in v.items()
                    if (problem := _variable_problem(key) or (
                        secret_name_problem(ref) if isinstance(ref, str) else None))])
        return v

    @model_validator(mode="after")
    def _environment_or_secret(self) -> Self:
        both = sorted(set(self.environment) & set(self.secrets))
        if both:
            raise ValueError(f"{', '.join(both)}: in both environment and secrets; keep each "
                             "variable in one of them (secrets for anything confidential)")
        return self

    # -- derived facts (config/facts.py) ----------------------------------------------------
    @property
    def gpus(self) -> int | None:
        """GPUs of the instance type (None: not in our table)."""
        return instances.gpu_count(self.instance_type)

    @property
    def gpus_available(self) -> int | None:
        """GPUs the container may use: the instance's (a component: its accelerators)."""
        return self.gpus

    @property
    def uses_gpu(self) -> bool:
        """Whether the container gets GPUs (GPU builds of DLC images)."""
        return self.gpus != 0

    @property
    def num_gpus(self) -> int:
        return facts.shard_count(self)

    @property
    def backend(self) -> Backend | None:
        """The serving backend's record for a backend image (TGI, vLLM...), else None."""
        return self.image.backend if isinstance(self.image, BackendImage) else None

    @property
    def backend_version(self) -> str | None:
        return self.image.version if isinstance(self.image, BackendImage) else None

    @property
    def is_tgi(self) -> bool:
        return self.backend is TGI

    @property
    def is_pytorch(self) -> bool:
        return isinstance(self.image, PytorchImage)

    @property
    def is_model_package(self) -> bool:
        return isinstance(self.image, ModelPackageImage)

    def dlc_image(self) -> images.DlcImage | None:
        return facts.dlc_image(self)
