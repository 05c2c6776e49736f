"""The image a model runs: a serving backend's DLC (one class per backend record), the
Hugging Face PyTorch DLC, your ECR image, a folder to build, or a model package."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Union

from pydantic import Discriminator, Field, JsonValue, Tag, create_model, field_validator

from config.arns import parse_arn
from config.backends import BACKENDS, Backend
from llm_constructs import images
from llm_constructs.inference_code import handler_problems

from .base import Strict, outside_project, project_path
from .dockerfile import entrypoint_problem

ECR_URI_RE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(:(?P<tag>[\w][\w.-]{0,127})|@sha256:[0-9a-f]{64})$")
MODEL_PACKAGE_RE = re.compile(
    r"^(arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[\w/-]+|[a-zA-Z0-9][\w-]{0,62})$")


class BackendImage(Strict):
    """A serving backend's DLC, named by the backend's one key (``tgi: 3.3.6``), whose
    value must be a version in the published table. One subclass per backend record,
    made by ``backend_image_model``."""

    #: The backend's record (set on each subclass).
    record: ClassVar[Backend]

    @field_validator("*")
    @classmethod
    def _version(cls, v: str) -> str:
        known = cls.record.versions()
        if v not in known:
            raise ValueError(f"{cls.record.name} version {v!r} is not in AWS's image table "
                             f"({images.source()}); offered: {', '.join(known)}")
        return v

    @property
    def backend(self) -> Backend:
        return self.record

    @property
    def version(self) -> str:
        return str(getattr(self, self.record.key))


def backend_image_model(record: Backend) -> type[BackendImage]:
    """The config model of ``record``'s image: ``{<key>: <version>}``."""
    offered: list[JsonValue] = [*record.versions()]  # editors complete these
    fields: dict[str, Any] = {record.key: (str, Field(
        description=f"{record.name} DLC version: one AWS's image table lists (newest "
                    f"{images.latest(record.image_key)}).",
        json_schema_extra={"enum": offered}))}
    model = create_model(f"{record.key.title()}Image", __base__=BackendImage,
                         __doc__=f"The {record.name} DLC at a version AWS's image table lists.",
                         **fields)
    model.record = record
    return model


class PytorchImage(Strict):
    """The Hugging Face PyTorch inference DLC, GPU or CPU build after the instance type.

    ``pytorch`` is the DLC's transformers version, as the SageMaker Python SDK keys it
    (e.g. ``4.51.3`` is ``2.6.0-transformers4.51.3-...``). ``code`` is a folder with your
    ``inference.py`` (model_fn/input_fn/predict_fn/output_fn, or transform_fn) and
    optionally ``requirements.txt``; it is packed as ``code/`` of the model archive."""

    pytorch: str = Field(description="The DLC's transformers version, as the SageMaker SDK "
                                     "keys it (e.g. 4.51.3).",
                         json_schema_extra={"enum": list(images.pytorch_versions())})
    code: str | None = Field(
        default=None,
        description="Folder with your inference.py (and requirements.txt, helper modules), "
                    "packed as code/ of a model archive; relative to the project folder.")

    @field_validator("pytorch")
    @classmethod
    def _version(cls, v: str) -> str:
        known = images.pytorch_versions()
        if v not in known:
            listed = ", ".join(f"{t} (PyTorch {pt})" for t, pt in known.items())
            raise ValueError(f"{v!r} is not a transformers version of the Hugging Face PyTorch "
                             f"DLC in AWS's image table ({images.source()}); offered: {listed}")
        return v

    @field_validator("code")
    @classmethod
    def _code(cls, v: str | None) -> str | None:
        if v is None:
            return v
        path = project_path(v)
        problems = [outside_project(v)] + (handler_problems(path) if path.is_dir() else [
            f"{v!r} is not a folder (looked at {path}); give the folder that holds "
            "inference.py, relative to the project folder"])
        if any(problems):
            raise ValueError("; ".join(p for p in problems if p))
        return v


