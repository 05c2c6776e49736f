"""The stacks of one config: what ``cdk deploy -c env=<name>`` deploys and what a pipeline
stage deploys (``stacks/stage.py``), built by this one function for both."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from config import AppConfig

from .endpoint import ModelEndpointStack
from .network import NetworkStack


def build_stacks(scope: Construct, config: AppConfig) -> list[cdk.Stack]:
    """The network stack and one stack per endpoint, in ``scope`` (the app, or a pipeline's
    ``Stage``). Stack names are the construct ids in both: inside a Stage, CDK would
    otherwise prefix the stage's name, and the pipeline would deploy other stacks than
    ``cdk deploy`` (and the deploy-risk guard compares stacks by name)."""
    dep = config.deployment
    env = cdk.Environment(account=dep.account, region=dep.region)
    network_id = f"{config.project}-network"
    network = NetworkStack(scope, network_id, stack_name=network_id, config=config, env=env,
                           termination_protection=dep.termination_protection)
    stacks: list[cdk.Stack] = [network]
    for ep in config.endpoints:
        endpoint_id = f"{config.project}-endpoint-{ep.name}"
        stacks.append(ModelEndpointStack(
            scope, endpoint_id, stack_name=endpoint_id, config=config, endpoint=ep,
            network=network, env=env, termination_protection=dep.termination_protection))
    for key, value in dep.tags.items():
        cdk.Tags.of(scope).add(key, value)
    cdk.Tags.of(scope).add("project", config.project)
    return stacks
