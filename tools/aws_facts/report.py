#!/usr/bin/env python3
"""Write the generated sections of REPORT.md from the extracted data (out/*.json), today's
table (llm_constructs/data/dlc_images.json), the backend records (config/backends/) and the
SDK's GPU table.

    python tools/aws_facts/report.py [--sagemaker-core-wheel PATH]

Everything between ``<!-- generated:begin -->`` and ``<!-- generated:end -->`` in REPORT.md
is replaced; the hand-written text around it stays.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

import botocore
from botocore.loaders import Loader

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project's packages
from config.backends import BACKENDS, TGI, Backend
from config.backends.options import versions as engine_versions
from config.backends.record import OptionMap, boolean, option_at, refusal
from config.backends.tgi import SETTINGS
from llm_constructs import instances

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]

#: Each serving backend's record by its config key (``"vllm"``).
BACKEND: dict[str, Backend] = {b.key: b for b in BACKENDS}

BEGIN, END = "<!-- generated:begin -->", "<!-- generated:end -->"
KINDS = ("tgi", "pytorch", "vllm", "sglang", "lmi")


def load(name: str) -> dict:
    return json.loads((HERE / "out" / name).read_text())


def vkey(v: str) -> tuple:
    return tuple(int(p) for p in v.split("."))


# --- images: today against the SDK ---------------------------------------------------------

def today_images(table: dict, kind: str) -> dict[str, tuple[object, set[str]]]:
    """version -> (tag, regions) as llm_constructs/images.py builds them today."""
    entry, out = table[kind], {}
    for v, e in entry["versions"].items():
        regions = set(e.get("regions") or entry["registries"])
        if kind == "tgi":
            tag = f"{e['tag_prefix']}-gpu-{e['py_version']}-{e['container_version']}"
        elif kind == "pytorch":
            tag = {d: f"{e['pytorch_version']}-transformers{v}-{d}-{e['py_version']}-"
                      f"{e['container_version'][d]}" for d in ("gpu", "cpu")}
        else:
            tag = entry["tag"].format(version=v, **e)
        out[v] = (tag, regions)
    return out


def image_section(generated: dict, today: dict) -> list[str]:
    lines = ["## Images: what we offer today against the SDK's table", "",
             f"Source: {generated['pytorch']['_source'].split(': ')[0]}.", ""]
    total = {"generated": 0, "today": 0}
    for kind in KINDS:
        ours, sdk = today_images(today, kind), generated[kind]["versions"]
        lines += kind_lines(kind, ours, generated[kind], today[kind]["registries"])
        total["generated"] += sum(len(e["registries"]) for e in sdk.values())
        total["today"] += sum(len(r) for _, r in ours.values())
    extra = sum(len(e["registries"]) for k in ("hf_vllm", "hf_sglang")
                for e in generated[k]["versions"].values())
    lines += [f"**(backend, version, region) URIs offered by the generated table: "
              f"{total['generated']}** for tgi/pytorch/vllm/sglang/lmi (today: {total['today']}); "
              f"{total['generated'] + extra} with Hugging Face's vLLM/SGLang images.", ""]
    return lines


def kind_lines(kind: str, ours: dict, generated: dict, accounts: dict[str, str]) -> list[str]:
    """One image kind: the versions on each side, the differences of the versions both
    offer, and the count of URIs. ``accounts``: today's region -> account."""
    sdk = generated["versions"]
    lines = [f"### {kind} ({generated['repository']})", "",
             f"- today: {', '.join(ours)}", f"- SDK: {', '.join(sdk)}",
             f"- only today (not in the SDK's table): "
             f"{', '.join(v for v in ours if v not in sdk) or '-'}",
             f"- only in the SDK: {', '.join(v for v in sdk if v not in ours) or '-'}", ""]
    rows = [version_row(v, *ours[v], sdk[v], accounts) for v in ours if v in sdk]
    if rows:
        lines += ["| version | tag (today -> SDK) | regions the SDK adds | regions we offer "
                  "that the SDK does not list | account differs |", "|---|---|---|---|---|",
                  *rows, ""]
    n_gen = sum(len(e["registries"]) for e in sdk.values())
    n_today = sum(len(r) for _, r in ours.values())
    return [*lines, f"URIs (version x region): generated {n_gen}, today {n_today}"
            + (" (x2 for GPU and CPU builds)" if kind == "pytorch" else "") + ".", ""]


