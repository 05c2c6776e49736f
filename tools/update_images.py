#!/usr/bin/env python3
"""Write ``llm_constructs/data/dlc_images.json`` from the SageMaker Python SDK's image tables.

    make update-images          # the sagemaker-core pinned in requirements-dev.txt
    python tools/update_images.py [--wheel sagemaker_core-X-py3-none-any.whl]

The SDK ships one JSON file per framework in ``sagemaker/core/image_uri_config/`` of the
``sagemaker-core`` package. This reads them from the installed package (or a wheel; nothing
is imported) and writes ``llm_constructs/data/dlc_images.json`` (and ``docs/images.md``):
per backend and version, the exact tag and exactly the regions and
registry accounts the SDK lists for that version. Tags are built the way
``sagemaker.core.image_uris.retrieve`` builds them (``_format_tag``): the non-empty parts of
``tag_prefix``, processor, Python version and container version, joined by ``-``; for the
Hugging Face PyTorch DLC the prefix is ``<pytorch>-transformers<version>``.

To offer a new DLC release: bump ``sagemaker-core`` in requirements-dev.txt, ``make setup``,
``make update-images``, and read the diff. ``tests/test_image_table.py`` fails while the
committed file and the installed package disagree.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

PACKAGE = "sagemaker-core"
CONFIG_DIR = "sagemaker/core/image_uri_config/"
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "llm_constructs" / "data" / "dlc_images.json"
DOC = ROOT / "docs" / "images.md"

#: Our key -> (the SDK's framework file without ``.json``, the name in messages).
FRAMEWORKS = {
    "tgi": ("huggingface-llm", "TGI"),
    "pytorch": ("huggingface", "Hugging Face PyTorch"),
    "vllm": ("vllm", "vLLM"),
    "sglang": ("sglang", "SGLang"),
    "lmi": ("djl-lmi", "LMI"),
}


def version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in version.replace("-", ".").split("."))


def installed_reader() -> tuple[str, Callable[[str], bytes]]:
    """(version, file reader) of the installed ``sagemaker-core`` distribution."""
    dist = importlib.metadata.distribution(PACKAGE)
    return dist.version, lambda rel: Path(str(dist.locate_file(rel))).read_bytes()


def wheel_reader(wheel: Path) -> tuple[str, Callable[[str], bytes]]:
    zf = zipfile.ZipFile(wheel)
    return wheel.name.split("-")[1], zf.read


def format_tag(*parts: str | None) -> str:
    """``image_uris._format_tag``: the non-empty parts joined by ``-``."""
    return "-".join(p for p in parts if p)


def only_py_version(entry: dict, where: str) -> str | None:
    pys = entry.get("py_versions") or [None]
    if len(pys) != 1:
        raise SystemExit(f"{where}: several Python versions {pys}; pick one rule before using it")
    return pys[0]


def backend_versions(scope: dict, name: str) -> dict[str, dict]:
    """A single-build framework (TGI, vLLM, SGLang, LMI): version -> tag and registries."""
    processor = "gpu" if "gpu" in (scope.get("processors") or []) else None
    out = {}
    for version, entry in scope["versions"].items():
        py = only_py_version(entry, f"{name} {version}")
        container = (entry.get("container_version") or {}).get(processor)
        in_tag = processor if entry.get("processor_in_tag", True) else None
        out[version] = {
            "repository": entry["repository"],
            "tag": format_tag(entry.get("tag_prefix", version), in_tag, py, container),
            "registries": dict(sorted(entry["registries"].items())),
        }
    return out


def pytorch_versions(scope: dict) -> dict[str, dict]:
    """The Hugging Face PyTorch inference DLC, keyed by transformers version like the SDK.
    Where the SDK lists several PyTorch builds of one transformers version, the newest."""
    out = {}
    for version, builds in scope["versions"].items():
        pytorch = sorted((k for k in builds if k.startswith("pytorch")),
                         key=lambda k: version_key(k[len("pytorch"):]))
        if not pytorch:
            continue
        entry = builds[pytorch[-1]]
        pt = pytorch[-1][len("pytorch"):]
        py = only_py_version(entry, f"huggingface {version}")
        devices = entry["container_version"]
        out[version] = {
            "repository": entry["repository"],
            "pytorch_version": pt,
            "tag": {d: format_tag(f"{pt}-transformers{version}", d, py, devices[d])
                    for d in ("gpu", "cpu") if d in devices},
            "registries": dict(sorted(entry["registries"].items())),
        }
    return out


def backend_table(kind: str, config: dict, source: str) -> dict:
    framework, name = FRAMEWORKS[kind]
    scope = config.get("inference", config)  # djl-lmi is inference-only, flat
    versions = pytorch_versions(scope) if kind == "pytorch" else backend_versions(scope, framework)
    versions = dict(sorted(versions.items(), key=lambda kv: version_key(kv[0])))
    repos = {v.pop("repository") for v in versions.values()}
    if len(repos) != 1:
        raise SystemExit(f"{framework}: several repositories {sorted(repos)}")
    return {"name": name, "repository": repos.pop(),
            "_source": f"{source}: {CONFIG_DIR}{framework}.json",
            "latest": next(reversed(versions)), "versions": versions}


def table(version: str, read: Callable[[str], bytes]) -> dict:
    """The data file's content, from ``sagemaker-core`` ``version`` read through ``read``."""
    files = {kind: read(f"{CONFIG_DIR}{framework}.json")
             for kind, (framework, _) in FRAMEWORKS.items()}
    source = f"{PACKAGE}=={version}"
    out: dict = {
        "_about": (
            f"Generated by tools/update_images.py (make update-images) from {source}: do not "
            "edit. Per backend and version: the exact tag, and the regions (with registry "
            "account) the SDK lists for that version; a region missing from a version's "
            "registries has no such image."),
        "_source": {"package": PACKAGE, "version": version,
                    "sha256": {f"{CONFIG_DIR}{FRAMEWORKS[k][0]}.json":
                               hashlib.sha256(data).hexdigest() for k, data in files.items()}},
    }
    for kind, data in files.items():
        out[kind] = backend_table(kind, json.loads(data), source)
    return out


