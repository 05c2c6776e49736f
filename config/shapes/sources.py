"""Where a model's weights come from: the Hugging Face Hub, or S3."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Discriminator, Field, Tag, field_validator

from config.arns import check_kms_key_arn, parse_s3_uri

from .base import Strict
from .images import kind_of
from .secrets import secret_name_problem

HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


class HubSource(Strict):
    """A model id on the Hugging Face Hub, downloaded by the container at start-up.
    Gated models (e.g. Llama) need a token: name the Secrets Manager secret that holds it
    in ``token_secret`` (and ``token_secret_key`` when the secret is JSON)."""

    hub: str = Field(description="Hugging Face Hub model id ('org/model'); needs "
                                 "network.egress: nat and no network isolation.")
    token_secret: str | None = Field(
        default=None,
        description="Secrets Manager secret name or ARN holding the Hub token of a gated "
                    "model; the template holds only a reference to it.")
    token_secret_key: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,256}$",
        description="The JSON key of the token, when the secret is JSON.")

    @field_validator("token_secret")
    @classmethod
    def _secret(cls, v: str | None) -> str | None:
        problem = secret_name_problem(v) if v is not None else None
        if problem:
            raise ValueError(problem)
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

    s3: str = Field(description="s3://bucket/key.tar.gz (compressed) or s3://bucket/prefix/ "
                                "(uncompressed, faster for big models); the role may read "
                                "exactly that.")
    kms_key_arn: str | None = Field(
        default=None,
        description="The KMS key (ARN, in the endpoint's region) of SSE-KMS artifacts; the "
                    "role may decrypt with exactly it.")

    @field_validator("kms_key_arn")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        return check_kms_key_arn(v)

    @field_validator("s3")
    @classmethod
    def _s3(cls, v: str) -> str:
        _, key = parse_s3_uri(v)
        if not key:
            raise ValueError(f"{v!r} names no object: point at s3://bucket/path/model.tar.gz "
                             "or s3://bucket/prefix/")
        if not (v.endswith(".tar.gz") or v.endswith("/")):
            raise ValueError(f"{v!r}: point at a model.tar.gz or at a prefix ending in '/'")
        return v


Source = Annotated[Annotated[HubSource, Tag("hub")] | Annotated[S3Source, Tag("s3")],
                   Discriminator(kind_of(("hub", "s3")), custom_error_type="source_kind",
                                 custom_error_message="give exactly one of hub: <model id>, "
                                                      "s3: <s3 uri>")]