def version_row(version: str, tag: object, regions: set[str], sdk: dict,
                accounts: dict[str, str]) -> str:
    """A version both tables offer: its tag, the regions only one side lists, and the
    regions whose account differs."""
    sdk_regions = set(sdk["registries"])
    wrong_account = sorted(r for r in regions & sdk_regions
                           if accounts[r] != sdk["registries"][r])
    tag_cell = "same" if tag == sdk["tag"] else f"`{tag}` -> `{sdk['tag']}`"
    return (f"| {version} | {tag_cell} "
            f"| {', '.join(sorted(sdk_regions - regions)) or '-'} "
            f"| {', '.join(sorted(regions - sdk_regions)) or '-'} "
            f"| {', '.join(wrong_account) or '-'} |")


# --- options: what the config writes, per backend and version ------------------------------

#: Field -> the values a config can give that the table tries (numbers: one of each).
SAMPLES: dict[str, list[object]] = {
    "model": ["org/model"], "tensor_parallel_degree": [2], "max_model_len": [4096],
    "max_input_tokens": [2048], "max_concurrent_sequences": [48], "trust_remote_code": [True],
    "max_total_tokens": [4096], "max_batch_prefill_tokens": [4096],
    "messages_api_enabled": [True, False]}


def samples(backend: Backend, name: str) -> list[object]:
    if name in ("quantization", "quantize"):
        return list(backend.quantizations)
    return list(backend.dtypes) if name == "dtype" else SAMPLES[name]


def option_cell(backend: Backend, version: str, name: str, fields: OptionMap) -> tuple[str, str]:
    """(``VAR`` -> ``--option``, the values the version takes) of one field, or why not."""
    engine = backend.engine(version)
    values = samples(backend, name)
    if engine is None:
        return "no data", "-"
    option = option_at(backend, engine, name, fields)
    if option is None:
        return f"none (no {' or '.join(fields[name])})", "-"
    variable = backend.variables.get(name) or engine.variable(option)
    taken = [v for v in values if refusal(backend, version, name, v, fields) is None]
    reached = [n for n, _ in engine.arguments(variable, "1") if engine.option(n) is not None]
    if not reached:
        return f"`{variable}` -> nothing reads it", "refused"
    handed_on = engine.options.get(reached[0]) is None  # LMI: to vLLM's engine arguments
    cell = f"`{variable}` -> `{reached[0]}`" + (" (handed to vLLM)" if handed_on else "")
    return cell, accepted_text(backend, engine, name, values, taken, variable)


def accepted_text(backend: Backend, engine, name: str, values: list, taken: list,
                  variable: str) -> str:
    if isinstance(values[0], bool):
        spelled = {v: boolean(backend, engine, variable, v) for v in taken}
        return ", ".join(f"{v} as `{t!r}`".replace("'", '"') for v, t in spelled.items()) or "-"
    if isinstance(values[0], int):
        return "integer" if taken else "refused"
    if name == "dtype":
        shown = [f"{v} (`{backend.dtypes[str(v)]}`)" for v in taken]
    else:
        shown = [str(v) for v in taken] if name != "model" else ["Hub id or /opt/ml/model"]
    refused = [str(v) for v in values if v not in taken]
    return (", ".join(shown) or "none") + (f"; not {', '.join(refused)}" if refused else "")