def render(content: dict) -> str:
    return json.dumps(content, indent=1) + "\n"


def markdown(content: dict) -> str:
    """``docs/images.md``: what the table offers, per backend and version."""
    lines = ["# DLC images offered", "",
             f"Generated by `make update-images` from `{PACKAGE}=="
             f"{content['_source']['version']}` (`{CONFIG_DIR}`): do not edit. A config "
             "naming another version is refused at synth with this list; a fixed "
             "`deployment.region` must be one of the version's regions.", ""]
    everywhere = sorted({r for kind, t in content.items() if not kind.startswith("_")
                         for e in t["versions"].values() for r in e["registries"]})
    for kind, t in content.items():
        if kind.startswith("_"):
            continue
        lines += [f"## {t['name']} (`image: {{{kind}: <version>}}`)", "",
                  f"Repository `{t['repository']}`; newest {t['latest']}.", "",
                  "| version | tag | regions | not in |", "| --- | --- | --- | --- |"]
        for version, e in reversed(t["versions"].items()):
            tag = " / ".join(e["tag"].values()) if isinstance(e["tag"], dict) else e["tag"]
            missing = [r for r in everywhere if r not in e["registries"]]
            lines.append(f"| {version} | `{tag}` | {len(e['registries'])} | "
                         f"{', '.join(missing) or '—'} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", type=Path, help="read this sagemaker-core wheel instead of the "
                                                "installed package")
    args = ap.parse_args(argv)
    version, read = wheel_reader(args.wheel) if args.wheel else installed_reader()
    content = table(version, read)
    for path, text in ((OUT, render(content)), (DOC, markdown(content))):
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)} from {PACKAGE}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
