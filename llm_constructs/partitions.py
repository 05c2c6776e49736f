"""Which AWS partition a region is in, and its DNS suffix, from botocore's bundled
``partitions.json`` (the data the AWS SDKs resolve endpoints with), not from a table of ours.

CDK's ``RegionInfo`` lags behind: it does not know every region AWS's image tables list
(``me-west-1`` in sagemaker-core 2.27.0), so an image URI built from it could get the wrong
domain or no partition at all."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .botocore_data import partitions


@dataclass(frozen=True)
class Partition:
    name: str  #: ``aws``, ``aws-cn``, ``aws-us-gov``, ``aws-iso-b``...
    dns_suffix: str  #: ``amazonaws.com``, ``amazonaws.com.cn``, ``sc2s.sgov.gov``...


@cache
def partition_of(region: str) -> Partition:
    """The partition of ``region``: one that lists it, else the one whose region pattern it
    matches (how botocore resolves a region it does not list); ``aws`` for neither."""
    listed = [p for p in partitions() if region in p["regions"]]
    matched = listed or [p for p in partitions() if re.match(p["regionRegex"], region)]
    if not matched:
        return Partition("aws", "amazonaws.com")
    return Partition(matched[0]["id"], matched[0]["outputs"]["dnsSuffix"])


def listed_regions() -> set[str]:
    """Every region botocore's partitions list, less their pseudo-regions for global
    endpoints (``aws-global``, ``aws-us-gov-global``...): those do not match their
    partition's own ``regionRegex``, and no stack can be deployed to them."""
    return {r for p in partitions() for r in p["regions"] if re.match(p["regionRegex"], r)}


def partition_ids() -> tuple[str, ...]:
    """``aws``, ``aws-cn``, ``aws-us-gov``...: every partition botocore knows."""
    return tuple(p["id"] for p in partitions())
