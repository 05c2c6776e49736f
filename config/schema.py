"""Typed, validated configuration: the one file a platform team edits.

Shape, types and ranges are checked by pydantic; rules that join several fields (a Hub
model needs egress, SM_NUM_GPUS within the instance's GPUs, ...) are checked in
``semantic_errors``. Both report ``path: message`` with the bad value and what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationInfo,
                      field_validator)

from . import backends
from llm_constructs import images, instances
from llm_constructs.inference_code import handler_problems

#: Relative paths in config (``code:``, ``build:``) are relative to the project folder.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
# SageMaker EndpointName: the service model's pattern, and at most 63 characters.
ENDPOINT_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
S3_URI_RE = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")
HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")

#: CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                      1096, 1827, 2192, 2557, 2922, 3288, 3653)

#: Interface endpoints the config may ask for (service name under com.amazonaws.<region>.).
INTERFACE_ENDPOINTS = ("sagemaker.runtime", "sagemaker.api", "sts", "logs", "monitoring",
                       "ecr.api", "ecr.dkr", "kms", "secretsmanager", "sns", "sqs")

#: Environment variables that carry secrets; a literal in config would land in the template.
SECRET_ENV_KEYS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _close(value: str, allowed) -> str:
    near = difflib.get_close_matches(value, list(allowed), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(near)}?)" if near else ""


class Deployment(Strict):
    """Where the stacks go. Leave account/region empty for environment-agnostic stacks
    (synth needs no credentials; the CLI's profile decides at deploy time)."""

    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = None
    availability_zones: list[str] | None = None
    termination_protection: bool = False
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        if v is None:
            return v
        known = {r for r in _all_regions()}
        if v not in known:
            raise ValueError(f"{v!r} is not an AWS region{_close(v, known)}")
        return v


def _all_regions() -> list[str]:
    from aws_cdk.region_info import RegionInfo

    return [r.name for r in RegionInfo.regions]


class FlowLogs(Strict):
    enabled: bool = True
    retention_days: int = 90

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise ValueError(f"{v} is not a CloudWatch Logs retention; allowed: "
                             f"{', '.join(map(str, LOG_RETENTION_DAYS))}")
        return v


class Network(Strict):
    cidr: str = "10.0.0.0/16"
    max_azs: int = Field(default=2, ge=2, le=6)
    egress: Literal["nat", "none"] = "none"
    nat_gateways: int = Field(default=1, ge=1, le=6)
    interface_endpoints: list[Literal[INTERFACE_ENDPOINTS]] = Field(default_factory=list)  # type: ignore[valid-type]
    flow_logs: FlowLogs = Field(default_factory=FlowLogs)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        try:
            net = ipaddress.IPv4Network(v)
        except ValueError as exc:
            raise ValueError(f"{v!r} is not an IPv4 CIDR block ({exc})") from None
        if not 16 <= net.prefixlen <= 22:
            raise ValueError(f"{v!r}: a VPC CIDR needs a prefix from /16 to /22 "
                             "(room for two subnets per AZ)")
        return v


class Encryption(Strict):
    """``customer_managed_key: true`` creates a KMS key (rotation on) for the stacks'
    logs and, where the instance allows it, the endpoint's storage volume."""

    customer_managed_key: bool = False


class TgiImage(Strict):
    tgi: str

    @property
    def version(self) -> tuple[int, ...]:
        """``"3.3.6"`` -> ``(3, 3, 6)``, for version rules."""
        return tuple(int(x) for x in self.tgi.split("."))

    @field_validator("tgi")
    @classmethod
    def _version(cls, v: str) -> str:
        known = images.tgi_versions()
        if v not in known:
            raise ValueError(f"TGI version {v!r} is not in the published table; "
                             f"allowed: {', '.join(known)}")
        return v


def _backend_version(kind: str, v: str) -> str:
    known = images.versions(kind)
    if v not in known:
        raise ValueError(f"{images.BACKENDS[kind]} version {v!r} is not in the published "
                         f"table; allowed: {', '.join(known)}")
    return v


class _BackendImage(Strict):
    """A serving-backend DLC named by its one key (``vllm``, ``sglang``, ``lmi``), whose
    value must be a version in the published table."""

    @field_validator("*")
    @classmethod
    def _version(cls, v: str, info: ValidationInfo) -> str:
        return _backend_version(info.field_name, v)


class VllmImage(_BackendImage):
    """AWS's vLLM DLC for SageMaker (``vllm`` repository)."""

    vllm: str


class SglangImage(_BackendImage):
    """AWS's SGLang DLC for SageMaker (``sglang`` repository)."""

    sglang: str


class LmiImage(_BackendImage):
    """The Large Model Inference DLC (``djl-inference``, DJL Serving with vLLM)."""

    lmi: str


class Serving(Strict):
    """Backend-neutral serving settings; each backend turns them into the variables its
    container reads (``config/backends.py``)."""

    tensor_parallel_degree: int | None = Field(default=None, ge=1, le=64)
    max_model_len: int | None = Field(default=None, ge=2)
    max_input_tokens: int | None = Field(default=None, ge=1)
    max_concurrent_sequences: int | None = Field(default=None, ge=1)
    quantization: str | None = None
    dtype: Literal["auto", "bf16", "fp16", "fp32"] | None = None
    trust_remote_code: bool = False


def project_path(value: str) -> Path:
    """A path from config: absolute, or relative to the project folder (never the cwd)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


class PytorchImage(Strict):
    """The Hugging Face PyTorch inference DLC, GPU or CPU build after the instance type.

    ``pytorch`` is the DLC's transformers version, as the SageMaker Python SDK keys it
    (e.g. ``4.51.3`` is ``2.6.0-transformers4.51.3-...``). ``code`` is a folder with your
    ``inference.py`` (model_fn/input_fn/predict_fn/output_fn, or transform_fn) and
    optionally ``requirements.txt``; it is packed as ``code/`` of the model archive."""

    pytorch: str
    code: str | None = None

    @field_validator("pytorch")
    @classmethod
    def _version(cls, v: str) -> str:
        known = images.pytorch_versions()
        if v not in known:
            listed = ", ".join(f"{t} (PyTorch {pt})" for t, pt in known.items())
            raise ValueError(f"{v!r} is not a transformers version of the Hugging Face PyTorch "
                             f"DLC in the published table; allowed: {listed}")
        return v

    @field_validator("code")
    @classmethod
    def _code(cls, v: str | None) -> str | None:
        if v is None:
            return v
        path = project_path(v)
        if not path.is_dir():
            raise ValueError(f"{v!r} is not a folder (looked at {path}); give the folder "
                             "that holds inference.py, relative to the project folder")
        problems = handler_problems(path)
        if problems:
            raise ValueError("; ".join(problems))
        return v


class BuildImage(Strict):
    """A local folder with a Dockerfile, built and pushed by ``cdk deploy`` (a CDK Docker
    image asset, linux/amd64). Synth copies the folder and needs no Docker."""

    build: str

    @field_validator("build")
    @classmethod
    def _build(cls, v: str) -> str:
        path = project_path(v)
        if not (path / "Dockerfile").is_file():
            raise ValueError(f"{v!r} has no Dockerfile (looked at {path}); give the folder "
                             "to build, relative to the project folder")
        return v


ECR_URI_RE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(:(?P<tag>[\w][\w.-]{0,127})|@sha256:[0-9a-f]{64})$")
MODEL_PACKAGE_RE = re.compile(
    r"^(arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[\w/-]+|[a-zA-Z0-9][\w-]{0,62})$")
SECRET_RE = re.compile(
    r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+|[\w/+=.@-]{1,512})$")


class UriImage(Strict):
    """An image you pushed to Amazon ECR (same region as the endpoint)."""

    uri: str

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        if not ECR_URI_RE.match(v):
            raise ValueError(f"{v!r} is not an ECR image URI like "
                             "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag")
        return v

    @property
    def parts(self) -> re.Match:
        return ECR_URI_RE.match(self.uri)  # type: ignore[return-value]


class ModelPackageImage(Strict):
    """An AWS Marketplace (or your own) model package: the package brings image and
    weights; SageMaker requires network isolation and takes no environment."""

    model_package: str

    @field_validator("model_package")
    @classmethod
    def _package(cls, v: str) -> str:
        if not MODEL_PACKAGE_RE.match(v):
            raise ValueError(f"{v!r} is not a model package ARN or name")
        return v


class HubSource(Strict):
    """A model id on the Hugging Face Hub, downloaded by the container at start-up.
    Gated models (e.g. Llama) need a token: name the Secrets Manager secret that holds it
    in ``token_secret`` (and ``token_secret_key`` when the secret is JSON)."""

    hub: str
    token_secret: str | None = None
    token_secret_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,256}$")

    @field_validator("token_secret")
    @classmethod
    def _secret(cls, v: str | None) -> str | None:
        if v is not None and not SECRET_RE.match(v):
            raise ValueError(f"{v!r} is not a Secrets Manager secret name or ARN")
        if v is not None and v.startswith("hf_"):
            raise ValueError("this looks like a token, not a secret name: store the token in "
                             "Secrets Manager and give the secret's name here")
        return v

    @field_validator("hub")
    @classmethod
    def _hub(cls, v: str) -> str:
        if not HUB_ID_RE.match(v):
            raise ValueError(f"{v!r} is not a Hub model id like 'org/model'")
        return v


class S3Source(Strict):
    """Model artifacts in S3: ``s3://bucket/key.tar.gz`` (compressed) or
    ``s3://bucket/prefix/`` (uncompressed; loaded file by file, faster for big models)."""

    s3: str
    #: The KMS key the artifacts are encrypted with (SSE-KMS with your key): the role may
    #: decrypt with exactly that key.
    kms_key_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]{36}$")

    @field_validator("s3")
    @classmethod
    def _s3(cls, v: str) -> str:
        if not S3_URI_RE.match(v):
            raise ValueError(f"{v!r} is not an S3 URI like s3://bucket/path/model.tar.gz "
                             "or s3://bucket/prefix/")
        if not (v.endswith(".tar.gz") or v.endswith("/")):
            raise ValueError(f"{v!r}: point at a model.tar.gz or at a prefix ending in '/'")
        return v