def option_rows(backend: Backend, fields: OptionMap, label: str = "") -> list[str]:
    """One row per field and run of versions with the same cell (``0.23.0-0.27.1``)."""
    versions = engine_versions(backend.engine_key)
    rows = []
    for name in fields:
        runs: list[list] = []
        for version in versions:
            cell = option_cell(backend, version, name, fields)
            if runs and runs[-1][2] == cell:
                runs[-1][1] = version
            else:
                runs.append([version, version, cell])
        rows += [f"| {backend.name} | {first if first == last else f'{first}-{last}'} | "
                 f"{label}{name} | {cell[0]} | {cell[1]} |" for first, last, cell in runs]
    return rows


def options_section(opts: dict) -> list[str]:
    """The option table: what each field becomes at each version (from config.backends and
    config/data/engine_options.json, the same code synth runs)."""
    lines = ["## Options: what the config writes, per backend and version", "",
             "Each field through config.backends at every version in "
             "config/data/engine_options.json; a value not listed is a synth error naming "
             "the field, the version and the offered versions that take it.", "",
             "| backend | versions | field | variable -> option | accepted |",
             "|---|---|---|---|---|"]
    for backend in BACKENDS:
        lines += option_rows(backend, backend.options, "serving.")
        if backend is TGI:
            lines += option_rows(backend, SETTINGS, "tgi_settings.")
    assumed = [f"{b.name} {v} uses {e.assumed_from}'s data" for b in BACKENDS
               for v in engine_versions(b.engine_key)
               if (e := b.engine(v)) is not None and e.assumed_from]
    note = [f"Assumed: {', '.join(assumed)} (no source of its own).", ""] if assumed else []
    return [*lines, "", *note]


# --- instance facts --------------------------------------------------------------------------

KARPENTER = ("aws/karpenter-provider-aws",
             "website/content/en/preview/reference/instance-types.md")


def karpenter_facts(text: str) -> dict[str, dict[str, int]]:
    """EC2 type -> gpu-count, gpu-memory (MiB per GPU), memory (MiB), from Karpenter's
    instance-type reference (generated from EC2 DescribeInstanceTypes by
    hack/docs/instancetypes_gen)."""
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith("### `"):
            current = out.setdefault(line.strip("#` "), {})
        elif current is not None and "karpenter.k8s.aws/instance-" in line:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            key = cells[0].removeprefix("karpenter.k8s.aws/instance-")
            if key in ("gpu-count", "gpu-memory", "memory") and cells[1].isdigit():
                current[key] = int(cells[1])
    return out


def instance_section(wheel: Path, karpenter: tuple[str, str] | None) -> list[str]:
    sdk = sdk_gpu_info(wheel)
    ec2 = karpenter_facts(karpenter[1]) if karpenter else {}
    types = gpu_types()
    rows, disagree = [], []
    for t in types:
        ours = instances.GPU_COUNT.get(t), instances.gpu_memory_gib(t)
        info, k = sdk.get(t), ec2.get(t.removeprefix("ml."), {})
        disagree += disagreements(t, ours, info, k)
        if None in ours:
            rows.append(lacking_row(t, ours, info, k))
    return ["## GPU instance types lacking GPU count or memory in llm_constructs/instances.py",
            "", f"botocore {botocore.__version__} ProductionVariantInstanceType: "
            f"{len(types)} g*/p* types; {len(rows)} lack a count or a per-GPU memory. Right "
            "columns: sagemaker-core's image_uri_config/instance_gpu_info.json (per region: "
            "Count, TotalGpuMemoryInMiB), and " + (karpenter[0] if karpenter else "-")
            + " (EC2 DescribeInstanceTypes, as Karpenter's generator writes it).", "",
            "| type | GPU_COUNT | GPU_MEMORY_GIB | SDK instance_gpu_info.json "
            "| EC2 via Karpenter |",
            "|---|---|---|---|---|",
            *rows, "", "Types we have whose figures differ from a source (by a GiB or more):", "",
            *(disagree or ["- none"]), ""]


