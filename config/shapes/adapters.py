"""LoRA adapters served by a base inference component, and what their base must serve.

An adapter is an ``AWS::SageMaker::InferenceComponent`` of its own, with
``Specification.BaseInferenceComponentName`` (the base component) and
``Specification.Container.ArtifactUrl`` (the adapter in S3), and nothing else: it uses the
compute of its base. Sources, checked against the pinned versions:

* botocore 1.44.5, sagemaker ``InferenceComponentSpecification``: ``ComputeResourceRequirements``
  "Omit this parameter if your request is meant to create an adapter inference component ...
  it uses the compute resources of the base inference component"; ``BaseInferenceComponentName``
  is an ``InferenceComponentName`` (1-63 letters, digits, '-'); ``ArtifactUrl`` "must point
  to a single gzip compressed tar archive (.tar.gz suffix)". ``RuntimeConfig`` is optional
  in ``CreateInferenceComponent`` (an adapter has no copies of its own: it is loaded into
  each copy of its base), so none is sent; nor ``ModelName`` or ``Container.Image``.
* cfn-lint 1.58.0, ``AWS::SageMaker::InferenceComponent``: ``Specification`` takes
  ``BaseInferenceComponentName`` and ``Container.ArtifactUrl`` (``Url``: 1024 characters at
  most), no property is create-only, ``EndpointName`` is the only required one.

So the shape has no compute, copy, scaling or image keys: giving one is an error that says
where it belongs (the base).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from config.arns import check_kms_key_arn, parse_s3_uri
from config.backends import LMI, VLLM, Backend
from config.backends.record import OptionMap, assignment

from .base import Strict, short_name

if TYPE_CHECKING:
    from .model import ModelSpec


class Adapter(Strict):
    """A LoRA adapter (PEFT format, packed as one ``.tar.gz``) served by the component it is
    listed under; invoked as ``<endpoint name>-<name>``."""

    name: str = Field(description="1-31 lower-case letters, digits and '-'; unique among the "
                                  "endpoint's components and adapters.")
    artifact: str = Field(
        description="s3://bucket/key.tar.gz: the adapter's files in one gzip-compressed tar "
                    "(SageMaker's ArtifactUrl takes an archive, not a prefix); the role may "
                    "read exactly that object.")
    kms_key_arn: str | None = Field(
        default=None,
        description="The KMS key (ARN, in the endpoint's region) of an SSE-KMS artifact; the "
                    "role may decrypt with exactly it.")

    @model_validator(mode="before")
    @classmethod
    def _no_compute(cls, data: Any) -> Any:
        """A component's keys (accelerators, copies, autoscaling, image, ...) are the base's:
        say so, rather than "unknown key"."""
        from .endpoint import Component

        if isinstance(data, dict):
            given = [k for k in data if k in Component.model_fields and k not in cls.model_fields]
            if given:
                raise ValueError(f"{', '.join(map(str, given))}: an adapter has no model, compute, "
                                 "copies or scaling of its own (it runs in each copy of the "
                                 "component it is listed under): set them on that component; "
                                 "an adapter takes name, artifact and kms_key_arn")
        return data

    _name = field_validator("name")(short_name)

    @field_validator("artifact")
    @classmethod
    def _artifact(cls, v: str) -> str:
        _, key = parse_s3_uri(v)
        if not key.endswith(".tar.gz") or key == ".tar.gz":
            raise ValueError(f"{v!r}: SageMaker reads an adapter from one .tar.gz archive "
                             "(ArtifactUrl); pack the adapter's files and point at "
                             "s3://bucket/path/adapter.tar.gz")
        return v

    @field_validator("kms_key_arn")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        return check_kms_key_arn(v)


# -- which bases serve adapters -----------------------------------------------------------------
#: Backends whose SageMaker images load adapter inference components, and the engine option
#: that turns LoRA on (its variable and spelling per version: config/data/engine_options.json).
#: LMI: AWS, "Easily deploy and manage hundreds of LoRA adapters with SageMaker efficient
#: multi-adapter inference" (LMI container, OPTION_ENABLE_LORA). vLLM: the AWS vLLM DLC's
#: SageMaker layer, aws/model-hosting-container-standards (its LoRA handlers support the
#: engine "vllm" only; docs/sagemaker/05_lora_adapter_management.md: SM_VLLM_ENABLE_LORA and
#: VLLM_ALLOW_RUNTIME_LORA_UPDATING). TGI reads adapters only at start-up (--lora-adapters,
#: LORA_ADAPTERS) and SGLang's image has no SageMaker adapter handlers: neither serves
#: adapter inference components.
LORA_SWITCH: dict[str, OptionMap] = {
    VLLM.key: {"enable_lora": ("--enable-lora",)},
    LMI.key: {"enable_lora": ("enable_lora",)},
}
#: Variables an image needs beside the option: vLLM's own switch for loading adapters at run
#: time (vllm/envs.py), which the SageMaker adapter calls use.
LORA_VARIABLES: dict[str, dict[str, str]] = {
    VLLM.key: {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "true"},
}


def serves_adapters(backend: Backend | None) -> bool:
    return backend is not None and backend.key in LORA_SWITCH


def adapter_backends() -> str:
    """``vllm, lmi``: the image keys whose bases serve adapters, for messages."""
    return ", ".join(LORA_SWITCH)


def lora_environment(spec: ModelSpec) -> dict[str, str]:
    """The variables that let a base load its adapters (none when the backend, its version or
    its engine data cannot: the rules say why)."""
    backend, version = spec.backend, spec.backend_version
    if not serves_adapters(backend) or backend is None or version is None:
        return {}
    engine = backend.engine(version)
    if engine is None:
        return {}
    found = assignment(backend, engine, "enable_lora", True, LORA_SWITCH[backend.key])
    if found is None:
        return {}
    return {found[0]: found[1], **LORA_VARIABLES.get(backend.key, {})}
