#!/usr/bin/env python3
"""Write ``tools/data/sagemaker_prices.json`` from AWS's Price List offer file for SageMaker.

    python tools/update_prices.py                     # download the current offer files
    python tools/update_prices.py --version 20261007160901    # a given (earlier) version
    python tools/update_prices.py --offer us-east-1=index.json   # a file downloaded elsewhere

The source is the AWS Price List Bulk API (no credentials needed), one regional offer file
per region the shipped configs are priced in (``tools/cost_table.py``: a config's
``deployment.region``, else us-east-1)::

    curl -O https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/us-east-1/index.json

From it, exactly the on-demand prices the shipped configs bill are kept: per instance type
the usage types ``<region prefix>-Host:<type>`` (real-time and inference-component
instances, per hour) and ``-AsyncInf:<type>`` (asynchronous inference, per hour), and per
serverless memory size ``-ServerlessInf:Mem-<n>GB`` (per second of processing). Prices stay
the strings AWS publishes. Beside them: per region the versioned URL of the file, its
version, publication date and SHA-256.

Each file read is copied to the cache (``--cache``, default /tmp/sagemaker_price_cache) as
``AmazonSageMaker-<version>-<region>.json``; tests/test_cost_table.py regenerates the
committed file from the cached files of the recorded versions and fails if they disagree
(it skips, saying so, where they are not cached). Then regenerate the README's table with
``python tools/cost_table.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import urllib.request
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools import cost_table

BASE_URL = "https://pricing.us-east-1.amazonaws.com"
OFFER_PATH = "/offers/v1.0/aws/AmazonSageMaker/{version}/{region}/index.json"
CACHE = Path("/tmp/sagemaker_price_cache")
#: A SageMaker usage type: an optional region prefix (``USE1-``), the operation, the key.
USAGE_TYPE = re.compile(r"^(?:[A-Z0-9]+-)?(Host|AsyncInf|ServerlessInf):(\S+)$")
#: The unit each kind must be priced in (serverless: whatever AWS names its seconds).
UNITS = {"Host": "Hrs", "AsyncInf": "Hrs"}

Wanted = dict[str, set[tuple[str, str]]]  # region -> {(kind, key)}


def wanted(usages: Iterable[cost_table.Usage]) -> Wanted:
    out: Wanted = {}
    for u in usages:
        out.setdefault(u.region, set()).add((u.kind, u.key))
    return out


def offer_url(version: str, region: str, base: str = BASE_URL) -> str:
    return base + OFFER_PATH.format(version=version, region=region)


def cache_name(version: str, region: str) -> str:
    return f"AmazonSageMaker-{version}-{region}.json"


def read_offer(path: Path) -> dict:
    """The offer file's JSON; refuses anything but a version of SageMaker's."""
    offer = json.loads(path.read_bytes())
    if offer.get("offerCode") != "AmazonSageMaker" or not offer.get("version"):
        raise SystemExit(f"{path}: not an AmazonSageMaker offer file (offerCode "
                         f"{offer.get('offerCode')!r})")
    return offer


def on_demand(offer: dict, sku: str) -> dict:
    """The one on-demand price dimension of ``sku``."""
    dims = [(term, dim) for term in offer["terms"].get("OnDemand", {}).get(sku, {}).values()
            for dim in term["priceDimensions"].values()]
    if len(dims) != 1 or "USD" not in dims[0][1]["pricePerUnit"]:
        raise SystemExit(f"SKU {sku}: {len(dims)} on-demand price dimensions; expected one in USD")
    term, dim = dims[0]
    return {"usd": dim["pricePerUnit"]["USD"], "unit": dim["unit"], "sku": sku,
            "effective_date": term["effectiveDate"]}


def _matches(offer: dict, region: str, keys: set[tuple[str, str]]) -> dict:
    """(kind, key) -> the on-demand prices of every SKU billing it in ``region``."""
    found: dict[tuple[str, str], list[dict]] = {}
    for sku, product in offer["products"].items():
        attributes = product.get("attributes", {})
        usage = USAGE_TYPE.match(attributes.get("usagetype", ""))
        key = (usage[1], usage[2]) if usage else None
        if attributes.get("regionCode") == region and key in keys:
            found.setdefault(key, []).append(on_demand(offer, sku))
    return found


def extract(offer: dict, region: str, keys: set[tuple[str, str]]) -> dict:
    """kind -> key -> price; every key found once (or at one price), in its unit."""
    found = _matches(offer, region, keys)
    missing = sorted(f"{kind}:{key}" for kind, key in keys - found.keys())
    if missing:
        raise SystemExit(f"{region}: the offer file has no on-demand price for {missing}")
    out: dict[str, dict] = {}
    for (kind, key), prices in sorted(found.items()):
        if len({p["usd"] for p in prices}) != 1:
            raise SystemExit(f"{region} {kind}:{key}: SKUs at different prices: {prices}")
        price = min(prices, key=lambda p: p["sku"])
        if UNITS.get(kind, price["unit"]) != price["unit"]:
            raise SystemExit(f"{region} {kind}:{key}: priced per {price['unit']!r}, not "
                             f"{UNITS[kind]!r}")
        out.setdefault(kind, {})[key] = price
    return out


def table(files: dict[str, Path], want: Wanted) -> dict:
    """The committed file's content from one cached offer file per region."""
    offers, prices = {}, {}
    for region in sorted(want):
        offer = read_offer(files[region])
        offers[region] = {"url": offer_url(offer["version"], region),
                          "version": offer["version"],
                          "publication_date": offer["publicationDate"],
                          "sha256": hashlib.sha256(files[region].read_bytes()).hexdigest()}
        prices[region] = extract(offer, region, want[region])
    return {"source": "AWS Price List Bulk API, offer AmazonSageMaker, on-demand terms",
            "offers": offers, "prices": prices}


