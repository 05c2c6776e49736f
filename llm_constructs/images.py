"""Deep Learning Container image URIs, from the table AWS publishes in its SageMaker SDK.

``data/dlc_images.json`` is generated (``make update-images``, ``tools/update_images.py``)
from the ``image_uri_config`` files of the pinned ``sagemaker-core``: per version, the exact
tag and exactly the regions (with registry account) AWS lists for it. An image renders two
ways:

* for a known region (config ``deployment.region``): a plain string; a region where AWS
  lists no such image is an error at synth;
* for an environment-agnostic stack: a ``CfnMapping`` region -> account holding exactly
  the image's regions, and a ``CfnRule`` that fails the change set, with the reason, in any
  other region.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from .partitions import partition_of

DATA_DIR = Path(__file__).resolve().parent / "data"


class ImageResolutionError(ValueError):
    """A version or region the published table does not have."""


@cache
def _table() -> dict:
    return json.loads((DATA_DIR / "dlc_images.json").read_text(encoding="utf-8"))


def source() -> str:
    """``sagemaker-core==2.27.0``: the package the table was generated from."""
    src = _table()["_source"]
    return f"{src['package']}=={src['version']}"


def display_name(kind: str) -> str:
    """The name of a DLC in messages (``vLLM``), from its entry in the data file."""
    return str(_table()[kind]["name"])


def versions(kind: str) -> list[str]:
    """The versions AWS publishes of ``kind`` (``tgi``, ``pytorch``, ``vllm``, ``sglang``,
    ``lmi``), oldest first."""
    return list(_table()[kind]["versions"])


def latest(kind: str) -> str:
    return str(_table()[kind]["latest"])


def all_regions() -> set[str]:
    """Every region where AWS's table lists some DLC version."""
    return {region for kind, t in _table().items() if not kind.startswith("_")
            for e in t["versions"].values() for region in e["registries"]}


def pytorch_versions() -> dict[str, str]:
    """Transformers version -> PyTorch version, of the Hugging Face PyTorch inference DLC."""
    return {v: e["pytorch_version"] for v, e in _table()["pytorch"]["versions"].items()}


def backend_image(kind: str, version: str) -> DlcImage:
    """The DLC of a serving backend (``tgi``, ``vllm``, ``sglang``, ``lmi``) at ``version``,
    with the registries of exactly the regions that publish that version."""
    e = _entry(kind, version)
    return DlcImage(_table()[kind]["repository"], e["tag"], dict(e["registries"]),
                    backend=display_name(kind))


def tgi_image(version: str) -> DlcImage:
    """The Hugging Face TGI DLC for ``version`` (e.g. ``3.3.6``)."""
    return backend_image("tgi", version)


def pytorch_image(version: str, *, gpu: bool) -> DlcImage:
    """The Hugging Face PyTorch inference DLC for transformers ``version`` (e.g. ``4.51.3``),
    its GPU or CPU build: ``2.6.0-transformers4.51.3-gpu-py312-cu124-ubuntu22.04``."""
    e, device = _entry("pytorch", version), "gpu" if gpu else "cpu"
    if device not in e["tag"]:
        raise ImageResolutionError(
            f"the Hugging Face PyTorch DLC for transformers {version} has no {device.upper()} "
            f"build in {source()}; builds: {', '.join(e['tag'])}")
    return DlcImage(_table()["pytorch"]["repository"], e["tag"][device],
                    dict(e["registries"]), backend=display_name("pytorch"))


