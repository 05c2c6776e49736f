#!/usr/bin/env python3
"""CDK entry point: load ``config/<env>.yaml`` (``-c env=<name>``, default ``dev``) and
wire the stacks. Nothing else lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from config import AppConfig, ConfigError, load_config
from stacks import ModelEndpointStack, NetworkStack

ROOT = Path(__file__).resolve().parent


def feature_flags() -> dict:
    """The context of cdk.json (recommended feature flags), for apps built outside the CLI."""
    return json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]


def build_stacks(app: cdk.App, config: AppConfig) -> list[cdk.Stack]:
    dep = config.deployment
    env = cdk.Environment(account=dep.account, region=dep.region)
    network = NetworkStack(app, f"{config.project}-network", config=config, env=env,
                           termination_protection=dep.termination_protection)
    stacks: list[cdk.Stack] = [network]
    for ep in config.endpoints:
        stacks.append(ModelEndpointStack(
            app, f"{config.project}-endpoint-{ep.name}", config=config, endpoint=ep,
            network=network, env=env, termination_protection=dep.termination_protection))
    for key, value in dep.tags.items():
        cdk.Tags.of(app).add(key, value)
    cdk.Tags.of(app).add("project", config.project)
    return stacks


def build_app(env_name: str | None = None, *, outdir: str | None = None,
              config: AppConfig | None = None, nag: bool = True,
              validation: bool = True) -> cdk.App:
    """The whole app for one config. ``nag`` adds cdk-nag AwsSolutions as a validation
    plugin: any unacknowledged finding makes synth fail. ``validation=False`` turns off CDK's
    built-in CloudFormation validation (schema and rule checks; about 10 s of CPU per
    process, two thirds of a synth): only for callers that run cfn-lint on the templates
    instead, as the tests do. ``cdk synth --no-validation`` or ``CDK_VALIDATION=false``
    turn it off too; ``validation=True`` does not override them."""
    context = feature_flags()
    if env_name is not None:
        context["env"] = env_name
    app = cdk.App(context=context, outdir=outdir,
                  builtin_cloud_formation_validation=None if validation else False)
    if config is None:
        config = load_config(app.node.try_get_context("env") or "dev")
    build_stacks(app, config)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> int:
    try:
        app = build_app()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