def sdk_gpu_info(wheel: Path) -> dict[str, dict]:
    """Instance type -> ``{Count, TotalGpuMemoryInMiB}`` from the SDK's per-region table
    (the first region listing the type)."""
    with zipfile.ZipFile(wheel) as zf:
        gpu_info = json.loads(zf.read("sagemaker/core/image_uri_config/instance_gpu_info.json"))
    sdk: dict[str, dict] = {}
    for region_types in gpu_info.values():
        for itype, info in region_types.items():
            sdk.setdefault(itype, info)
    return sdk


def gpu_types() -> list[str]:
    """The g*/p* types of botocore's ``ProductionVariantInstanceType``."""
    enum = Loader().load_service_model("sagemaker", "service-2")["shapes"][
        "ProductionVariantInstanceType"]["enum"]
    return sorted(t for t in enum if instances.family(t)[:1] in ("g", "p")
                  and instances.family(t)[1:2].isdigit())


def disagreements(itype: str, ours: tuple, info: dict | None, ec2: dict) -> list[str]:
    """Where our (count, GiB per GPU) differ from the SDK's or EC2's by a GPU or a GiB."""
    count, per_gpu = ours
    theirs = [("SDK", info["Count"], info["TotalGpuMemoryInMiB"] / info["Count"] / 1024)
              if info else None,
              ("EC2", ec2["gpu-count"], ec2["gpu-memory"] / 1024) if "gpu-count" in ec2 else None]
    return [f"- {itype}: ours {count} x {per_gpu} GiB, {who} {n} x {gib:g} GiB"
            for who, n, gib in filter(None, theirs)
            if (count is not None and count != n)
            or (per_gpu is not None and abs(per_gpu - gib) >= 1)]


def lacking_row(itype: str, ours: tuple, info: dict | None, ec2: dict) -> str:
    """A type lacking a figure of ours, beside the SDK's and EC2's."""
    count, per_gpu = ours
    source = (f"{info['Count']} x {info['TotalGpuMemoryInMiB'] // info['Count'] / 1024:g} GiB"
              if info else "-")
    from_k = (f"{ec2['gpu-count']} x {ec2['gpu-memory'] / 1024:g} GiB, "
              f"host {ec2['memory'] // 1024} GiB" if "gpu-count" in ec2 else "-")
    return (f"| {itype} | {count if count is not None else '-'} | "
            f"{per_gpu if per_gpu is not None else '-'} | {source} | {from_k} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sagemaker-core-wheel", type=Path)
    ap.add_argument("--options-table", action="store_true",
                    help="print only the option table (Markdown) and stop")
    ap.add_argument("--karpenter-repo", type=Path,
                    default=Path("/work/.mirror/aws+karpenter-provider-aws/repo"))
    args = ap.parse_args(argv)
    if args.options_table:
        print("\n".join(options_section({})))
        return 0
    if args.sagemaker_core_wheel is None:
        ap.error("--sagemaker-core-wheel is required for the whole report")
    karpenter = None
    if args.karpenter_repo.is_dir():
        import subprocess
        git = ["git", "-C", str(args.karpenter_repo)]
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        text = subprocess.run([*git, "show", f"HEAD:{KARPENTER[1]}"], capture_output=True,
                              text=True).stdout
        karpenter = (f"{KARPENTER[0]}@{head}:{KARPENTER[1]}", text)
    generated, opts = load("dlc_images.generated.json"), load("engine_options.json")
    today = json.loads((PROJECT / "llm_constructs" / "data" / "dlc_images.json").read_text())
    body = image_section(generated, today) + options_section(opts) + instance_section(
        args.sagemaker_core_wheel, karpenter)
    report = HERE / "REPORT.md"
    text = report.read_text() if report.exists() else f"{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    report.write_text(head + BEGIN + "\n" + "\n".join(body) + "\n" + END + rest.split(END, 1)[1])
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
