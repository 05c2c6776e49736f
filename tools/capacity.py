"""What a config asks of an account's SageMaker quotas, per instance type.

SageMaker counts endpoint instances per type against the quota "<type> for endpoint usage"
(Service Quotas, per account and region). Three figures matter:

* ``first``: instances the first ``cdk deploy`` starts (initial counts);
* ``most``: what autoscaling may run (its max; a components endpoint's max instances);
* ``update``: the worst case during an update, as the pipeline's quota check counts it
  (``tools/quota_needs.py``): an endpoint update is blue/green, the new fleet starting
  before the old one stops, so twice ``most``; a components endpoint adds the instances
  one batch of new copies takes.

Serverless endpoints use no instance quota; their ``max_concurrency`` counts against the
account's serverless concurrency instead.

    python tools/capacity.py dev prod          # a Markdown table per config
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import AppConfig, load_config
from config.shapes import Serverless
from tools.quota_needs import INSTANCE_QUOTA, endpoint_instance_needs


@dataclass(frozen=True)
class Need:
    instance_type: str
    first: int
    most: int
    update: int
    fallback_of: str = ""   # a fallback type: launched only when that type has no capacity

    @property
    def quota_name(self) -> str:
        return INSTANCE_QUOTA.format(instance_type=self.instance_type)

    @property
    def label(self) -> str:
        extra = f" (fallback of {self.fallback_of})" if self.fallback_of else ""
        return f"`{self.quota_name}`{extra}"


def instance_needs(cfg: AppConfig) -> list[Need]:
    """Instances per type that ``cfg``'s endpoints start, may scale to and hold during an
    update at that maximum (``tools/quota_needs.py``, which the pipeline's quota check
    uses), summed over endpoints that share a type; serverless endpoints are left out. A
    fallback instance type may need as many, when the first type has no capacity."""
    totals: dict[tuple[str, str], tuple[int, int, int]] = {}
    for ep in cfg.endpoints:
        if ep.is_serverless:
            continue
        counts = (ep.initial_instance_count, ep.most_instances,
                  endpoint_instance_needs(ep)[ep.instance_type])
        keys = [(ep.instance_type, "")] + [(t, ep.instance_type)
                                           for t in ep.fallback_instance_types]
        for key in keys:
            before = totals.get(key, (0, 0, 0))
            totals[key] = tuple(a + b for a, b in zip(before, counts, strict=True))  # type: ignore[assignment]
    return [Need(t, *counts, fallback_of=of)
            for (t, of), counts in sorted(totals.items(), key=lambda kv: (kv[0][1] != "", kv[0]))]


def serverless_concurrency(cfg: AppConfig) -> int:
    """The summed ``max_concurrency`` of the serverless endpoints."""
    return sum((ep.serverless or Serverless()).max_concurrency
               for ep in cfg.endpoints if ep.mode == "serverless")


def markdown_rows(name: str, cfg: AppConfig) -> list[str]:
    rows = [f"| `{name}` | {n.label} | {n.first} | {n.most} | {n.update} |"
            for n in instance_needs(cfg)]
    concurrency = serverless_concurrency(cfg)
    if concurrency:
        rows.append(f"| `{name}` | serverless concurrency (account total) | "
                    f"{concurrency} | {concurrency} | {concurrency} |")
    return rows


HEADER = ("| config | quota | first deploy | autoscaling max | update at max |\n"
          "| --- | --- | --- | --- | --- |")


def main(argv: list[str]) -> int:
    names = argv or ["dev"]
    print(HEADER)
    for name in names:
        print("\n".join(markdown_rows(name, load_config(name))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
