"""Load ``pipeline.yaml`` into a validated :class:`Pipeline`: the shapes, the rules that join
its stages, and each stage's config as it is deployed in each of its regions.

A stage deploys ``config/<env>.yaml`` with ``deployment.account``, ``region`` and
``availability_zones`` set from the stage, validated by the same loader as ``cdk synth -c
env=<env>``: every rule applies, the image being published in that region among them. A
problem is one line naming the wave, stage and region, then the config's own line."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config import (CONFIG_DIR, AppConfig, ConfigError, available, parse_config, read_yaml,
                    shape_problems)
from config.overrides import apply_override, s3_locations
from config.shapes.pipeline import PipelineConfig, Region, Stage, Wave, parse_connection_arn

Problem = tuple[str, str]
#: The keys of ``deployment`` a stage sets.
STAGE_KEYS = ("account", "region", "availability_zones")


@dataclass(frozen=True)
class Target:
    """One stage in one region: what a CDK ``Stage`` of the pipeline deploys."""

    wave: Wave
    stage: Stage
    region: Region
    config: AppConfig
    #: ``waves[i] (<wave>).stages[j] (<stage>).regions[k] (<region>)``: where errors point.
    where: str = ""
    #: The config's data as deployed there (stage's placement and overrides applied).
    data: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def id(self) -> str:
        """``<stage>-<region>``: the CDK Stage's id, unique in the pipeline."""
        return f"{self.stage.name}-{self.region.region}"

    @cached_property
    def quota_needs(self) -> str:
        """What this stage-region's quota step checks (``tools.quota_needs.needs_document``
        of the config as deployed here), computed once for the size rule and the step."""
        from tools.quota_needs import needs_document

        return needs_document(self.config)


@dataclass(frozen=True)
class Pipeline:
    config: PipelineConfig
    targets: list[Target]

    def targets_of(self, stage: Stage) -> list[Target]:
        return [t for t in self.targets if t.stage is stage]


def load_pipeline_file(path: Path, source: str | None = None,
                       config_dir: Path = CONFIG_DIR) -> Pipeline:
    """``pipeline.yaml`` (``-c pipeline=<path>``), named ``source`` in errors."""
    source = source or str(path)
    if not path.is_file():
        raise ConfigError(source, [("(file)", "not a file" if path.exists() else "no such file")])
    return parse_pipeline(read_yaml(path, source), source, config_dir)


def parse_pipeline(data: Any, source: str = "<pipeline>",
                   config_dir: Path = CONFIG_DIR) -> Pipeline:
    if not isinstance(data, dict):
        raise ConfigError(source, [("(top level)",
                                    "expected a mapping (repository:, tools:, waves:)")])
    try:
        cfg = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, shape_problems(exc, data)) from None
    problems = name_problems(cfg) + env_problems(cfg, config_dir) + connection_problems(cfg)
    if problems:
        raise ConfigError(source, problems)
    targets, problems = stage_configs(cfg, config_dir)
    problems += (placement_problems(targets) + bucket_problems(targets)
                 + zone_count_problems(targets) + quota_step_problems(targets))
    if problems:
        raise ConfigError(source, problems)
    return Pipeline(cfg, targets)


def _stages(cfg: PipelineConfig) -> Iterator[tuple[str, Wave, Stage]]:
    for i, wave in enumerate(cfg.waves):
        for j, stage in enumerate(wave.stages):
            yield f"waves[{i}] ({wave.name}).stages[{j}] ({stage.name})", wave, stage


def _duplicates(names: list[str]) -> set[str]:
    return {n for n in names if names.count(n) > 1}


def name_problems(cfg: PipelineConfig) -> list[Problem]:
    """Wave names are CodePipeline stage names and stage names part of CDK Stage ids: each
    unique; a stage lists a region once."""
    problems = [(f"waves[{i}] ({w.name}).name", f"{w.name!r} is used by another wave")
                for i, w in enumerate(cfg.waves)
                if w.name in _duplicates([w.name for w in cfg.waves])]
    stage_names = [stage.name for _, _, stage in _stages(cfg)]
    for path, _, stage in _stages(cfg):
        if stage.name in _duplicates(stage_names):
            problems.append((f"{path}.name", f"{stage.name!r} is used by another stage"))
        regions = [r.region for r in stage.regions]
        problems += [(f"{path}.regions", f"{r!r} is listed twice")
                     for r in sorted(_duplicates(regions))]
    return problems


def connection_problems(cfg: PipelineConfig) -> list[Problem]:
    """The pipeline's source action uses the connection in the tools account and region:
    a connection is a resource of one account and region."""
    arn = parse_connection_arn(cfg.repository.connection_arn)
    region, account = arn.region, arn.account
    if (account, region) == (cfg.tools.account, cfg.tools.region):
        return []
    return [("repository.connection_arn",
             f"the connection is in {account}/{region}, but the pipeline runs in "
             f"{cfg.tools.account}/{cfg.tools.region} (tools): create the connection in the "
             "tools account and region")]


def env_problems(cfg: PipelineConfig, config_dir: Path) -> list[Problem]:
    known = available(config_dir)
    return [(f"{path}.env", f"{stage.env!r}: no config/{stage.env}.yaml; available: "
                            f"{', '.join(known)}")
            for path, _, stage in _stages(cfg) if stage.env not in known]


