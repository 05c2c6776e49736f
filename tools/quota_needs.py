"""What one config asks of an account-region's SageMaker quotas, by quota name.

Pure: no AWS calls (``tools/quota_check.py`` fetches the quotas and compares). Each need
is the most the config's endpoints hold at once, the worst case being an update while
autoscaling runs every endpoint at its maximum:

* real-time and async endpoints are updated blue/green, with or without ``guardrails``:
  "SageMaker AI provisions a new fleet with the updates (the green fleet)", and only then
  shifts traffic (all at once, canary or linear) and terminates the old fleet (SageMaker
  Developer Guide, "Blue/Green Deployments"; the canary and linear pages: "Once SageMaker
  AI provisions the green fleet ..."). At peak: twice the fleet.
* a components endpoint holds ``instance_scaling.max_instances``; a component update
  places each batch of new copies before it removes old ones (README, "Rolling updates"),
  so it needs the instances one batch takes on top: ``rolling_update.batch_size`` copies,
  or every copy without ``rolling_update`` (SageMaker's own update).
* serverless endpoints hold no instances: they count against the number of serverless
  endpoints and the account's total serverless concurrency.

Quota names, as Service Quotas (ListServiceQuotas / ListAWSDefaultServiceQuotas, service
code ``sagemaker``) spells them; sources: gruntwork-io/terraform-aws-utilities
``docs/quotas.md`` at 04f58839 (generated from ListAWSDefaultServiceQuotas), a
``ResourceLimitExceeded`` message quoting "Number of instances across active endpoints",
and seed 003 ("ml.g5.12xlarge for endpoint usage").
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from config import AppConfig, ConfigError, parse_config, read_yaml
from config.shapes import Endpoint, Serverless
from config.shapes.endpoint import Component
from llm_constructs import instances
from tools.quota_check import CONCURRENCY, ENDPOINTS, TOTAL, QuotaNeed

#: Instances of one type across the account-region's endpoints (L-65C4BD00 for g5.12xlarge).
INSTANCE_QUOTA = "{instance_type} for endpoint usage"
#: Instances of every type across the active endpoints (L-7A3DF611, default 4).
TOTAL_INSTANCES = "Number of instances across active endpoints"
#: Instances one endpoint may have (L-ED8DEE9B, default 4).
PER_ENDPOINT = "Maximum number of instances per endpoint"
#: Serverless endpoints in the account-region (L-99AD19BF, default 5).
SERVERLESS_ENDPOINTS = "Maximum number of serverless endpoints"
#: The serverless endpoints' summed MaxConcurrency (L-96300102, default 10).
SERVERLESS_CONCURRENCY = ("Maximum total concurrency that can be allocated across all "
                          "serverless endpoints")

def load_for_region(path: Path, region: str, source: str | None = None) -> AppConfig:
    """The config at ``path`` validated as a stage deploying to ``region`` builds it
    (``deployment.region`` set, so region rules such as the image's regions apply). A
    config that fixes another region is an error: the stage would deploy it elsewhere."""
    source = source or str(path)
    data = read_yaml(path, source)
    deployment = data.get("deployment") if isinstance(data, dict) else None
    if isinstance(data, dict) and isinstance(deployment or {}, dict):
        fixed = (deployment or {}).get("region")
        if fixed not in (None, region):
            raise ConfigError(source, [("deployment.region", f"{fixed!r} is fixed by the "
                                                             f"config; the stage deploys to "
                                                             f"{region!r}")])
        data = {**data, "deployment": {**(deployment or {}), "region": region}}
    return parse_config(data, source)


def copies_per_instance(ep: Endpoint, c: Component) -> int:
    """How many copies of ``c`` one instance holds, by accelerators and memory (at least 1:
    the config rules refuse a copy larger than an instance)."""
    fits = []
    if c.accelerators and ep.gpus:
        fits.append(ep.gpus // c.accelerators)
    memory_gib = instances.memory_gib(ep.instance_type)
    if memory_gib:
        fits.append(int(memory_gib * 1024) // c.memory_mb)
    return max(1, min(fits, default=1))


def update_batch_copies(c: Component) -> int:
    """Copies a component update places before it removes old ones: one batch of a rolling
    update, else every copy (at its autoscaling maximum)."""
    copies = c.autoscaling.max_copies if c.autoscaling else c.copies
    r = c.rolling_update
    if r is None:
        return copies
    if r.batch_unit == "percent":
        return max(1, math.ceil(copies * r.batch_size / 100))
    return min(r.batch_size, copies)


def update_extra_instances(ep: Endpoint) -> int:
    """Instances an update adds beside the running ones at peak (see the module docstring):
    the whole fleet again for blue/green, one batch of copies per component (components
    updated together, as CloudFormation may) for a components endpoint."""
    if ep.is_components:
        return sum(math.ceil(update_batch_copies(c) / copies_per_instance(ep, c))
                   for c in ep.components or [] if update_batch_copies(c))
    return ep.most_instances


def endpoint_instance_needs(ep: Endpoint) -> dict[str, int]:
    """Instance type -> the most instances ``ep`` holds at once (an update at its maximum).
    One type per endpoint today; an endpoint with several instance pools would return one
    entry per pool's type."""
    if ep.is_serverless:
        return {}
    return {ep.instance_type: ep.most_instances + update_extra_instances(ep)}


def _names(cfg: AppConfig, endpoints: list[Endpoint]) -> str:
    return ", ".join(cfg.endpoint_name_of(ep) for ep in endpoints)


def instance_needs(cfg: AppConfig) -> list[QuotaNeed]:
    """Per instance type, the total instances, and the largest endpoint."""
    by_type: Counter[str] = Counter()
    users: dict[str, list[Endpoint]] = {}
    for ep in cfg.endpoints:
        for instance_type, count in endpoint_instance_needs(ep).items():
            by_type[instance_type] += count
            users.setdefault(instance_type, []).append(ep)
    needs = [QuotaNeed(INSTANCE_QUOTA.format(instance_type=t), n, f"type:{t}",
                       f"{_names(cfg, users[t])} during an update at the maximum")
             for t, n in sorted(by_type.items())]
    if by_type:
        needs.append(QuotaNeed(TOTAL_INSTANCES, sum(by_type.values()), TOTAL,
                               f"{_names(cfg, [e for e in cfg.endpoints if not e.is_serverless])}"
                               " during an update at the maximum"))
        largest = max((ep for ep in cfg.endpoints if not ep.is_serverless),
                      key=lambda ep: ep.most_instances)
        needs.append(QuotaNeed(PER_ENDPOINT, largest.most_instances, "",
                               f"{cfg.endpoint_name_of(largest)} at its maximum"))
    return needs


def serverless_needs(cfg: AppConfig) -> list[QuotaNeed]:
    serverless = [ep for ep in cfg.endpoints if ep.is_serverless]
    if not serverless:
        return []
    names = _names(cfg, serverless)
    concurrency = sum((ep.serverless or Serverless()).max_concurrency for ep in serverless)
    return [QuotaNeed(SERVERLESS_ENDPOINTS, len(serverless), ENDPOINTS, names),
            QuotaNeed(SERVERLESS_CONCURRENCY, concurrency, CONCURRENCY,
                      f"max_concurrency of {names}")]


def quota_needs(cfg: AppConfig) -> list[QuotaNeed]:
    """Every quota the config's endpoints need, by name."""
    return instance_needs(cfg) + serverless_needs(cfg)


def needs_document(cfg: AppConfig) -> str:
    """What the pipeline's quota step checks (``quota_check --needs-json``), computed at
    synth from the config the stage deploys (its region's overrides applied): the needs, and
    the endpoints the config manages (their instances are not other endpoints' use)."""
    return json.dumps({"endpoints": sorted(cfg.endpoint_name_of(ep) for ep in cfg.endpoints),
                       "needs": [asdict(n) for n in quota_needs(cfg)]},
                      sort_keys=True, separators=(",", ":"))
