"""One pipeline stage in one region: the stacks of its config, as ``cdk deploy`` builds them."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config import AppConfig

from .app_stacks import build_stacks


class ConfigStage(cdk.Stage):
    """The stacks of ``config`` (its ``deployment`` names the account, region and zones)."""

    def __init__(self, scope: Construct, id: str, *, config: AppConfig, **kwargs: Any) -> None:
        dep = config.deployment
        super().__init__(scope, id, env=cdk.Environment(account=dep.account, region=dep.region),
                         **kwargs)
        self.stacks = build_stacks(self, config)
