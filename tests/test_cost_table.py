"""Issue 16, item 7: what each shipped config costs per hour at its fewest and most instances.

Instances come from the configs; prices only from AWS's Price List offer file, through
``tools/update_prices.py``. The README's table is the tool's output; the committed prices
are what the pinned offer files say (checked where those files are cached). The offer files
below are made up in the shape AWS publishes, at made-up prices.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from config import parse_config
from config.shapes import Serverless
from tools import cost_table, update_prices

ROOT = Path(__file__).resolve().parents[1]
VERSION = "20260101000000"


@pytest.fixture(scope="module")
def shipped() -> list[cost_table.Usage]:
    return cost_table.shipped_usages()


def _readme_costs_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- costs:begin -->\n(.*?)<!-- costs:end -->", text, re.S)
    assert block, "README.md has no <!-- costs:begin --> ... <!-- costs:end --> block"
    return block.group(1)


def test_readme_cost_table_is_what_the_tool_prints(shipped):
    expected = cost_table.markdown(shipped, cost_table.load_prices())
    assert _readme_costs_block() == expected, "run `python tools/cost_table.py`, paste it"


def test_instances_per_endpoint_follow_scaling_and_mode(shipped):
    got = {(u.config, u.endpoint): (u.kind, u.key, u.fewest, u.most) for u in shipped}
    assert got[("dev", "chat")] == ("Host", "ml.g5.2xlarge", 1, 2)  # autoscaling 1..2
    assert got[("dev", "batch")] == ("AsyncInf", "ml.g5.xlarge", 0, 2)  # async to zero
    assert got[("prod", "chat")] == ("Host", "ml.g5.12xlarge", 2, 6)  # schedules inside
    assert got[("seed-components", "llama3")] == ("Host", "ml.g5.12xlarge", 0, 1)  # managed
    assert got[("seed-containers", "dlc")] == ("Host", "ml.g5.2xlarge", 1, 1)  # the count
    assert got[("seed-containers", "serverless")] == ("ServerlessInf", "Mem-6GB", None, None)
    assert {(u.region, u.region_assumed) for u in shipped} == {("us-east-1", True)}


def test_a_fixed_region_is_priced_there():
    endpoint = {"name": "a", "instance_type": "ml.g5.xlarge", "image": {"tgi": "3.3.6"},
                "source": {"hub": "openai-community/gpt2"}}
    cfg = parse_config({"project": "fixed", "deployment": {"region": "eu-west-1"},
                        "network": {"egress": "nat"}, "endpoints": [endpoint]})
    [usage] = cost_table.usages("fixed", cfg)
    assert (usage.region, usage.region_assumed) == ("eu-west-1", False)
    assert "| eu-west-1 |" in cost_table.row(usage, None)


def test_serverless_is_free_when_idle_unless_concurrency_is_provisioned():
    def serverless(**settings):
        return SimpleNamespace(serverless=Serverless(**settings))

    assert cost_table.idle_note(serverless(), None) == "nothing when idle"
    assert cost_table.idle_note(serverless(provisioned_concurrency=2), None) == (
        "provisioned concurrency bills while idle (not priced here)")


# --- prices ------------------------------------------------------------------------

def _offer(rows: dict[str, tuple[str, str, str, str]], region_code: str = "us-east-1") -> dict:
    """An offer file: SKU -> (usage type, USD, unit, region)."""
    products = {sku: {"sku": sku, "productFamily": "ML Instance",
                      "attributes": {"usagetype": usage, "regionCode": region or region_code,
                                     "servicecode": "AmazonSageMaker"}}
                for sku, (usage, _, _, region) in rows.items()}
    terms = {sku: {f"{sku}.JRTCKXETXF": {
        "offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-01-01T00:00:00Z",
        "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
            "unit": unit, "pricePerUnit": {"USD": usd}, "beginRange": "0", "endRange": "Inf"}}}}
        for sku, (_, usd, unit, _) in rows.items()}
    return {"formatVersion": "v1.0", "offerCode": "AmazonSageMaker", "version": VERSION,
            "publicationDate": "2026-01-01T00:00:00Z", "products": products,
            "terms": {"OnDemand": terms}}


ROWS = {
    "HOST": ("USE1-Host:ml.g5.12xlarge", "2.5000000000", "Hrs", ""),
    "ASYNC": ("USE1-AsyncInf:ml.g5.12xlarge", "2.6000000000", "Hrs", ""),
    "TRAIN": ("USE1-Train:ml.g5.12xlarge", "9.0000000000", "Hrs", ""),
    "SLS": ("USE1-ServerlessInf:Mem-6GB", "0.0001000000", "Second", ""),
}


def test_extract_keeps_the_on_demand_price_of_exactly_the_billed_usages():
    keys = {("Host", "ml.g5.12xlarge"), ("ServerlessInf", "Mem-6GB")}
    got = update_prices.extract(_offer(ROWS), "us-east-1", keys)
    assert got == {
        "Host": {"ml.g5.12xlarge": {"usd": "2.5000000000", "unit": "Hrs", "sku": "HOST",
                                    "effective_date": "2026-01-01T00:00:00Z"}},
        "ServerlessInf": {"Mem-6GB": {"usd": "0.0001000000", "unit": "Second", "sku": "SLS",
                                      "effective_date": "2026-01-01T00:00:00Z"}}}


@pytest.mark.parametrize(("rows", "message"), [
    ({"TRAIN": ROWS["TRAIN"]}, "no on-demand price for ['Host:ml.g5.12xlarge']"),
    ({"HOST": ROWS["HOST"], "TWIN": ("USE1-Host:ml.g5.12xlarge", "3.0", "Hrs", "")},
     "SKUs at different prices"),
    ({"HOST": ("USE1-Host:ml.g5.12xlarge", "2.5", "Second", "")}, "priced per 'Second'"),
    ({"HOST": ("USW2-Host:ml.g5.12xlarge", "2.5", "Hrs", "us-west-2")}, "no on-demand price"),
])
def test_extract_refuses_a_missing_ambiguous_or_misunited_price(rows, message):
    with pytest.raises(SystemExit, match=re.escape(message)):
        update_prices.extract(_offer(rows), "us-east-1", {("Host", "ml.g5.12xlarge")})


def test_an_offer_file_must_be_sagemakers(tmp_path):
    other = tmp_path / "ec2.json"
    other.write_text(json.dumps({**_offer(ROWS), "offerCode": "AmazonEC2"}))
    with pytest.raises(SystemExit, match=r"ec2\.json: not an AmazonSageMaker offer file"):
        update_prices.read_offer(other)
    with pytest.raises(SystemExit) as usage_error:  # the region is not guessed: REGION=PATH
        update_prices.main(["--offer", str(other), "--cache", str(tmp_path)])
    assert usage_error.value.code == 2


FAKE_PRICES = {"offers": {"us-east-1": {"url": "https://example/index.json", "version": VERSION,
                                        "publication_date": "2026-01-01T00:00:00Z"}},
               "prices": {"us-east-1": {
                   "Host": {"ml.g5.2xlarge": {"usd": "1.25"}, "ml.g5.12xlarge": {"usd": "2.5"}},
                   "AsyncInf": {"ml.g5.xlarge": {"usd": "1.0"}},
                   "ServerlessInf": {"Mem-6GB": {"usd": "0.0001000000"}}}}}


def test_rows_multiply_the_price_by_the_fewest_and_most_instances(shipped):
    text = cost_table.markdown(shipped, FAKE_PRICES)
    assert text.startswith("Prices: on-demand list prices, USD, from us-east-1: AWS Price List "
                           f"offer file https://example/index.json (version {VERSION}, "
                           "published 2026-01-01T00:00:00Z).\n")
    assert "| `prod` | `chat` | realtime | `ml.g5.12xlarge` | us-east-1 (assumed) | 2-6 | " \
           "5.00 | 15.00 |  |" in text
    # dev: chat 1-2 at 1.25 plus batch 0-2 at 1.00 (it scales in to zero)
    assert "| `dev` | **total** | | | | | 1.25 | 4.50 | |" in text
    assert "| billed per second of processing (0.0001 USD per second); nothing when idle |" in text
    assert "| `seed-containers` | `custom` | realtime | `ml.g5.xlarge` | us-east-1 (assumed) | " \
           "1 | not recorded | not recorded |  |" in text  # Host price of it not in FAKE
    assert "| `seed-containers` | **total**" not in text  # a total only when all are priced


def test_update_prices_downloads_pins_and_caches_the_offer_file(tmp_path, shipped):
    keys = update_prices.wanted(shipped)["us-east-1"]
    unit = {"Host": "Hrs", "AsyncInf": "Hrs", "ServerlessInf": "Second"}
    rows = {f"SKU{i}": (f"USE1-{kind}:{key}", f"{i + 1}.5", unit[kind], "")
            for i, (kind, key) in enumerate(sorted(keys))}
    remote = tmp_path / "offers/v1.0/aws/AmazonSageMaker/current/us-east-1/index.json"
    remote.parent.mkdir(parents=True)
    remote.write_text(json.dumps(_offer(rows)))
    out, cache = tmp_path / "prices.json", tmp_path / "cache"
    update_prices.main(["--base-url", f"file://{tmp_path}", "--cache", str(cache),
                        "--out", str(out)])
    cached = cache / f"AmazonSageMaker-{VERSION}-us-east-1.json"
    assert sorted(p.name for p in cache.iterdir()) == [cached.name]
    written = json.loads(out.read_text())
    assert written["offers"]["us-east-1"] == {
        "url": "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/"
               f"{VERSION}/us-east-1/index.json",
        "version": VERSION, "publication_date": "2026-01-01T00:00:00Z",
        "sha256": hashlib.sha256(remote.read_bytes()).hexdigest()}
    assert {(k, key) for k, v in written["prices"]["us-east-1"].items() for key in v} == keys
    assert all(cost_table.unit_price(written, u) is not None for u in shipped)
    # the same file given by hand: the same result
    update_prices.main(["--offer", f"us-east-1={remote}", "--cache", str(cache),
                        "--out", str(tmp_path / "again.json")])
    assert (tmp_path / "again.json").read_text() == out.read_text()


# --- the committed prices --------------------------------------------------------

def _committed() -> dict:
    prices = cost_table.load_prices()
    if prices is None:
        pytest.skip("no prices recorded yet: tools/data/sagemaker_prices.json is absent "
                    "(python tools/update_prices.py writes it where AWS's Price List is "
                    "reachable)")
    return prices


def test_every_shipped_endpoint_has_a_recorded_price(shipped):
    prices = _committed()
    unpriced = [f"{u.config}/{u.endpoint}: {u.region} {u.kind}:{u.key}" for u in shipped
                if cost_table.unit_price(prices, u) is None]
    assert not unpriced, f"run tools/update_prices.py; no price for {unpriced}"


def test_committed_prices_are_what_the_pinned_offer_files_say(shipped):
    prices = _committed()
    files = {}
    for region, offer in prices["offers"].items():
        path = update_prices.CACHE / update_prices.cache_name(offer["version"], region)
        if not path.is_file():
            pytest.skip(f"{path} is not cached: `python tools/update_prices.py --version "
                        f"{offer['version']}` downloads {offer['url']}")
        files[region] = path
    expected = update_prices.render(update_prices.table(files, update_prices.wanted(shipped)))
    assert cost_table.PRICES.read_text() == expected, "run tools/update_prices.py, read the diff"
