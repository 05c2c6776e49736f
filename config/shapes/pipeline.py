"""The pipeline config (``pipeline.yaml``): where the code comes from, the tools account
that runs CDK Pipelines, and the waves of stages it deploys. Each stage names a config
(``env``) and where it goes; ``config/pipeline.py`` validates every stage's config for each
of its regions."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from config.arns import Arn, parse_arn

from .base import Strict, short_name
from .deployment import ACCOUNT_PATTERN, check_region

#: The services whose ARNs name a connection: CodeConnections, and its former name
#: CodeStar Connections (ARNs made before the rename keep it). botocore 1.44.5's
#: ``codeconnections`` (2023-12-01) and ``codestar-connections`` (2019-12-01) models give
#: ``ConnectionArn`` the same loose pattern ``arn:aws(-[\w]+)*:.+:.+:[0-9]{12}:.+`` (at most
#: 256 characters); the resource is ``connection/<id>``.
CONNECTION_SERVICES = ("codeconnections", "codestar-connections")
#: ``owner/name``: what ``CodePipelineSource.connection`` takes (CodeStarSourceConnection's
#: ``FullRepositoryId``; botocore's ``OwnerId`` and ``RepositoryName``: 1-255 and 1-128
#: characters). GitHub, GitLab and Bitbucket names are letters, digits, '.', '_' and '-'.
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}/[A-Za-z0-9._-]{1,128}$")
#: A git branch name: no spaces, no '..', not starting with '-' (git check-ref-format's
#: main rules; botocore's ``BranchName`` allows 1-255 characters).
BRANCH_RE = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,255}(?<![./])$")
#: An override's path: keys and list items' names (or indices), joined by '.'.
OVERRIDE_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


def parse_connection_arn(text: str) -> Arn:
    """A CodeConnections connection ARN; ValueError naming what is wrong."""
    if len(text) > 256:
        raise ValueError(f"a connection ARN has at most 256 characters (got {len(text)})")
    problems = []
    for service in CONNECTION_SERVICES:
        try:
            return parse_arn(text, service=service, resource="connection/")
        except ValueError as exc:
            problems.append(str(exc))
    raise ValueError(f"{problems[0]} (arn:aws:codeconnections:<region>:<account>:connection/"
                     "<id>, or codestar-connections for a connection made before the rename)")


def check_connection_arn(text: str) -> str:
    parse_connection_arn(text)
    return text


class Repository(Strict):
    """The repository the pipeline builds, through a CodeConnections connection."""

    connection_arn: str = Field(
        description="ARN of the CodeConnections connection to GitHub, GitLab or Bitbucket "
                    "(created in the tools account, and confirmed in the console).")
    name: str = Field(description="`owner/name` of the repository.")
    branch: str = Field(default="main", description="The branch whose commits are deployed.")

    _arn = field_validator("connection_arn")(check_connection_arn)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not REPOSITORY_RE.match(v):
            raise ValueError(f"{v!r} is not owner/name (letters, digits, '.', '_', '-')")
        return v

    @field_validator("branch")
    @classmethod
    def _branch(cls, v: str) -> str:
        if not BRANCH_RE.match(v):
            raise ValueError(f"{v!r} is not a branch name (letters, digits, '.', '_', '-', "
                             "'/'; no '..', not starting with '-')")
        return v


class Tools(Strict):
    """The account and region the pipeline itself runs in."""

    account: str = Field(pattern=ACCOUNT_PATTERN, description="The tools account (12 digits).")
    region: str = Field(description="The pipeline's region.")

    _region = field_validator("region")(check_region)


class Region(Strict):
    """One region of a stage, with the zones its network uses (a fixed account and region
    would otherwise make synth look the zones up in AWS)."""

    region: str = Field(description="The region the stage's stacks go to.")
    availability_zones: list[str] = Field(
        min_length=2, description="At least 2 zones of the region (deployment.availability_zones).")
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of the config changed in this region only, by dotted path "
                    "(list items by name): `endpoints.chat.source.s3: s3://<a bucket in this "
                    "region>/...`. Applied before the config is validated.")

    _region = field_validator("region")(check_region)

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, v: list[str]) -> list[str]:
        twice = sorted({z for z in v if v.count(z) > 1})
        if twice:
            raise ValueError(f"{twice[0]!r} is listed twice")
        return v

    @field_validator("overrides")
    @classmethod
    def _paths(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = [p for p in v if not OVERRIDE_RE.match(p)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a dotted path like 'endpoints.chat.source.s3'")
        return v


class Stage(Strict):
    """One config deployed into one account, in one or more regions."""

    name: str = Field(description="Stage name, lower case (`staging`, `production`).")
    env: str = Field(description="The config deployed: `config/<env>.yaml`.")
    account: str = Field(pattern=ACCOUNT_PATTERN, description="The target account (12 digits).")
    regions: list[Region] = Field(min_length=1, description="Where the stage deploys.")
    manual_approval: bool = Field(
        default=False, description="Wait for a person's approval before deploying.")

    _name = field_validator("name")(short_name)


class Wave(Strict):
    """Stages deployed side by side; the next wave starts when all of them succeeded."""

    name: str = Field(description="Wave name (a CodePipeline stage of that name).")
    stages: list[Stage] = Field(min_length=1, description="The wave's stages.")

    _name = field_validator("name")(short_name)


class PipelineConfig(Strict):
    """The whole pipeline."""

    name: str = Field(default="llm-pipeline",
                      description="Pipeline (and pipeline stack) name.")
    repository: Repository = Field(description="The repository and branch.")
    tools: Tools = Field(description="Where the pipeline runs.")
    waves: list[Wave] = Field(min_length=1, description="Waves, deployed in this order.")

    _name = field_validator("name")(short_name)