def render(content: dict) -> str:
    return json.dumps(content, indent=2, sort_keys=True) + "\n"


def into_cache(region: str, path: Path, cache: Path) -> Path:
    """Copy ``region``'s offer file into the cache under its version."""
    target = cache / cache_name(read_offer(path)["version"], region)
    if path.resolve() != target.resolve():
        shutil.copyfile(path, target)
    return target


def region_file(arg: str) -> tuple[str, Path]:
    """``--offer REGION=PATH``."""
    region, sep, path = arg.partition("=")
    if not sep or not region or not path:
        raise argparse.ArgumentTypeError(f"{arg!r}: expected REGION=PATH, e.g. "
                                         "us-east-1=index.json")
    return region, Path(path)


def download(region: str, version: str, cache: Path, base: str = BASE_URL) -> Path:
    part = cache / f"{region}.part"
    try:
        with urllib.request.urlopen(offer_url(version, region, base), timeout=300) as response, \
                part.open("wb") as out:
            shutil.copyfileobj(response, out)
        return into_cache(region, part, cache)
    finally:
        part.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--offer", type=region_file, nargs="+", metavar="REGION=PATH",
                    help="offer files already downloaded (instead of downloading them)")
    ap.add_argument("--version", default="current", help="the offer version to download")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--base-url", default=BASE_URL, help=argparse.SUPPRESS)  # tests: file://
    ap.add_argument("--out", type=Path, default=cost_table.PRICES)
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    want = wanted(cost_table.shipped_usages())
    if args.offer:
        files = {region: into_cache(region, path, args.cache) for region, path in args.offer}
    else:
        files = {r: download(r, args.version, args.cache, args.base_url) for r in sorted(want)}
    absent = sorted(set(want) - files.keys())
    if absent:
        raise SystemExit(f"no offer file given for {', '.join(absent)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(table(files, want)))
    print(f"wrote {args.out}; now: python tools/cost_table.py (README.md, costs block)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
