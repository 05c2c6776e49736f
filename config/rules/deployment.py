"""Where the stacks go, the network, and the names endpoints take."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from config.backends import Problem
from config.shapes import ENDPOINT_NAME_RE, Deployment, Endpoint, Network


#: Each region's zone names (tools/aws_facts/availability_zones.py, from cfn-lint's table).
ZONES_FILE = Path(__file__).resolve().parents[1] / "data" / "availability_zones.json"


@cache
def region_zones() -> dict[str, list[str]]:
    return dict(json.loads(ZONES_FILE.read_text(encoding="utf-8"))["zones"])


def not_a_zone(az: str, region: str) -> str | None:
    """Why ``az`` is no zone of ``region``: not named after it, or a letter the region has
    never had (a region missing from the table is judged by the name alone)."""
    if not re.match(rf"^{re.escape(region)}[a-z]$", az):
        return f"{az!r} is not a zone of {region}"
    known = region_zones().get(region)
    if known is not None and az not in known:
        return f"{az!r} is not a zone of {region} (its zones: {', '.join(known)})"
    return None


def zone_problems(dep: Deployment) -> list[Problem]:
    """Listed zones belong to the region; a fixed environment lists them."""
    path = "deployment.availability_zones"
    if dep.availability_zones is None:
        if dep.account is not None and dep.region is not None:
            return [(path, "with a fixed account and region, list the zones (e.g. "
                           f"[{dep.region}a, {dep.region}b]): otherwise synth needs an AWS "
                           "lookup")]
        return []
    if dep.region is None:
        return [(path, "set deployment.region too (zones belong to one region)")]
    if len(dep.availability_zones) < 2:
        return [(path, f"{dep.availability_zones} has fewer than 2 zones; give at least 2")]
    problems = [not_a_zone(az, dep.region) for az in dep.availability_zones]
    return [(path, problem) for problem in problems if problem]


def network_problems(net: Network) -> list[Problem]:
    if net.nat_gateways > net.max_azs:
        return [("network.nat_gateways",
                 f"{net.nat_gateways} NAT gateways for {net.max_azs} AZs; at most one per AZ")]
    return []


def name_problems(p: str, ep: Endpoint, full: str, seen: dict[str, str]) -> list[Problem]:
    """Endpoint names are unique, and so are the SageMaker names derived from them.
    ``seen`` maps the SageMaker names of the endpoints before this one to their names."""
    errors: list[Problem] = []
    if ep.name in seen.values():
        errors.append((f"{p}.name", f"{ep.name!r} is used by another endpoint"))
    if full in seen:
        errors.append((f"{p}.endpoint_name", f"{full!r} is also the name of endpoint "
                                             f"{seen[full]!r}"))
    seen[full] = ep.name
    if not ENDPOINT_NAME_RE.match(full):
        errors.append((f"{p}.name", f"the derived endpoint name {full!r} is not valid "
                                    "(1-63 characters); set endpoint_name"))
    return errors