#: TGI's quantisation options and the weight size they give (for the sizing check).
QUANTIZE_DTYPE = {"bitsandbytes": "int8", "eetq": "int8", "fp8": "int8",
                  "bitsandbytes-nf4": "int4", "bitsandbytes-fp4": "int4", "gptq": "int4",
                  "awq": "int4", "marlin": "int4", "exl2": "int4"}

#: Environment variables that TGI settings set; giving them in ``environment`` too is an error.
TGI_SETTING_ENV = ("MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH", "MAX_TOTAL_TOKENS",
                   "MAX_BATCH_PREFILL_TOKENS", "QUANTIZE", "MESSAGES_API_ENABLED")


class TgiSettings(Strict):
    """Typed TGI launcher settings, turned into the container's environment."""

    max_input_tokens: int | None = Field(default=None, ge=1)
    max_total_tokens: int | None = Field(default=None, ge=2)
    max_batch_prefill_tokens: int | None = Field(default=None, ge=1)
    quantize: Literal[tuple(QUANTIZE_DTYPE)] | None = None  # type: ignore[valid-type]
    messages_api_enabled: bool | None = None


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


class ModelSize(Strict):
    """For the synth-time check that the weights fit the instance's GPU memory."""

    parameters_billions: float | None = Field(default=None, gt=0, le=10000)
    dtype: Literal["fp32", "bf16", "fp16", "int8", "int4"] | None = None


