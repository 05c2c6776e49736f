"""What every config model shares: strictness, name patterns, paths, suggestions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

#: Relative paths in config (``code:``, ``build:``) are relative to the project folder.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def short_name(v: str) -> str:
    """A config name (an endpoint's, a component's, an adapter's): it becomes part of stack,
    resource and component names."""
    if not NAME_RE.match(v):
        raise ValueError(f"{v!r}: use 1-31 lower-case letters, digits and '-', "
                         "starting with a letter")
    return v


# SageMaker EndpointName: the service model's pattern, and at most 63 characters.
ENDPOINT_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
S3_URI_RE = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")


class Strict(BaseModel):
    """Unknown keys are errors; a validated config is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def close(value: str, allowed: Iterable[str]) -> str:
    """`` (did you mean a, b?)`` for the allowed values near ``value``, else ``""``."""
    near = difflib.get_close_matches(value, list(allowed), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(near)}?)" if near else ""


def project_path(value: str) -> Path:
    """A path from config, resolved (symlinks too): absolute, or relative to the project
    folder (never the cwd). Validators check it with ``outside_project`` first."""
    path = Path(value).expanduser()
    return (path if path.is_absolute() else PROJECT_ROOT / path).resolve()


def outside_project(value: str) -> str | None:
    """Why the config path ``value`` may not be used: it resolves outside the project
    folder, and synth would copy it into cdk.out (None: it is inside)."""
    resolved = project_path(value)
    if resolved.is_relative_to(PROJECT_ROOT):
        return None
    return (f"{value!r} resolves to {resolved}, outside the project folder {PROJECT_ROOT}; "
            "synth copies the folder into cdk.out and deploy uploads it: keep it inside")


def s3_parts(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; the URI was validated already."""
    match = S3_URI_RE.match(uri)
    if match is None:
        raise ValueError(f"{uri!r} is not an S3 URI")
    return match["bucket"], match["key"]


def raise_each(problems: list[str]) -> None:
    """Raise one error per problem of a field (each its own line), not one joined line."""
    if problems:
        raise ValidationError.from_exception_data("config", [
            InitErrorDetails(type=PydanticCustomError("value_error", "{problem}",
                                                      {"problem": problem}),
                             loc=(), input=None) for problem in problems])