def stage_configs(cfg: PipelineConfig, config_dir: Path) -> tuple[list[Target], list[Problem]]:
    """Each stage's config in each of its regions, validated by ``parse_config``."""
    targets: list[Target] = []
    problems: list[Problem] = []
    for path, wave, stage in _stages(cfg):
        name = f"config/{stage.env}.yaml"
        try:
            data = read_yaml(config_dir / f"{stage.env}.yaml", name)
        except ConfigError as exc:
            problems += [(f"{path}.env", f"{name}: {msg}") for _, msg in exc.problems]
            continue
        for k, region in enumerate(stage.regions):
            where = f"{path}.regions[{k}] ({region.region})"
            try:
                placed = placed_config(data, stage, region)
                overridden = overridden_config(placed, region.overrides)
                target = Target(wave, stage, region, parse_config(overridden, name), where,
                                overridden)
            except ConfigError as exc:
                problems += [stage_problem(where, name, p, msg) for p, msg in exc.problems]
                continue
            targets.append(target)
    return targets, problems


#: Config fields a stage's region sets: their problems are the region's own fields'.
STAGE_FIELDS = {"overrides": "overrides",
                "deployment.availability_zones": "availability_zones"}


def stage_problem(where: str, name: str, path: str, message: str) -> Problem:
    """A problem of the config as a stage-region deploys it, named by the stage's field when
    the stage set the value, else by the config's own field."""
    if path in STAGE_FIELDS:
        return (f"{where}.{STAGE_FIELDS[path]}", message)
    return (where, f"{name} deployed there: {path}: {message}")


def overridden_config(placed: Any, overrides: dict[str, Any]) -> Any:
    """The placed config with the region's overrides (unknown paths are errors)."""
    if not overrides or not isinstance(placed, dict):
        return placed
    changed = copy.deepcopy(placed)
    problems = []
    for path, value in overrides.items():
        try:
            apply_override(changed, path, value)
        except KeyError as exc:
            problems.append(("overrides", f"{path!r}: {exc.args[0]}"))
    if problems:
        raise ConfigError("", problems)
    return changed


#: CodeBuild refuses an environment variable over 4,096 characters: "InvalidInputException:
#: EnvironmentVariable should be at most 4096 characters" (StartBuild, quoted in
#: github.com/wolfeidau/buildkite-serverless-agent/issues/35; botocore's model states no
#: limit). A quota step receives its needs in one.
MAX_ENVIRONMENT_VALUE = 4096


def quota_step_problems(targets: list[Target]) -> list[Problem]:
    """Each stage-region's quota needs fit the variable its quota step receives them in."""
    sizes = {t.where: len(t.quota_needs) for t in targets}
    return [(where, f"the quota step's needs take {size} characters, above CodeBuild's "
                    f"{MAX_ENVIRONMENT_VALUE} for one variable: split the config's endpoints "
                    "over two configs (stages)")
            for where, size in sizes.items() if size > MAX_ENVIRONMENT_VALUE]


def placed_config(data: Any, stage: Stage, region: Region) -> Any:
    """The config's data with the stage's account, region and zones. A config that fixes
    one of them differently cannot be deployed by this stage (it would be ignored)."""
    if not isinstance(data, dict):
        return data
    placed = copy.deepcopy(data)
    deployment = placed.setdefault("deployment", {})
    if not isinstance(deployment, dict):
        return placed
    wanted = {"account": stage.account, "region": region.region,
              "availability_zones": region.availability_zones}
    fixed = [(f"deployment.{k}", f"{deployment[k]!r} is fixed here, but the stage sets "
                                 f"{wanted[k]!r}: leave it out of the config")
             for k in STAGE_KEYS if k in deployment and deployment[k] != wanted[k]]
    if fixed:
        raise ConfigError("", fixed)
    return placed | {"deployment": deployment | wanted}


def placement_problems(targets: list[Target]) -> list[Problem]:
    """Two stages may not deploy the same project into the same account and region: their
    stacks have the same names there."""
    seen: dict[tuple[str, str, str], Target] = {}
    problems = []
    for t in targets:
        key = (t.stage.account, t.region.region, t.config.project)
        if key in seen:
            problems.append((f"stages ({t.stage.name})",
                             f"{t.config.project!r} goes to {t.stage.account}/{t.region.region} "
                             f"in stage {seen[key].stage.name!r} already; use another account, "
                             "region or project"))
        seen.setdefault(key, t)
    return problems


def bucket_problems(targets: list[Target]) -> list[Problem]:
    """A bucket is in one region, and an endpoint reaches S3 in its own region only
    (botocore's ContainerDefinition.ModelDataUrl: "must be in an S3 bucket that is in the
    same region as the model or endpoint"; a VPC gateway endpoint, all S3 that `egress:
    none` has, reaches its region's buckets only). One bucket deployed into two regions is
    refused where it is used in the second."""
    first: dict[str, Target] = {}
    problems = []
    for t in targets:
        for loc in s3_locations(t.data):
            other = first.setdefault(loc.bucket, t)
            if other.region.region == t.region.region:
                continue
            problems.append((t.where, (
                f"config/{t.stage.env}.yaml deployed there: {loc.path}: bucket {loc.bucket!r} "
                f"is used in {other.region.region} too (stage {other.stage.name!r}), and an "
                "endpoint reaches S3 in its own region only: give this region a bucket of "
                f"its own (overrides: {{{loc.override}: <a location in {t.region.region}>}}), "
                "e.g. a replica (S3 replication)")))
    return problems


def zone_count_problems(targets: list[Target]) -> list[Problem]:
    """Listed zones win over ``network.max_azs`` (the network uses exactly them): a config
    that asks for a number of zones gets that many in every region."""
    problems = []
    for t in targets:
        network = t.data.get("network")
        wanted = network.get("max_azs") if isinstance(network, dict) else None
        zones = t.region.availability_zones
        if isinstance(wanted, int) and wanted != len(zones):
            problems.append((f"{t.where}.availability_zones",
                             f"{len(zones)} zone(s) listed, but config/{t.stage.env}.yaml "
                             f"asks for network.max_azs: {wanted} (the listed zones would "
                             f"win): list {wanted} zones of {t.region.region}"))
    return problems
