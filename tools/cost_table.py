#!/usr/bin/env python3
"""What each shipped config costs per hour at its fewest and at its most instances.

    python tools/cost_table.py        # the Markdown table README.md carries between
                                      # <!-- costs:begin --> and <!-- costs:end -->

Instances per endpoint come from the configs (autoscaling, managed instance scaling or the
instance count); prices come from ``tools/data/sagemaker_prices.json``, which
``tools/update_prices.py`` extracts from AWS's own Price List offer file (never typed by
hand). While that file is absent, the table still says how many instances of which type
each endpoint runs, and says that no price is recorded.

A config without ``deployment.region`` (every shipped one) is priced in ``us-east-1``: the
table says so per row. Real-time and inference-component instances are billed as
SageMaker "Host" usage, asynchronous ones as "AsyncInf"; serverless endpoints have no
instances and are billed per second of processing for their memory size ("ServerlessInf").
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import AppConfig, Endpoint, available, load_config
from config.shapes import Serverless

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT / "tools" / "data" / "sagemaker_prices.json"
#: Where a config that fixes no region (an environment-agnostic one) is priced.
ASSUMED_REGION = "us-east-1"


@dataclass(frozen=True)
class Usage:
    """One endpoint's billed usage: its Price List usage kind and key, and how many
    instances it runs at least and at most (``None`` for serverless: no instances)."""

    config: str
    endpoint: str
    mode: str
    region: str
    region_assumed: bool
    kind: str  # "Host", "AsyncInf" or "ServerlessInf" (the usage type's operation part)
    key: str  # the instance type, or "Mem-<n>GB" for serverless
    fewest: int | None
    most: int | None
    note: str = ""


def instance_range(ep: Endpoint) -> tuple[int, int] | None:
    """(fewest, most) instances ``ep`` can run outside an update; ``None`` if serverless.
    Scheduled actions stay within the autoscaling bounds (config validation), so the bounds
    are the extremes at any hour."""
    return None if ep.is_serverless else (ep.fewest_instances, ep.most_instances)


def price_key(ep: Endpoint) -> tuple[str, str]:
    """The Price List usage an endpoint bills: (kind, instance type or memory size)."""
    if ep.is_serverless:
        return "ServerlessInf", f"Mem-{(ep.serverless or Serverless()).memory_size_mb // 1024}GB"
    return ("AsyncInf" if ep.is_async else "Host"), ep.instance_type


def idle_note(ep: Endpoint, span: tuple[int, int] | None) -> str:
    if span is None:
        provisioned = (ep.serverless or Serverless()).provisioned_concurrency
        return ("provisioned concurrency bills while idle (not priced here)" if provisioned
                else "nothing when idle")
    return "scales in to zero instances when idle" if span[0] == 0 else ""


def usages(name: str, cfg: AppConfig) -> list[Usage]:
    region = cfg.deployment.region or ASSUMED_REGION
    out = []
    for ep in cfg.endpoints:
        span = instance_range(ep)
        kind, key = price_key(ep)
        out.append(Usage(name, ep.name, ep.mode, region, cfg.deployment.region is None, kind,
                         key, span[0] if span else None, span[1] if span else None,
                         idle_note(ep, span)))
    return out


def shipped_usages() -> list[Usage]:
    """Every config under config/, by name."""
    return [u for name in available() for u in usages(name, load_config(name))]


def load_prices() -> dict | None:
    """The recorded prices, or ``None`` while none are recorded."""
    return json.loads(PRICES.read_text()) if PRICES.is_file() else None


def unit_price(prices: dict | None, u: Usage) -> Decimal | None:
    entry = ((prices or {}).get("prices", {}).get(u.region, {}).get(u.kind, {}).get(u.key))
    return Decimal(entry["usd"]) if entry else None


def usd(value: Decimal | None) -> str:
    return "not recorded" if value is None else f"{value:.2f}"


def _note(u: Usage, price: Decimal | None) -> str:
    if u.kind == "ServerlessInf":
        per_second = "" if price is None else f" ({price.normalize():f} USD per second)"
        return f"billed per second of processing{per_second}; {u.note}"
    return u.note


def row(u: Usage, prices: dict | None) -> str:
    price = unit_price(prices, u)
    region = f"{u.region} (assumed)" if u.region_assumed else u.region
    if u.fewest is None or u.most is None:
        counts, at_min, at_max = "none", "per request", "per request"
    else:
        counts = f"{u.fewest}-{u.most}" if u.fewest != u.most else str(u.fewest)
        at_min = usd(None if price is None else price * u.fewest)
        at_max = usd(None if price is None else price * u.most)
    memory = u.key.removeprefix("Mem-")
    billed = f"serverless, {memory}" if u.kind == "ServerlessInf" else f"`{u.key}`"
    return (f"| `{u.config}` | `{u.endpoint}` | {u.mode} | {billed} | {region} | {counts} | "
            f"{at_min} | {at_max} | {_note(u, price)} |")


def total_row(config: str, rows: list[Usage], prices: dict | None) -> str | None:
    """Per config: its instance endpoints summed, when there are several, all priced."""
    billed = [(u.fewest, u.most, unit_price(prices, u)) for u in rows
              if u.fewest is not None and u.most is not None]
    priced = [(fewest, most, price) for fewest, most, price in billed if price is not None]
    if len(billed) < 2 or len(priced) < len(billed):
        return None
    at_min = sum((price * fewest for fewest, _, price in priced), Decimal(0))
    at_max = sum((price * most for _, most, price in priced), Decimal(0))
    return f"| `{config}` | **total** | | | | | {usd(at_min)} | {usd(at_max)} | |"


HEADER = ("| config | endpoint | mode | instance type | region | instances | USD per hour at "
          "fewest | USD per hour at most | notes |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def source_line(prices: dict | None) -> str:
    if prices is None:
        return ("Prices: none recorded (`tools/data/sagemaker_prices.json` is absent; "
                "`tools/update_prices.py` writes it from AWS's offer file).")
    offers = [f"{region}: AWS Price List offer file {o['url']} (version {o['version']}, "
              f"published {o['publication_date']})"
              for region, o in sorted(prices["offers"].items())]
    return "Prices: on-demand list prices, USD, from " + "; ".join(offers) + "."


def markdown(all_usages: list[Usage], prices: dict | None) -> str:
    lines = [source_line(prices), "", HEADER]
    for config in dict.fromkeys(u.config for u in all_usages):
        rows = [u for u in all_usages if u.config == config]
        lines += [row(u, prices) for u in rows]
        total = total_row(config, rows, prices)
        lines += [total] if total else []
    return "\n".join(lines) + "\n"


def main() -> int:
    print(markdown(shipped_usages(), load_prices()), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
