#!/usr/bin/env python3
"""CDK entry point: load ``config/<env>.yaml`` (``-c env=<name>``, default ``dev``), or any
file with ``-c config=<path>``, and wire the stacks (``stacks/app_stacks.py``); or, with
``-c pipeline=<path>`` (``pipeline.yaml``), build the CDK Pipelines fleet that deploys them
(``stacks/pipeline.py``) and nothing else. Nothing else lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from config import AppConfig, ConfigError, load_config, load_config_file
from stacks.app_stacks import build_stacks

ROOT = Path(__file__).resolve().parent


def feature_flags() -> dict:
    """The context of cdk.json (recommended feature flags), for apps built outside the CLI."""
    return json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]


def chosen_config(app: cdk.App) -> str:
    """The config the context chooses, as errors name it."""
    path = app.node.try_get_context("pipeline") or app.node.try_get_context("config")
    return str(path) if path else f"config/{app.node.try_get_context('env') or 'dev'}.yaml"


def load_chosen_config(app: cdk.App) -> AppConfig:
    """``-c config=<path>`` (a file anywhere, named as given), else ``-c env=<name>``."""
    path = app.node.try_get_context("config")
    if path:
        return load_config_file(Path(path))
    return load_config(app.node.try_get_context("env") or "dev")


def new_app(env_name: str | None = None, *, outdir: str | None = None,
            validation: bool = True) -> cdk.App:
    """An app with cdk.json's feature flags; see ``build_app`` for ``validation``."""
    context = feature_flags()
    if env_name is not None:
        context["env"] = env_name
    return cdk.App(context=context, outdir=outdir,
                   builtin_cloud_formation_validation=None if validation else False)


def populate(app: cdk.App, config: AppConfig, *, nag: bool = True) -> None:
    build_stacks(app, config)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def populate_pipeline(app: cdk.App, path: str, *, nag: bool = True) -> cdk.Stack:
    """The pipeline stack of ``pipeline.yaml`` (its stages hold each config's stacks)."""
    from config.pipeline import load_pipeline_file  # not needed by a plain synth
    from stacks.pipeline import FleetPipelineStack

    pipeline = load_pipeline_file(Path(path), source=path)
    stack = FleetPipelineStack(app, pipeline.config.name, pipeline=pipeline, pipeline_file=path)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def build_app(env_name: str | None = None, *, outdir: str | None = None,
              config: AppConfig | None = None, nag: bool = True,
              validation: bool = True) -> cdk.App:
    """The whole app for one config. ``nag`` adds cdk-nag AwsSolutions as a validation
    plugin: any unacknowledged finding makes synth fail. ``validation=False`` turns off CDK's
    built-in CloudFormation validation (schema and rule checks; about 10 s of CPU per
    process, two thirds of a synth): only for callers that run cfn-lint on the templates
    instead, as the tests do. ``cdk synth --no-validation`` or ``CDK_VALIDATION=false``
    turn it off too; ``validation=True`` does not override them."""
    app = new_app(env_name, outdir=outdir, validation=validation)
    populate(app, load_chosen_config(app) if config is None else config, nag=nag)
    return app


def one_line(exc: Exception, limit: int = 500) -> str:
    """``Type: first line of the message``, for an error the config checks did not foresee:
    what a user can report, without a traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or ["(no message)"]
    text = lines[0] if len(lines[0]) <= limit else f"{lines[0][:limit]}…"
    more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
    return f"{type(exc).__name__}: {text}{more}"


def main() -> int:
    """``cdk synth``: exit 1 with one line per problem, never a traceback. A config error
    lists its problems; any other failure (a construct's own check, a jsii error) is a gap
    in the config checks or a bug, printed as its type and message naming the config."""
    app = None
    try:
        app = new_app()
        pipeline = app.node.try_get_context("pipeline")
        if pipeline:
            populate_pipeline(app, str(pipeline))
        else:
            populate(app, load_chosen_config(app))
        app.synth()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 (any failure is one line, not a traceback)
        where = "app.py" if app is None else chosen_config(app)
        print(f"error: {where}: synth failed on an error the config checks did not catch "
              f"(please report it): {one_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
