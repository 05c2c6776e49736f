"""What a config asks of an account's SageMaker quotas, per instance type.

SageMaker counts endpoint instances per type against the quota "<type> for endpoint usage"
(Service Quotas, per account and region). Three figures matter:

* ``first``: instances the first ``cdk deploy`` starts (initial counts);
* ``most``: what autoscaling may run (its max; a components endpoint's max instances);
* ``update``: the worst case during an update. An endpoint update is blue/green unless a
  rolling policy is set: "If no update policy is specified, SageMaker uses a blue/green
  deployment strategy with all at once traffic shifting by default" (DeploymentConfig, the
  SageMaker API reference), and the new fleet starts before the old one stops, so an
  update at full scale needs twice ``most``.

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
from config.shapes import InstanceScaling, Serverless


@dataclass(frozen=True)
class Need:
    instance_type: str
    first: int
    most: int

    @property
    def update(self) -> int:
        return 2 * self.most

    @property
    def quota_name(self) -> str:
        return f"{self.instance_type} for endpoint usage"


def instance_needs(cfg: AppConfig) -> list[Need]:
    """Instances per type that ``cfg``'s endpoints start and may scale to, summed over
    endpoints that share a type; serverless endpoints are left out."""
    totals: dict[str, tuple[int, int]] = {}
    for ep in cfg.endpoints:
        if ep.mode == "serverless":
            continue
        first = ep.initial_instance_count
        if ep.mode == "components":
            most = (ep.instance_scaling or InstanceScaling()).max_instances
        else:
            most = ep.autoscaling.max_capacity if ep.autoscaling else first
        most = max(most, first)
        f0, m0 = totals.get(ep.instance_type, (0, 0))
        totals[ep.instance_type] = (f0 + first, m0 + most)
    return [Need(t, f, m) for t, (f, m) in sorted(totals.items())]


def serverless_concurrency(cfg: AppConfig) -> int:
    """The summed ``max_concurrency`` of the serverless endpoints."""
    return sum((ep.serverless or Serverless()).max_concurrency
               for ep in cfg.endpoints if ep.mode == "serverless")


def markdown_rows(name: str, cfg: AppConfig) -> list[str]:
    rows = [f"| `{name}` | `{n.quota_name}` | {n.first} | {n.most} | {n.update} |"
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