@dataclass(frozen=True)
class DlcImage:
    """One DLC image: its repository and tag, and the registry account of each region."""

    repository: str
    tag: str
    registries: dict[str, str]
    backend: str = "DLC"

    def account_for(self, region: str) -> str:
        try:
            return self.registries[region]
        except KeyError:
            raise ImageResolutionError(
                f"the {self.backend} image {self.repository}:{self.tag} is not published in "
                f"region {region!r} ({source()}); nearest regions with it: "
                f"{', '.join(nearest_regions(region, self.registries))}; all: "
                f"{', '.join(sorted(self.registries))}") from None

    def uri_for(self, region: str) -> str:
        suffix = partition_of(region).dns_suffix
        return f"{self.account_for(region)}.dkr.ecr.{region}.{suffix}/{self.repository}:{self.tag}"

    def repository_arn_for(self, region: str) -> str:
        partition = partition_of(region).name
        account = self.account_for(region)
        return f"arn:{partition}:ecr:{region}:{account}:repository/{self.repository}"

    def bind(self, scope: Construct) -> BoundImage:
        """Image URI and repository ARN for ``scope``'s stack (mapping when region-agnostic)."""
        stack = cdk.Stack.of(scope)
        if not cdk.Token.is_unresolved(stack.region):
            return BoundImage(self.uri_for(stack.region), self.repository_arn_for(stack.region))
        mapping = self._mapping(stack)
        account = mapping.find_in_map(cdk.Aws.REGION, "account")
        registry = f"{account}.dkr.ecr.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"
        uri = f"{registry}/{self.repository}:{self.tag}"
        arn = (f"arn:{cdk.Aws.PARTITION}:ecr:{cdk.Aws.REGION}:{account}:"
               f"repository/{self.repository}")
        return BoundImage(uri, arn)

    def _mapping(self, stack: cdk.Stack) -> cdk.CfnMapping:
        """One mapping (and region rule) per image in a stack: versions of one repository
        are published in different regions."""
        mapping_id = f"DlcRegistry{logical_id_part(self.repository)}{logical_id_part(self.tag)}"
        mapping = stack.node.try_find_child(mapping_id)
        if isinstance(mapping, cdk.CfnMapping):
            return mapping
        regions = sorted(self.registries)
        cdk.CfnRule(stack, f"{mapping_id}Region", assertions=[cdk.CfnRuleAssertion(
            assert_=cdk.Fn.condition_contains(regions, cdk.Aws.REGION),
            assert_description=(f"AWS publishes the {self.backend} image {self.repository}:"
                                f"{self.tag} only in the regions of mapping {mapping_id} "
                                f"({source()}); deploy in one of them or pick another "
                                "version"))])
        return cdk.CfnMapping(stack, mapping_id, mapping={
            region: {"account": self.registries[region]} for region in regions})


@dataclass(frozen=True)
class BoundImage:
    image_uri: str
    repository_arn: str


#: Region-name areas grouped by continent, to suggest a nearby region.
_CONTINENT = {"us": "america", "ca": "america", "mx": "america", "sa": "america",
              "eu": "europe", "il": "middle-east", "me": "middle-east", "af": "africa",
              "ap": "asia-pacific"}


def nearest_regions(region: str, available: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``available`` near ``region``: same partition and area (``ap-``,
    ``eu-``, ``us-gov-``...) first, then the same partition, by name."""
    def area(r: str) -> str:
        parts = r.split("-")
        return "-".join(parts[:2]) if parts[0] == "us" and parts[1] in ("gov", "iso", "isob") \
            else parts[0]
    def partition(r: str) -> str:
        return partition_of(r).name

    def continent(r: str) -> str:
        return _CONTINENT.get(r.split("-")[0], r.split("-")[0])
    ranked = sorted(available, key=lambda r: (partition(r) != partition(region),
                                              area(r) != area(region),
                                              continent(r) != continent(region), r))
    return ranked[:n]


def logical_id_part(name: str) -> str:
    """``huggingface-pytorch-tgi-inference`` -> ``HuggingfacePytorchTgiInference``; a tag's
    dots go too (``0.30.0-gpu`` -> ``0300Gpu``): logical ids are alphanumeric."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name))


def _entry(kind: str, version: str) -> dict:
    table = _table()[kind]
    try:
        return dict(table["versions"][version])
    except KeyError:
        raise ImageResolutionError(
            f"{display_name(kind)} version {version!r} is not in AWS's image table "
            f"({source()}); offered: {', '.join(table['versions'])}") from None
