"""Deep Learning Container image URIs, resolved from the published table in ``data/``.

An image is described once (repository, tag, per-region registry account). It can be
rendered two ways:

* for a known region (config ``deployment.region``): a plain string, and a region with
  no DLC is an error at synth;
* for an environment-agnostic stack: a ``CfnMapping`` region -> account, looked up at
  deploy time with ``Fn::FindInMap`` and ``AWS::Region``/``AWS::URLSuffix``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import aws_cdk as cdk
from aws_cdk.region_info import RegionInfo
from constructs import Construct

DATA_DIR = Path(__file__).resolve().parent / "data"


class ImageResolutionError(ValueError):
    """A version or region the published table does not have."""


@cache
def _table() -> dict:
    return json.loads((DATA_DIR / "dlc_images.json").read_text(encoding="utf-8"))


def tgi_versions() -> list[str]:
    return list(_table()["tgi"]["versions"])


def pytorch_versions() -> dict[str, str]:
    """Transformers version -> PyTorch version, of the Hugging Face PyTorch inference DLC."""
    return {v: e["pytorch_version"] for v, e in _table()["pytorch"]["versions"].items()}


def registries(kind: str) -> dict[str, str]:
    """Region -> registry account of a DLC repository (``tgi``, ``pytorch``, ``vllm``,
    ``sglang``, ``lmi``)."""
    return dict(_table()[kind]["registries"])


def display_name(kind: str) -> str:
    """The name of a DLC in messages (``vLLM``), from its entry in the data file."""
    return str(_table()[kind]["name"])


def versions(kind: str) -> list[str]:
    return list(_table()[kind]["versions"])


def backend_image(kind: str, version: str) -> DlcImage:
    """The DLC of a serving backend (``tgi``, ``vllm``, ``sglang``, ``lmi``) at ``version``,
    with the registries of the regions that publish that version."""
    if kind == "tgi":
        return tgi_image(version)
    table = _table()[kind]
    e = _entry(kind, version, f"{display_name(kind)} version")
    tag = table["tag"].format(version=version, **e)
    regs = registries(kind)
    if "regions" in e:
        regs = {r: a for r, a in regs.items() if r in e["regions"]}
    return DlcImage(table["repository"], tag, regs, backend=display_name(kind))


@dataclass(frozen=True)
class DlcImage:
    """One DLC image: its repository and tag, and the registry account of each region."""

    repository: str
    tag: str
    registries: dict[str, str]
    backend: str | None = None

    def account_for(self, region: str) -> str:
        try:
            return self.registries[region]
        except KeyError:
            what = (f"the {self.backend} image {self.repository}:{self.tag} is"
                    if self.backend else f"no {self.repository} image is")
            raise ImageResolutionError(
                f"{what} {'not ' if self.backend else ''}published in region {region!r}; "
                f"nearest regions with it: {', '.join(nearest_regions(region, self.registries))}"
                f"; all: {', '.join(sorted(self.registries))}") from None

    def uri_for(self, region: str) -> str:
        suffix = RegionInfo.get(region).domain_suffix or "amazonaws.com"
        return f"{self.account_for(region)}.dkr.ecr.{region}.{suffix}/{self.repository}:{self.tag}"

    def repository_arn_for(self, region: str) -> str:
        partition = RegionInfo.get(region).partition or "aws"
        account = self.account_for(region)
        return f"arn:{partition}:ecr:{region}:{account}:repository/{self.repository}"

    def bind(self, scope: Construct) -> BoundImage:
        """Image URI and repository ARN for ``scope``'s stack (mapping when region-agnostic)."""
        stack = cdk.Stack.of(scope)
        if not cdk.Token.is_unresolved(stack.region):
            return BoundImage(self.uri_for(stack.region), self.repository_arn_for(stack.region))
        mapping_id = f"DlcRegistry{_logical_suffix(self.repository)}"
        mapping = stack.node.try_find_child(mapping_id)
        if not isinstance(mapping, cdk.CfnMapping):
            mapping = cdk.CfnMapping(
                stack, mapping_id,
                mapping={region: {"account": account}
                         for region, account in sorted(self.registries.items())},
            )
        account = mapping.find_in_map(cdk.Aws.REGION, "account")
        registry = f"{account}.dkr.ecr.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"
        uri = f"{registry}/{self.repository}:{self.tag}"
        arn = (f"arn:{cdk.Aws.PARTITION}:ecr:{cdk.Aws.REGION}:{account}:"
               f"repository/{self.repository}")
        return BoundImage(uri, arn)


@dataclass(frozen=True)
class BoundImage:
    image_uri: str
    repository_arn: str


#: Region-name areas grouped by continent, to suggest a nearby region.
_CONTINENT = {"us": "america", "ca": "america", "mx": "america", "sa": "america",
              "eu": "europe", "il": "middle-east", "me": "middle-east", "af": "africa",
              "ap": "asia-pacific"}


def nearest_regions(region: str, available, n: int = 3) -> list[str]:
    """Up to ``n`` of ``available`` near ``region``: same partition and area (``ap-``,
    ``eu-``, ``us-gov-``...) first, then the same partition, by name."""
    def area(r: str) -> str:
        parts = r.split("-")
        return "-".join(parts[:2]) if parts[0] == "us" and parts[1] in ("gov", "iso", "isob") \
            else parts[0]
    def partition(r: str) -> str:
        return RegionInfo.get(r).partition or "aws"

    def continent(r: str) -> str:
        return _CONTINENT.get(r.split("-")[0], r.split("-")[0])
    ranked = sorted(available, key=lambda r: (partition(r) != partition(region),
                                              area(r) != area(region),
                                              continent(r) != continent(region), r))
    return ranked[:n]


def _logical_suffix(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def _entry(kind: str, version: str, what: str) -> dict:
    versions = _table()[kind]["versions"]
    try:
        return versions[version]
    except KeyError:
        raise ImageResolutionError(
            f"{what} {version!r} is not in the published table; known versions: "
            f"{', '.join(versions)}") from None


def tgi_image(version: str) -> DlcImage:
    """The Hugging Face TGI DLC for ``version`` (e.g. ``3.3.6``)."""
    e = _entry("tgi", version, "TGI version")
    tag = f"{e['tag_prefix']}-gpu-{e['py_version']}-{e['container_version']}"
    return DlcImage(_table()["tgi"]["repository"], tag, registries("tgi"))


def pytorch_image(version: str, *, gpu: bool) -> DlcImage:
    """The Hugging Face PyTorch inference DLC for transformers ``version`` (e.g. ``4.51.3``),
    its GPU or CPU build: ``2.6.0-transformers4.51.3-gpu-py312-cu124-ubuntu22.04``."""
    e = _entry("pytorch", version, "transformers version")
    device = "gpu" if gpu else "cpu"
    tag = (f"{e['pytorch_version']}-transformers{version}-{device}-{e['py_version']}-"
           f"{e['container_version'][device]}")
    return DlcImage(_table()["pytorch"]["repository"], tag, registries("pytorch"))
