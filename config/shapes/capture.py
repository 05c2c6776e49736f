"""Data capture: a sample of an endpoint's requests and responses, written by SageMaker
to S3 as JSON Lines (``AWS::SageMaker::EndpointConfig.DataCaptureConfig``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from config.arns import check_kms_key_arn, parse_s3_uri

from .base import Strict

#: A prefix in the bucket the stack creates (the async paths' syntax).
_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/?$")

CaptureSide = Literal["input", "output"]


def _both() -> list[CaptureSide]:
    return ["input", "output"]


class DataCapture(Strict):
    """A sample of requests and/or responses, as JSON Lines in S3. The stack's capture
    bucket (KMS with the config's key, SSL-only, no public access, expiring) unless
    ``destination`` is an ``s3://`` URI of yours. Real-time and async endpoints."""

    enabled: bool = Field(default=True, description="Capture (EnableCapture); false keeps the "
                                                    "settings and captures nothing.")
    sampling_percentage: int = Field(
        default=10, ge=0, le=100,
        description="Percent of requests captured (InitialSamplingPercentage).")
    capture: list[CaptureSide] = Field(
        default_factory=_both, min_length=1, max_length=2,
        description="What is captured: the request (input), the response (output), or both.")
    destination: str = Field(
        default="capture/",
        description="A prefix in the stack's capture bucket, or an s3:// URI of yours (the "
                    "execution role may write exactly under it).")
    kms_key_arn: str | None = Field(
        default=None, description="With an s3:// destination: the KMS key SageMaker encrypts "
                                  "captures with (the stack's bucket uses the config's key).")
    json_content_types: list[str] = Field(
        default_factory=lambda: ["application/json"], max_length=10,
        description="Content types captured as JSON text; other payloads are base64.")
    csv_content_types: list[str] = Field(
        default_factory=list, max_length=10,
        description="Content types captured as CSV text.")
    expire_after_days: int | None = Field(
        default=30, ge=1, le=3650,
        description="Days the stack's capture bucket keeps captures; unset keeps them.")

    @field_validator("capture")
    @classmethod
    def _capture(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"{v} lists a mode twice; give input, output or both once")
        return v

    @field_validator("destination")
    @classmethod
    def _destination(cls, v: str) -> str:
        if v.startswith("s3://"):
            parse_s3_uri(v)
        elif not _PREFIX_RE.match(v):
            raise ValueError(f"{v!r} is neither an S3 prefix like 'capture/' nor an s3:// URI")
        return v if v.endswith("/") else v + "/"

    @field_validator("kms_key_arn")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        return check_kms_key_arn(v)

    @property
    def own_bucket(self) -> bool:
        """Whether the captures go to a bucket the stack creates."""
        return not self.destination.startswith("s3://")

    @property
    def capture_modes(self) -> list[str]:
        """CaptureOptions' CaptureMode values, one per captured side (as the SageMaker
        Python SDK sends them)."""
        return [mode.title() for mode in self.capture]