class BuildImage(Strict):
    """A local folder with a Dockerfile, built and pushed by ``cdk deploy`` (a CDK Docker
    image asset, linux/amd64). Synth copies the folder and needs no Docker."""

    build: str = Field(description="Folder with a Dockerfile, relative to the project folder; "
                                   "built for linux/amd64 and pushed by cdk deploy.")

    @field_validator("build")
    @classmethod
    def _build(cls, v: str) -> str:
        outside = outside_project(v)
        if outside:
            raise ValueError(outside)
        path = project_path(v)
        if not (path / "Dockerfile").is_file():
            raise ValueError(f"{v!r} has no Dockerfile (looked at {path}); give the folder "
                             "to build, relative to the project folder")
        problem = entrypoint_problem(path / "Dockerfile")
        if problem:
            raise ValueError(problem)
        return v


class UriImage(Strict):
    """An image you pushed to Amazon ECR (same region as the endpoint)."""

    uri: str = Field(description="ECR image URI (account.dkr.ecr.region.amazonaws.com/repo:tag)"
                                 " in the endpoint's region.")

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        if not ECR_URI_RE.match(v):
            raise ValueError(f"{v!r} is not an ECR image URI like "
                             "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag")
        return v

    @property
    def parts(self) -> dict[str, str]:
        """``account``, ``region``, ``repository`` (and ``tag``) of the validated URI."""
        match = ECR_URI_RE.match(self.uri)
        assert match is not None, "validated at load"
        return {k: v for k, v in match.groupdict().items() if v is not None}


class ModelPackageImage(Strict):
    """An AWS Marketplace (or your own) model package: the package brings image and
    weights; SageMaker requires network isolation and takes no environment."""

    model_package: str = Field(description="Model package ARN or name (AWS Marketplace or "
                                           "yours): brings image and weights.")

    @field_validator("model_package")
    @classmethod
    def _package(cls, v: str) -> str:
        if v.startswith("arn:"):
            parse_arn(v, service="sagemaker", resource="model-package/")
        elif not MODEL_PACKAGE_RE.match(v):
            raise ValueError(f"{v!r} is not a model package ARN or name")
        return v


def kind_of(keys: Sequence[str]) -> Callable[[Any], str | None]:
    """Discriminate a union by which one of ``keys`` the mapping has (None: ambiguous)."""
    def kind(value: Any) -> str | None:
        if isinstance(value, dict):
            present = [k for k in keys if k in value]
        else:
            present = [k for k in keys if getattr(value, k, None) is not None]
        return present[0] if len(present) == 1 else None
    return kind


#: The image kinds that are not serving backends: key -> (model, placeholder in errors).
OTHER_IMAGES: dict[str, tuple[type[Strict], str]] = {
    "pytorch": (PytorchImage, "<transformers version>"),
    "uri": (UriImage, "<ecr image uri>"),
    "build": (BuildImage, "<folder with a Dockerfile>"),
    "model_package": (ModelPackageImage, "<arn or name>"),
}


def _image_members(records: Sequence[Backend]) -> dict[str, tuple[type[Strict], str]]:
    """Image kind -> (model, placeholder in errors): the backend records, then the rest."""
    members: dict[str, tuple[type[Strict], str]] = {
        r.key: (backend_image_model(r), "<version>") for r in records}
    return members | OTHER_IMAGES


def image_choices(records: Sequence[Backend]) -> str:
    """``give exactly one of tgi: <version>, ...``: what an ``image:`` mapping may hold."""
    return "give exactly one of " + ", ".join(
        f"{k}: {hint}" for k, (_, hint) in _image_members(records).items())


def image_union(records: Sequence[Backend]) -> Any:
    """The ``image:`` union: one member per backend record, then the other kinds; its tag
    is the key the mapping has, and a mapping with none or several keys gets one message."""
    members = _image_members(records)
    message = image_choices(records)
    tagged = tuple(Annotated[model, Tag(key)] for key, (model, _) in members.items())
    return Annotated[Union[tagged],  # noqa: UP007 - a runtime-built union
                     Discriminator(kind_of(tuple(members)), custom_error_type="image_kind",
                                   custom_error_message=message)]


if TYPE_CHECKING:
    Image = BackendImage | PytorchImage | UriImage | BuildImage | ModelPackageImage
else:
    Image = image_union(BACKENDS)