class Autoscaling(Strict):
    """Real-time: target tracking on SageMakerVariantInvocationsPerInstance.
    Async: target tracking on ApproximateBacklogSizePerInstance, min 0 allowed, plus a
    step policy on HasBacklogWithoutCapacity that brings the first instance back."""

    min_capacity: int = Field(default=1, ge=0, le=100)
    max_capacity: int = Field(default=2, ge=1, le=100)
    target_invocations_per_instance: int | None = Field(default=None, ge=1)
    target_backlog_per_instance: float | None = Field(default=None, gt=0)
    scale_in_cooldown_seconds: int = Field(default=600, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(default=120, ge=0, le=3600)
    scale_from_zero_cooldown_seconds: int = Field(default=120, ge=0, le=3600)

    @property
    def invocations_target(self) -> int:
        return self.target_invocations_per_instance or 20

    @property
    def backlog_target(self) -> float:
        return self.target_backlog_per_instance or 5.0


NOTIFICATION_TOPICS = ("SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC")


class AsyncInference(Strict):
    """Asynchronous inference: requests and results in S3, notifications on SNS.

    Paths are prefixes in the bucket the stack creates (KMS-encrypted, SSL-only,
    versioned, access-logged). ``existing_bucket`` uses a bucket you own instead."""

    max_concurrent_invocations_per_instance: int | None = Field(default=None, ge=1, le=1000)
    existing_bucket: str | None = Field(default=None,
                                        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    input_path: str = "input/"
    output_path: str = "output/"
    failure_path: str = "failure/"
    expire_after_days: int | None = Field(default=30, ge=1, le=3650)
    notifications: bool = True
    #: The runtime around the endpoint: uploads under input_path are submitted by a Lambda
    #: (S3 event -> SQS -> Lambda), results recorded in a job ledger (DynamoDB), failed
    #: requests copied under failed_requests_path for replay.
    runtime: bool = True
    failed_requests_path: str = "failed/"
    max_receive_count: int = Field(default=5, ge=1, le=1000)
    invoker_max_concurrency: int = Field(default=5, ge=2, le=1000)
    include_inference_response_in: list[Literal[NOTIFICATION_TOPICS]] = Field(  # type: ignore[valid-type]
        default_factory=list)

    @field_validator("input_path", "output_path", "failure_path", "failed_requests_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if v.startswith("s3://"):
            if not S3_URI_RE.match(v if v.endswith("/") else v + "/x"):
                raise ValueError(f"{v!r} is not an S3 URI")
            return v if v.endswith("/") else v + "/"
        if not re.match(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/?$", v):
            raise ValueError(f"{v!r} is not an S3 prefix like 'output/'")
        return v if v.endswith("/") else v + "/"


class Alarms(Strict):
    """Alarms per endpoint; actions go to ``topic_arn`` when given."""

    enabled: bool = True
    topic_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$")
    max_age_of_oldest_request_seconds: int = Field(default=1800, ge=60)
    invocation_failures: int = Field(default=1, ge=1)
    invocation_5xx_errors: int = Field(default=5, ge=1)
    model_latency_p90_ms: int = Field(default=30000, ge=1)
    period_seconds: int = Field(default=300, ge=60)


def _kind_of(keys: tuple[str, ...]):
    """Discriminate a union by which one of ``keys`` the mapping has (None: ambiguous)."""
    def kind(value) -> str | None:
        if isinstance(value, dict):
            present = [k for k in keys if k in value]
        else:
            present = [k for k in keys if getattr(value, k, None) is not None]
        return present[0] if len(present) == 1 else None
    return kind


IMAGE_KINDS = ("tgi", "vllm", "sglang", "lmi", "pytorch", "uri", "build", "model_package")

Image = Annotated[Union[Annotated[TgiImage, Tag("tgi")],
                        Annotated[VllmImage, Tag("vllm")],
                        Annotated[SglangImage, Tag("sglang")],
                        Annotated[LmiImage, Tag("lmi")],
                        Annotated[PytorchImage, Tag("pytorch")],
                        Annotated[UriImage, Tag("uri")],
                        Annotated[BuildImage, Tag("build")],
                        Annotated[ModelPackageImage, Tag("model_package")]],
                  Discriminator(_kind_of(IMAGE_KINDS), custom_error_type="image_kind",
                                custom_error_message="give exactly one of tgi: <version>, "
                                                     "vllm: <version>, sglang: <version>, "
                                                     "lmi: <version>, "
                                                     "pytorch: <transformers version>, "
                                                     "uri: <ecr image uri>, build: <folder "
                                                     "with a Dockerfile>, model_package: "
                                                     "<arn or name>")]
Source = Annotated[Union[Annotated[HubSource, Tag("hub")], Annotated[S3Source, Tag("s3")]],
                   Discriminator(_kind_of(("hub", "s3")), custom_error_type="source_kind",
                                 custom_error_message="give exactly one of hub: <model id>, "
                                                      "s3: <s3 uri>")]


class ModelSpec(Strict):
    """What runs in one container: image, weights, environment, TGI settings."""

    name: str
    instance_type: str = "ml.g5.2xlarge"
    image: Image | None = None
    source: Source | None = None
    tgi_settings: TgiSettings | None = None
    serving: Serving | None = None
    model_size: ModelSize | None = None
    sm_num_gpus: int | None = Field(default=None, ge=1)
    environment: dict[str, str] = Field(default_factory=dict)
    network_isolation: bool = False
    container_startup_health_check_timeout_seconds: int = Field(default=900, ge=60, le=3600)
    model_data_download_timeout_seconds: int = Field(default=1200, ge=60, le=3600)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f"{v!r}: use 1-31 lower-case letters, digits and '-', "
                             "starting with a letter")
        return v

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, v: str) -> str:
        allowed = instances.realtime_instance_types()
        if v not in allowed:
            raise ValueError(f"{v!r} is not a SageMaker hosting instance type{_close(v, allowed)}; "
                             "the list is botocore's ProductionVariantInstanceType")
        return v

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key in SECRET_ENV_KEYS:
                raise ValueError(f"{key} must not be a literal in config (it would be stored in "
                                 "the template in plain text); keep tokens in Secrets Manager")
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$", key):
                raise ValueError(f"{key!r} is not an environment variable name")
        return v

    @property
    def gpus(self) -> int | None:
        return instances.gpu_count(self.instance_type)

    @property
    def is_tgi(self) -> bool:
        return isinstance(self.image, TgiImage)

    @property
    def is_pytorch(self) -> bool:
        return isinstance(self.image, PytorchImage)

    @property
    def backend(self) -> str | None:
        """``tgi``, ``vllm``, ``sglang`` or ``lmi`` for a serving-backend image, else None."""
        for kind, cls in (("tgi", TgiImage), ("vllm", VllmImage), ("sglang", SglangImage),
                          ("lmi", LmiImage)):
            if isinstance(self.image, cls):
                return kind
        return None

    def dlc_image(self) -> images.DlcImage | None:
        """The AWS Deep Learning Container this model runs (TGI, vLLM, SGLang, LMI or the
        Hugging Face PyTorch DLC); None for other images."""
        if self.backend is not None:
            return images.backend_image(self.backend, getattr(self.image, self.backend))
        if isinstance(self.image, PytorchImage):
            return images.pytorch_image(self.image.pytorch, gpu=self.uses_gpu)
        return None

    @property
    def gpus_available(self) -> int | None:
        """GPUs the container may use: the instance's (a component: its accelerators)."""
        return self.gpus

    @property
    def is_model_package(self) -> bool:
        return isinstance(self.image, ModelPackageImage)

    @property
    def uses_gpu(self) -> bool:
        """Whether the container gets GPUs (GPU builds of DLC images)."""
        return self.gpus != 0

    @property
    def num_gpus(self) -> int:
        """GPUs the model shards over (SM_NUM_GPUS, tensor-parallel degree): config, else
        every GPU available."""
        if self.sm_num_gpus is not None:
            return self.sm_num_gpus
        if self.serving is not None and self.serving.tensor_parallel_degree is not None:
            return self.serving.tensor_parallel_degree
        return self.gpus_available or 0


class ComponentAutoscaling(Strict):
    """Target tracking on concurrent requests per copy (DesiredCopyCount); with
    ``min_copies: 0`` also the documented alarm (NoCapacityInvocationFailures) and step
    policy that bring the first copy back."""

    min_copies: int = Field(default=1, ge=0, le=1000)
    max_copies: int = Field(default=2, ge=1, le=1000)
    target_concurrent_requests_per_copy: float = Field(default=4, gt=0)
    scale_in_cooldown_seconds: int = Field(default=600, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(default=120, ge=0, le=3600)
    scale_from_zero_cooldown_seconds: int = Field(default=120, ge=0, le=3600)


class Component(ModelSpec):
    """One model of a ``mode: components`` endpoint (an AWS::SageMaker::InferenceComponent).
    ``instance_type`` is the endpoint's; SM_NUM_GPUS defaults to ``accelerators``."""

    accelerators: int = Field(default=0, ge=0, le=64)
    memory_mb: int = Field(ge=128)
    cpu_cores: float | None = Field(default=None, gt=0)
    copies: int = Field(default=1, ge=0, le=1000)
    autoscaling: ComponentAutoscaling | None = None

    @property
    def gpus_available(self) -> int | None:
        return self.accelerators

    @property
    def min_copies(self) -> int:
        return self.autoscaling.min_copies if self.autoscaling else self.copies


class InstanceScaling(Strict):
    """ManagedInstanceScaling of a components endpoint: SageMaker adds and removes
    instances as component copies need them (``min_instances: 0`` scales to zero)."""

    min_instances: int = Field(default=1, ge=0, le=100)
    max_instances: int = Field(default=1, ge=1, le=100)


class Serverless(Strict):
    """A serverless endpoint (CPU only, outside your VPC, SageMaker scales it)."""

    memory_size_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 2048
    max_concurrency: int = Field(default=5, ge=1, le=200)
    provisioned_concurrency: int | None = Field(default=None, ge=1, le=200)


class Guardrails(Strict):
    """Deployment guardrails (real-time): blue/green traffic shifting with auto-rollback on
    the stack's 5XX and model-latency alarms."""

    strategy: Literal["all_at_once", "canary", "linear"] = "canary"
    canary_size_percent: int | None = Field(default=None, ge=1, le=99)
    linear_step_percent: int | None = Field(default=None, ge=1, le=99)
    wait_interval_seconds: int = Field(default=300, ge=0, le=3600)
    termination_wait_seconds: int = Field(default=300, ge=0, le=3600)
    maximum_execution_timeout_seconds: int | None = Field(default=None, ge=600, le=28800)
    auto_rollback: bool = True


class Endpoint(ModelSpec):
    endpoint_name: str | None = None
    mode: Literal["realtime", "async", "components", "serverless"] = "realtime"
    initial_instance_count: int = Field(default=1, ge=1, le=100)
    volume_size_gb: int | None = Field(default=None, ge=1, le=512)
    autoscaling: Autoscaling | None = None
    async_inference: AsyncInference | None = None
    components: list[Component] | None = None
    instance_scaling: InstanceScaling | None = None
    serverless: Serverless | None = None
    guardrails: Guardrails | None = None
    alarms: Alarms = Field(default_factory=Alarms)
    invoke_principals: list[str] = Field(default_factory=list)

    @field_validator("endpoint_name")
    @classmethod
    def _endpoint_name(cls, v: str | None) -> str | None:
        if v is not None and not ENDPOINT_NAME_RE.match(v):
            raise ValueError(f"{v!r} is not a SageMaker endpoint name: 1-63 letters, digits "
                             "and '-', starting and ending with a letter or digit")
        return v

    @field_validator("invoke_principals")
    @classmethod
    def _principals(cls, v: list[str]) -> list[str]:
        for arn in v:
            if not re.match(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$", arn):
                raise ValueError(f"{arn!r} is not an IAM role ARN")
        return v

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    @property
    def async_settings(self) -> AsyncInference:
        return self.async_inference or AsyncInference()

    @property
    def is_components(self) -> bool:
        return self.mode == "components"

    @property
    def is_serverless(self) -> bool:
        return self.mode == "serverless"

    @property
    def uses_gpu(self) -> bool:
        return not self.is_serverless and self.gpus != 0

    def component_view(self, c: Component) -> Component:
        """``c`` on this endpoint's instance type (what the per-model rules check)."""
        return c.model_copy(update={"instance_type": self.instance_type})


class AppConfig(Strict):
    project: str
    deployment: Deployment = Field(default_factory=Deployment)
    network: Network = Field(default_factory=Network)
    encryption: Encryption = Field(default_factory=Encryption)
    removal_policy: Literal["retain", "destroy"] = "destroy"
    endpoints: list[Endpoint] = Field(min_length=1)

    @field_validator("project")
    @classmethod
    def _project(cls, v: str) -> str:
        if not re.match(r"^[a-z][a-z0-9-]{1,24}$", v):
            raise ValueError(f"{v!r}: use 2-25 lower-case letters, digits and '-', "
                             "starting with a letter (it prefixes stack and endpoint names)")
        return v

    def endpoint_name_of(self, ep: Endpoint) -> str:
        return ep.endpoint_name or f"{self.project}-{ep.name}"


def semantic_errors(cfg: AppConfig) -> list[tuple[str, str]]:
    """Rules that join several fields. Returns ``(path, message)`` pairs."""
    errors: list[tuple[str, str]] = []
    dep, net = cfg.deployment, cfg.network

    if dep.availability_zones is not None:
        if dep.region is None:
            errors.append(("deployment.availability_zones",
                           "set deployment.region too (zones belong to one region)"))
        elif len(dep.availability_zones) < 2:
            errors.append(("deployment.availability_zones",
                           f"{dep.availability_zones} has fewer than 2 zones; give at least 2"))
        else:
            for az in dep.availability_zones:
                if not re.match(rf"^{re.escape(dep.region)}[a-z]$", az):
                    errors.append(("deployment.availability_zones",
                                   f"{az!r} is not a zone of {dep.region}"))
    elif dep.account is not None and dep.region is not None:
        errors.append(("deployment.availability_zones",
                       "with a fixed account and region, list the zones (e.g. "
                       f"[{dep.region}a, {dep.region}b]): otherwise synth needs an AWS lookup"))
    if net.nat_gateways > net.max_azs:
        errors.append(("network.nat_gateways",
                       f"{net.nat_gateways} NAT gateways for {net.max_azs} AZs; at most one per AZ"))

    seen: dict[str, str] = {}
    for i, ep in enumerate(cfg.endpoints):
        p = f"endpoints[{i}] ({ep.name})"
        if ep.name in seen.values():
            errors.append((f"{p}.name", f"{ep.name!r} is used by another endpoint"))
        full = cfg.endpoint_name_of(ep)
        if full in seen:
            errors.append((f"{p}.endpoint_name", f"{full!r} is also the name of endpoint "
                                                 f"{seen[full]!r}"))
        seen[full] = ep.name
        if not ENDPOINT_NAME_RE.match(full):
            errors.append((f"{p}.name", f"the derived endpoint name {full!r} is not valid "
                                        "(1-63 characters); set endpoint_name"))

        if ep.is_components:
            errors += _components_errors(p, ep, net, dep, full)
        elif ep.image is None:
            errors.append((f"{p}.image", "required key is missing: give tgi: <version>, "
                                         "pytorch: <version>, uri: <ecr uri>, build: <folder> "
                                         "or model_package: <arn>"))
        else:
            errors += _model_errors(p, ep, net, dep)
            for key in ("components", "instance_scaling"):
                if getattr(ep, key) is not None:
                    errors.append((f"{p}.{key}", "only for mode: components"))
        errors += _serverless_errors(p, ep, net)
        errors += _guardrail_errors(p, ep)

        if ep.volume_size_gb is not None and instances.has_instance_store(ep.instance_type):
            errors.append((f"{p}.volume_size_gb",
                           f"{ep.instance_type} has local NVMe storage and SageMaker rejects "
                           "VolumeSizeInGB for it; remove volume_size_gb"))

        sc = ep.autoscaling
        if sc is not None:
            if sc.min_capacity > sc.max_capacity:
                errors.append((f"{p}.autoscaling.min_capacity",
                               f"{sc.min_capacity} is above max_capacity {sc.max_capacity}"))
            if ep.is_components or ep.is_serverless:
                errors.append((f"{p}.autoscaling",
                               "components scale per component (components[].autoscaling) and "
                               "instances with instance_scaling" if ep.is_components else
                               "SageMaker scales serverless endpoints itself (serverless."
                               "max_concurrency, provisioned_concurrency)"))
            elif sc.min_capacity == 0 and not ep.is_async:
                errors.append((f"{p}.autoscaling.min_capacity",
                               "0 is allowed only for mode: async (a real-time endpoint "
                               "needs at least one instance); use 1"))
            if not max(sc.min_capacity, 1) <= ep.initial_instance_count <= sc.max_capacity:
                errors.append((f"{p}.initial_instance_count",
                               f"{ep.initial_instance_count} is outside autoscaling "
                               f"{max(sc.min_capacity, 1)}..{sc.max_capacity}"))
            if ep.is_async and sc.target_invocations_per_instance is not None:
                errors.append((f"{p}.autoscaling.target_invocations_per_instance",
                               "async endpoints publish no invocation metrics and scale on "
                               "backlog: use target_backlog_per_instance"))
            if not ep.is_async and sc.target_backlog_per_instance is not None:
                errors.append((f"{p}.autoscaling.target_backlog_per_instance",
                               "only async endpoints have a backlog: use "
                               "target_invocations_per_instance, or set mode: async"))
        errors += _async_errors(p, ep)

    return errors


def _model_errors(p: str, ep: ModelSpec, net: Network, dep: Deployment,
                  in_vpc: bool = True) -> list[tuple[str, str]]:
    """The rules for one container: source, image, TGI settings, sizing."""
    errors = _source_errors(p, ep, net, in_vpc=in_vpc) + _image_errors(p, ep, dep)
    if ep.is_tgi:
        errors += _tgi_errors(p, ep)
    errors += _serving_errors(p, ep)
    if ep.backend or (ep.is_pytorch and ep.uses_gpu):
        errors += _sizing_errors(p, ep)
    return errors


def _serving_errors(p: str, ep: ModelSpec) -> list[tuple[str, str]]:
    """Backend rules: tensor parallelism against the GPUs, settings the backend has."""
    errors: list[tuple[str, str]] = []
    backend, sv = ep.backend, ep.serving
    if backend is None:
        if sv is not None:
            errors.append((f"{p}.serving", "only for serving-backend images (tgi:, vllm:, "
                                           "sglang:, lmi:); set what your image reads in "
                                           "environment"))
        return errors
    name = backends.NAMES[backend]
    if backend != "tgi" and ep.gpus == 0:
        errors.append((f"{p}.instance_type", f"{ep.instance_type!r} has no GPU; the {name} "
                                             "image needs one (e.g. ml.g5.2xlarge)"))
    if sv is None:
        return errors
    if ep.tgi_settings is not None:
        errors.append((f"{p}.serving", "give serving or tgi_settings, not both"))
    if ep.sm_num_gpus is not None and sv.tensor_parallel_degree is not None:
        errors.append((f"{p}.sm_num_gpus", "give serving.tensor_parallel_degree or "
                                           "sm_num_gpus, not both"))
    gpus = ep.gpus_available
    tp = sv.tensor_parallel_degree
    if tp is not None and gpus:
        divisors = [d for d in range(1, gpus + 1) if gpus % d == 0]
        if tp not in divisors:
            errors.append((f"{p}.serving.tensor_parallel_degree",
                           f"{tp} is not a divisor of the {gpus} GPU(s) available "
                           f"({ep.instance_type}); allowed: {', '.join(map(str, divisors))}"))
    keys = backends.ENV[backend]
    for field in ("max_input_tokens", "max_concurrent_sequences"):
        if getattr(sv, field) is not None and field not in keys:
            errors.append((f"{p}.serving.{field}",
                           f"{name} has no such setting (it limits the whole sequence with "
                           "max_model_len); remove it"))
    if sv.max_input_tokens and sv.max_model_len and sv.max_input_tokens >= sv.max_model_len:
        errors.append((f"{p}.serving.max_input_tokens",
                       f"{sv.max_input_tokens} must be below max_model_len {sv.max_model_len}"))
    allowed_q = backends.QUANTIZATION[backend]
    if sv.quantization is not None and sv.quantization not in allowed_q:
        errors.append((f"{p}.serving.quantization",
                       f"{sv.quantization!r} is not a {name} quantization"
                       f"{_close(sv.quantization, allowed_q)}; allowed: {', '.join(allowed_q)}"))
    if sv.dtype is not None and sv.dtype not in backends.DTYPE[backend]:
        errors.append((f"{p}.serving.dtype", f"{name} does not take {sv.dtype!r}; allowed: "
                                             f"{', '.join(backends.DTYPE[backend])}"))
    return errors


def _components_errors(p: str, ep: Endpoint, net: Network, dep: Deployment,
                       full_name: str) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    for key in ("image", "source", "tgi_settings", "sm_num_gpus", "model_size"):
        if getattr(ep, key) is not None:
            errors.append((f"{p}.{key}", "give it per component (components[].{key}) on a "
                                         "components endpoint".format(key=key)))
    if not ep.components:
        errors.append((f"{p}.components", "required for mode: components: one entry per "
                                          "model (name, image, source, accelerators, memory_mb)"))
        return errors
    gpus = ep.gpus
    if gpus is None:
        errors.append((f"{p}.instance_type", f"the GPU count of {ep.instance_type!r} is not "
                                             "in our table; components need it for placement"))
    memory_mib = instances.memory_gib(ep.instance_type)
    scaling = ep.instance_scaling or InstanceScaling()
    if scaling.min_instances > scaling.max_instances:
        errors.append((f"{p}.instance_scaling.min_instances",
                       f"{scaling.min_instances} is above max_instances {scaling.max_instances}"))
    names: set[str] = set()
    for j, c in enumerate(ep.components):
        pc = f"{p}.components[{j}] ({c.name})"
        if c.name in names:
            errors.append((f"{pc}.name", f"{c.name!r} is used by another component"))
        if not ENDPOINT_NAME_RE.match(f"{full_name}-{c.name}"):
            errors.append((f"{pc}.name", f"the component name {full_name + '-' + c.name!r} is longer "
                                         "than 63 characters; shorten it or endpoint_name"))
        names.add(c.name)
        if "instance_type" in c.model_fields_set:
            errors.append((f"{pc}.instance_type", "components run on the endpoint's "
                                                  "instance_type; remove it here"))
        if c.image is None:
            errors.append((f"{pc}.image", "required key is missing"))
            continue
        if c.is_model_package:
            errors.append((f"{pc}.image.model_package", "SageMaker does not host model "
                                                        "packages as inference components"))
            continue
        view = ep.component_view(c)
        errors += _model_errors(pc, view, net, dep)
        if gpus is not None and c.accelerators > gpus:
            errors.append((f"{pc}.accelerators",
                           f"{c.name!r} asks for {c.accelerators} accelerators; "
                           f"{ep.instance_type} has {gpus}"))
        if c.is_tgi and c.accelerators == 0:
            errors.append((f"{pc}.accelerators", "the TGI image needs at least 1 GPU"))
        if c.sm_num_gpus is not None and c.sm_num_gpus > c.accelerators:
            errors.append((f"{pc}.sm_num_gpus", f"{c.sm_num_gpus} is more than the "
                                                f"{c.accelerators} accelerators it reserves"))
        if memory_mib is not None and c.memory_mb > memory_mib * 1024:
            errors.append((f"{pc}.memory_mb", f"{c.memory_mb} MB is more than the "
                                              f"{memory_mib} GiB of {ep.instance_type}"))
        a = c.autoscaling
        if a is not None:
            if a.min_copies > a.max_copies:
                errors.append((f"{pc}.autoscaling.min_copies",
                               f"{a.min_copies} is above max_copies {a.max_copies}"))
            elif not a.min_copies <= c.copies <= a.max_copies:
                errors.append((f"{pc}.copies", f"{c.copies} is outside autoscaling "
                                               f"{a.min_copies}..{a.max_copies}"))
    if gpus is not None:
        need = sum(c.accelerators * c.min_copies for c in ep.components)
        have = gpus * scaling.max_instances
        if need > have:
            errors.append((f"{p}.components",
                           f"the minimum copies need {need} accelerators; {scaling.max_instances}"
                           f" x {ep.instance_type} have {have}: lower copies or accelerators, "
                           "or raise instance_scaling.max_instances"))
    if memory_mib is not None:
        need_mb = sum(c.memory_mb * c.min_copies for c in ep.components)
        have_mb = memory_mib * 1024 * scaling.max_instances
        if need_mb > have_mb:
            errors.append((f"{p}.components",
                           f"the minimum copies need {need_mb} MB of memory; "
                           f"{scaling.max_instances} x {ep.instance_type} have {have_mb} MB"))
    return errors


def _serverless_errors(p: str, ep: Endpoint, net: Network) -> list[tuple[str, str]]:
    if not ep.is_serverless:
        return [(f"{p}.serverless", "only for mode: serverless")] if ep.serverless else []
    errors: list[tuple[str, str]] = []
    sv = ep.serverless or Serverless()
    if "instance_type" in ep.model_fields_set:
        errors.append((f"{p}.instance_type",
                       "serverless endpoints have no instance type and no GPU: SageMaker "
                       "sizes CPU compute from serverless.memory_size_mb; remove it"))
    if ep.is_tgi:
        errors.append((f"{p}.image.tgi", "TGI needs a GPU and serverless endpoints have none; "
                                         "use pytorch: <version> (CPU build) or a real-time "
                                         "endpoint"))
    if ep.is_model_package:
        errors.append((f"{p}.image.model_package", "SageMaker does not serve model packages "
                                                   "on serverless endpoints"))
    if net.egress == "none":
        errors.append((f"{p}.mode", "network.egress: none promises models no internet path, "
                                    "but serverless endpoints run outside your VPC (SageMaker "
                                    "takes no VpcConfig for them); use a real-time endpoint"))
    if ep.network_isolation:
        errors.append((f"{p}.network_isolation", "not supported on serverless endpoints"))
    for key, why in (("async_inference", "serverless endpoints are synchronous"),
                     ("volume_size_gb", "serverless endpoints have no volume to size"),
                     ("guardrails", "SageMaker has no deployment guardrails for serverless "
                                    "endpoints")):
        if getattr(ep, key) is not None:
            errors.append((f"{p}.{key}", why))
    if "initial_instance_count" in ep.model_fields_set:
        errors.append((f"{p}.initial_instance_count", "serverless endpoints have no instances"))
    if sv.provisioned_concurrency is not None and sv.provisioned_concurrency > sv.max_concurrency:
        errors.append((f"{p}.serverless.provisioned_concurrency",
                       f"{sv.provisioned_concurrency} is above max_concurrency "
                       f"{sv.max_concurrency}"))
    return errors


def _guardrail_errors(p: str, ep: Endpoint) -> list[tuple[str, str]]:
    g = ep.guardrails
    if g is None:
        return []
    errors: list[tuple[str, str]] = []
    unsupported = ("async (this project supports guardrails on real-time endpoints only)"
                   if ep.is_async else
                   "components (inference components have their own rolling updates)"
                   if ep.is_components else None)
    if ep.is_model_package:
        unsupported = "Marketplace model packages (SageMaker supports no guardrails for them)"
    if unsupported:
        errors.append((f"{p}.guardrails", f"not available for {unsupported}; remove guardrails"))
    if g.strategy == "canary" and g.canary_size_percent is None:
        errors.append((f"{p}.guardrails.canary_size_percent", "required for strategy: canary"))
    if g.strategy == "linear" and g.linear_step_percent is None:
        errors.append((f"{p}.guardrails.linear_step_percent", "required for strategy: linear"))
    for key, strategy in (("canary_size_percent", "canary"), ("linear_step_percent", "linear")):
        if getattr(g, key) is not None and g.strategy != strategy:
            errors.append((f"{p}.guardrails.{key}", f"only for strategy: {strategy}"))
    if g.auto_rollback and not ep.alarms.enabled:
        errors.append((f"{p}.guardrails.auto_rollback",
                       "rolls back on the stack's 5XX and latency alarms: set alarms.enabled: "
                       "true, or auto_rollback: false"))
    return errors


def _async_errors(p: str, ep: Endpoint) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if not ep.is_async:
        if ep.async_inference is not None and not ep.is_serverless:
            errors.append((f"{p}.async_inference",
                           "async settings on a real-time endpoint: set mode: async, or "
                           "remove async_inference"))
        return errors
    a = ep.async_settings
    paths = {"input_path": a.input_path, "output_path": a.output_path,
             "failure_path": a.failure_path}
    if a.runtime:
        paths["failed_requests_path"] = a.failed_requests_path
        if not a.notifications:
            errors.append((f"{p}.async_inference.runtime",
                           "the runtime learns results from the notification topics: set "
                           "notifications: true, or runtime: false"))
        if a.existing_bucket is not None:
            errors.append((f"{p}.async_inference.runtime",
                           "the runtime adds S3 event notifications to the bucket, which would "
                           f"replace those of your bucket {a.existing_bucket!r}: use the bucket "
                           "the stack creates, or runtime: false"))
    for field, path in paths.items():
        if not path.startswith("s3://"):
            continue
        bucket = S3_URI_RE.match(path)["bucket"]  # type: ignore[index]
        if a.existing_bucket is None:
            errors.append((f"{p}.async_inference.{field}",
                           f"{path!r} is outside the bucket this stack owns; give a prefix "
                           f"such as {field.removesuffix('_path') + '/'!r}, or set "
                           "existing_bucket to use your own bucket"))
        elif bucket != a.existing_bucket:
            errors.append((f"{p}.async_inference.{field}",
                           f"{path!r} is not in existing_bucket {a.existing_bucket!r}"))
    prefixes = {f: key_prefix(v) for f, v in paths.items()}
    items = list(prefixes.items())
    for i, (f1, k1) in enumerate(items):
        for f2, k2 in items[i + 1:]:
            if k1.startswith(k2) or k2.startswith(k1):
                errors.append((f"{p}.async_inference.{f2}",
                               f"{paths[f2]!r} overlaps {f1} {paths[f1]!r}: use distinct "
                               "prefixes (requests, results and failures are kept apart)"))
    if a.include_inference_response_in and not a.notifications:
        errors.append((f"{p}.async_inference.include_inference_response_in",
                       "needs notifications: true (the response goes into the SNS message)"))
    return errors


def key_prefix(path: str) -> str:
    """A config path (a prefix, or an ``s3://`` URI) -> its key prefix in the bucket."""
    if path.startswith("s3://"):
        return S3_URI_RE.match(path)["key"]  # type: ignore[index]
    return path


def _source_errors(p: str, ep: ModelSpec, net: Network,
                   in_vpc: bool = True) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if ep.is_model_package:
        if ep.source is not None:
            errors.append((f"{p}.source", "a model package brings its own weights; remove "
                                          "source"))
        return errors
    if ep.source is None:
        if ep.is_tgi:
            errors.append((f"{p}.source", "required key is missing: hub: <model id> or "
                                          "s3: s3://bucket/prefix/"))
        if ep.is_pytorch and ep.image.code is None:  # type: ignore[union-attr]
            errors.append((f"{p}.source", "required key is missing: give source (hub: <model "
                                          "id> or s3: <uri>), or image.code with an "
                                          "inference.py whose model_fn loads the model"))
        return errors
    if ep.is_pytorch and ep.image.code is not None and isinstance(ep.source, S3Source):  # type: ignore[union-attr]
        errors.append((f"{p}.image.code",
                       f"SageMaker reads one model location, and {ep.source.s3!r} is yours: "
                       "put the handler into it as code/inference.py (in the archive, or "
                       "under the prefix) and remove image.code; image.code is packed for "
                       "hub: sources and handlers that load their own model"))
    if isinstance(ep.source, HubSource):
        if net.egress != "nat" and in_vpc and not getattr(ep, "is_serverless", False):
            errors.append((f"{p}.source.hub",
                           f"{ep.source.hub!r} is downloaded from the Hugging Face Hub, which "
                           "needs internet egress: set network.egress: nat, or put the "
                           "model in S3 (source: {s3: s3://bucket/prefix/})"))
        if ep.network_isolation:
            errors.append((f"{p}.network_isolation",
                           "a Hub model cannot load with network isolation on; "
                           "use an S3 source or set network_isolation: false"))
        if ep.source.token_secret_key and not ep.source.token_secret:
            errors.append((f"{p}.source.token_secret_key", "set token_secret too"))
    return errors


def _image_errors(p: str, ep: ModelSpec, dep: Deployment) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    img = ep.image
    dlc = ep.dlc_image()
    if dlc is not None and dep.region is not None:
        try:
            dlc.account_for(dep.region)
        except images.ImageResolutionError as exc:
            errors.append((f"{p}.image.{ep.backend or 'pytorch'}", str(exc)))
    if isinstance(img, TgiImage):
        gpus = ep.gpus
        if gpus == 0:
            errors.append((f"{p}.instance_type",
                           f"{ep.instance_type!r} has no GPU; the TGI image needs one "
                           "(e.g. ml.g5.2xlarge)"))
        elif gpus is None and ep.sm_num_gpus is None:
            errors.append((f"{p}.sm_num_gpus",
                           f"the GPU count of {ep.instance_type!r} is not in our table; "
                           "set sm_num_gpus"))
        if "SM_NUM_GPUS" in ep.environment:
            errors.append((f"{p}.environment.SM_NUM_GPUS",
                           "set sm_num_gpus instead (it is checked against the instance)"))
        if ep.sm_num_gpus is not None and gpus and ep.sm_num_gpus > gpus:
            errors.append((f"{p}.sm_num_gpus",
                           f"{ep.sm_num_gpus} is more than the {gpus} GPU(s) of "
                           f"{ep.instance_type}; allowed: 1..{gpus}"))
        return errors
    if ep.backend is not None:  # vLLM, SGLang, LMI
        if ep.sm_num_gpus is not None:
            errors.append((f"{p}.sm_num_gpus", "only TGI images read SM_NUM_GPUS; use "
                                               "serving.tensor_parallel_degree"))
        if ep.tgi_settings is not None:
            errors.append((f"{p}.tgi_settings", "only for TGI images; use serving"))
        return errors
    if ep.sm_num_gpus is not None:
        errors.append((f"{p}.sm_num_gpus", "only TGI images read SM_NUM_GPUS; set what your "
                                           "image reads in environment"))
    if ep.tgi_settings is not None:
        errors.append((f"{p}.tgi_settings", "only for TGI images (image: {tgi: <version>})"))
    if isinstance(img, UriImage):
        region = img.parts["region"]
        if dep.region is not None and region != dep.region:
            errors.append((f"{p}.image.uri",
                           f"the image is in {region}, the endpoint in {dep.region}: SageMaker "
                           "pulls from the endpoint's region; replicate the repository"))
    elif isinstance(img, ModelPackageImage):
        if ep.environment:
            errors.append((f"{p}.environment", "a model package takes no environment"))
        if "network_isolation" in ep.model_fields_set and not ep.network_isolation:
            errors.append((f"{p}.network_isolation",
                           "SageMaker requires network isolation for model packages; "
                           "remove the key or set it to true"))
    return errors


def _tgi_errors(p: str, ep: ModelSpec) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    t = ep.tgi_settings
    if t is None:
        return errors
    for key in TGI_SETTING_ENV:
        if key in ep.environment:
            errors.append((f"{p}.environment.{key}",
                           "set it in tgi_settings instead (checked there)"))
    if t.max_input_tokens and t.max_total_tokens and t.max_input_tokens >= t.max_total_tokens:
        errors.append((f"{p}.tgi_settings.max_input_tokens",
                       f"{t.max_input_tokens} must be below max_total_tokens "
                       f"{t.max_total_tokens} (TGI: input < total)"))
    if (t.max_batch_prefill_tokens and t.max_input_tokens
            and t.max_batch_prefill_tokens < t.max_input_tokens):
        errors.append((f"{p}.tgi_settings.max_batch_prefill_tokens",
                       f"{t.max_batch_prefill_tokens} is below max_input_tokens "
                       f"{t.max_input_tokens}; TGI refuses to start (prefill >= input)"))
    version = ep.image.version  # type: ignore[union-attr]
    if t.messages_api_enabled is not None:
        if version < (1, 4):
            errors.append((f"{p}.tgi_settings.messages_api_enabled",
                           f"TGI {ep.image.tgi} has no Messages API (added in 1.4)"))  # type: ignore[union-attr]
        elif version >= (2, 4):
            errors.append((f"{p}.tgi_settings.messages_api_enabled",
                           f"removed in TGI 2.4 (the SageMaker route accepts both payloads); "
                           f"remove it for {ep.image.tgi}"))  # type: ignore[union-attr]
    return errors


def _sizing_errors(p: str, ep: ModelSpec) -> list[tuple[str, str]]:
    size = ep.model_size or ModelSize()
    params = size.parameters_billions
    if params is None and isinstance(ep.source, HubSource):
        params = KNOWN_MODELS.get(ep.source.hub)
    quant = ep.tgi_settings.quantize if ep.tgi_settings else None
    quant_dtype = QUANTIZE_DTYPE.get(quant) if quant else None
    if ep.serving is not None and ep.serving.quantization and ep.backend:
        quant_dtype = backends.QUANTIZATION[ep.backend].get(ep.serving.quantization)
    dtype = size.dtype or quant_dtype or "bf16"
    per_gpu = instances.gpu_memory_gib(ep.instance_type)
    if params is None or per_gpu is None or ep.num_gpus == 0:
        return []
    need = instances.required_gpu_memory_gib(params, dtype)
    have = per_gpu * ep.num_gpus
    if need <= have:
        return []
    fit = instances.smallest_fitting(need, instances.family(ep.instance_type))
    hint = f"; smallest instance that fits: {fit}" if fit else "; no single instance fits"
    if dtype == "fp32":
        hint += f"; or load in bf16 (~{instances.required_gpu_memory_gib(params, 'bf16'):.0f} GiB)"
    return [(f"{p}.instance_type",
             f"{params:g}B parameters in {dtype} need ~{need:.0f} GiB of GPU memory (weights "
             f"+20% for KV cache and activations); {ep.instance_type} gives {have} GiB "
             f"({ep.num_gpus} GPU(s) x {per_gpu} GiB){hint}")]
