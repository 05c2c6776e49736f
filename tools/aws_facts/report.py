#!/usr/bin/env python3
"""Write the generated sections of REPORT.md from the extracted data (out/*.json), today's
table (llm_constructs/data/dlc_images.json), config/backends.py and the SDK's GPU table.

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
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
sys.path.insert(0, str(PROJECT))
from config import backends  # noqa: E402

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
        lines += [f"### {kind} ({generated[kind]['repository']})", "",
                  f"- today: {', '.join(ours)}", f"- SDK: {', '.join(sdk)}",
                  f"- only today (not in the SDK's table): "
                  f"{', '.join(v for v in ours if v not in sdk) or '-'}",
                  f"- only in the SDK: {', '.join(v for v in sdk if v not in ours) or '-'}", ""]
        rows = []
        for v in ours:
            if v not in sdk:
                continue
            tag, regions = ours[v]
            sdk_regions = set(sdk[v]["registries"])
            wrong_account = sorted(r for r in regions & sdk_regions
                                   if today[kind]["registries"][r] != sdk[v]["registries"][r])
            sdk_tag = sdk[v]["tag"]
            tag_cell = "same" if tag == sdk_tag else f"`{tag}` -> `{sdk_tag}`"
            rows.append(f"| {v} | {tag_cell} "
                        f"| {', '.join(sorted(sdk_regions - regions)) or '-'} "
                        f"| {', '.join(sorted(regions - sdk_regions)) or '-'} "
                        f"| {', '.join(wrong_account) or '-'} |")
        if rows:
            lines += ["| version | tag (today -> SDK) | regions the SDK adds | regions we offer "
                      "that the SDK does not list | account differs |", "|---|---|---|---|---|",
                      *rows, ""]
        n_gen = sum(len(e["registries"]) for e in sdk.values())
        n_today = sum(len(r) for _, r in ours.values())
        total["generated"] += n_gen
        total["today"] += n_today
        lines += [f"URIs (version x region): generated {n_gen}, today {n_today}"
                  + (" (x2 for GPU and CPU builds)" if kind == "pytorch" else "") + ".", ""]
    extra = sum(len(e["registries"]) for k in ("hf_vllm", "hf_sglang")
                for e in generated[k]["versions"].values())
    lines += [f"**(backend, version, region) URIs offered by the generated table: "
              f"{total['generated']}** for tgi/pytorch/vllm/sglang/lmi (today: {total['today']}); "
              f"{total['generated'] + extra} with Hugging Face's vLLM/SGLang images.", ""]
    return lines


# --- options: what config/backends.py emits against what each version accepts -------------

FIELDS = ("tensor_parallel_degree", "max_model_len", "max_input_tokens",
          "max_concurrent_sequences", "quantization", "dtype", "trust_remote_code")


def serving(**values) -> SimpleNamespace:
    base = {f: None for f in FIELDS}
    base["trust_remote_code"] = False
    return SimpleNamespace(**{**base, **values})


def cases(backend: str) -> list[tuple[str, SimpleNamespace]]:
    """Every serving field with each value config/backends.py accepts for ``backend``."""
    out = [("tensor_parallel_degree=2", serving(tensor_parallel_degree=2)),
           ("max_model_len=4096", serving(max_model_len=4096)),
           ("max_input_tokens=2048", serving(max_input_tokens=2048)),
           ("max_concurrent_sequences=8", serving(max_concurrent_sequences=8)),
           ("trust_remote_code=true", serving(trust_remote_code=True))]
    out += [(f"dtype={d}", serving(dtype=d)) for d in backends.DTYPE[backend]]
    out += [(f"quantization={q}", serving(quantization=q)) for q in backends.QUANTIZATION[backend]]
    return out


def find_option(options: dict, flag: str) -> tuple[str, dict] | None:
    for name, spec in options.items():
        if flag == name or flag in (spec.get("aliases") or []):
            return name, spec
        if spec.get("negatable") and flag == "--no-" + name[2:]:
            return name, {**spec, "kind": "flag"}
    return None


def argv_for(env: dict[str, str], prefix: str, rules: dict) -> list[tuple[str, str | None]]:
    """(flag, value or None) per variable, as the entrypoint's recorded rules convert it."""
    out = []
    for key, value in env.items():
        if not key.startswith(prefix):
            continue
        flag = "--" + key[len(prefix):].lower().replace("_", "-")
        low = value.strip().lower()
        if low in ("true", "false"):
            tokens = rules[low]
            if tokens:
                out.append((flag, value if len(tokens) > 1 else None))
        elif value == "":
            out.append((flag, None))
        else:
            out.append((flag, value))
    return out


def check_argv(argv, options: dict) -> list[str]:
    problems = []
    for flag, value in argv:
        found = find_option(options, flag)
        if found is None:
            problems.append(f"`{flag}` is not an option")
            continue
        name, spec = found
        if spec["kind"] == "flag" and value is not None:
            problems.append(f"`{flag} {value}`: {name} takes no value (argparse: unrecognized "
                            f"argument {value!r})")
        elif spec["kind"] == "value" and value is None and spec.get("nargs") not in ("?", "*"):
            problems.append(f"`{flag}` without a value: {name} expects one")
        elif value is not None and isinstance(spec.get("choices"), list) \
                and value not in [str(c) for c in spec["choices"]]:
            problems.append(f"`{flag} {value}`: not one of its choices")
    return problems


def python_engine_rows(engine: str, opts: dict, eps: dict) -> tuple[list[str], list[str]]:
    prefix = "SM_VLLM_" if engine == "vllm" else "SM_SGLANG_"
    table, problems = [], []
    for v, data in opts[engine].items():
        rules = (eps.get(v) or {}).get("rules")
        options = data["options"]
        cells = []
        for field in FIELDS:
            var = backends.ENV[engine].get(field)
            if var is None:
                cells.append("n/a")
                continue
            flag = "--" + var[len(prefix):].lower().replace("_", "-")
            found = find_option(options, flag)
            if found is None:
                cells.append(f"**missing** `{flag}`")
            elif field in ("dtype", "quantization"):
                accepted = set(map(str, found[1].get("choices") or []))
                ours = backends.DTYPE[engine].values() if field == "dtype" \
                    else backends.QUANTIZATION[engine]
                lacking = sorted(set(ours) - accepted)
                cells.append(f"`{found[0]}` ({len(accepted)} choices)"
                             + (f"; lacks {', '.join(lacking)}" if lacking else ""))
            else:
                cells.append(f"`{found[0]}` {found[1]['kind']}")
        table.append(f"| {v} | " + " | ".join(cells) + " |")
        if rules is None:
            continue  # an engine version with no AWS image of that version (Hugging Face's)
        for label, sv in cases(engine):
            env = backends.environment(engine, sv, model="org/model", gpus=1)
            for problem in check_argv(argv_for(env, prefix, rules), options):
                problems.append(f"- {engine} {v}, serving.{label}: {problem} "
                                f"(image entrypoint {eps[v]['source'].split('@')[1]})")
    return table, problems


def tgi_rows(opts: dict, eps: dict) -> tuple[list[str], list[str]]:
    table, problems = [], []
    settings_env = ("MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH", "MAX_TOTAL_TOKENS",
                    "MAX_BATCH_PREFILL_TOKENS", "QUANTIZE", "MESSAGES_API_ENABLED")
    for v, data in opts["tgi"].items():
        by_env = {s["env"]: (name, s) for name, s in data["options"].items() if s.get("env")}
        renames = eps[v]["renames"]
        cells = []
        for field in FIELDS:
            var = renames.get(backends.ENV["tgi"][field], backends.ENV["tgi"][field])
            hit = by_env.get(var)
            if hit is None:
                cells.append(f"**missing** {var}")
            elif field in ("dtype", "quantization"):
                ours = backends.DTYPE["tgi"].values() if field == "dtype" \
                    else backends.QUANTIZATION["tgi"]
                lacking = sorted(set(ours) - set(hit[1].get("choices") or []))
                cells.append(f"`{hit[0]}` ({', '.join(hit[1].get('choices') or [])})"
                             + (f"; lacks {', '.join(lacking)}" if lacking else ""))
            else:
                cells.append(f"`{hit[0]}` {hit[1]['kind']}")
        has = [e for e in settings_env if e in by_env]
        table.append(f"| {v} | " + " | ".join(cells) + f" | {', '.join(has)} |")
        for label, sv in cases("tgi"):
            env = backends.environment("tgi", sv, model=None, gpus=1)
            for key, value in env.items():
                hit = by_env.get(renames.get(key, key))
                if hit is None:
                    problems.append(f"- tgi {v}, serving.{label}: {key} is read by no launcher "
                                    f"option of this version")
                elif hit[1].get("choices") and value not in hit[1]["choices"]:
                    problems.append(f"- tgi {v}, serving.{label}: {key}={value} is not one of "
                                    f"{', '.join(hit[1]['choices'])}")
    return table, problems


def lmi_rows(opts: dict) -> tuple[list[str], list[str]]:
    table, problems = [], []
    for v, data in opts["lmi"].items():
        if data is None:
            table.append(f"| {v} | no djl-serving tag or DLC branch for this version in the "
                         f"repository snapshot |" + " |" * (len(FIELDS) - 1))
            continue
        props = data["properties"]
        cells = []
        for field in FIELDS:
            var = backends.ENV["lmi"].get(field)
            if var is None:
                cells.append("n/a")
                continue
            name = var[len("OPTION_"):].lower()
            spec = props.get(name) or next((s for s in props.values()
                                            if s.get("alias") == name), None)
            if spec is None:
                cells.append(f"{name}: passed to vLLM" if "vLLM" in data["other_properties"]
                             else f"**missing** {name}")
            elif spec.get("choices"):
                ours = {"quantization": backends.QUANTIZATION["lmi"],
                        "dtype": backends.DTYPE["lmi"].values()}.get(field, [])
                lacking = sorted(set(ours) - set(spec["choices"]))
                cells.append(f"{name} ({', '.join(map(str, spec['choices']))})"
                             + (f"; lacks {', '.join(lacking)}" if lacking else ""))
                if lacking:
                    problems.append(f"- lmi {v}: serving.{field} {', '.join(lacking)} "
                                    f"is refused (option.{name} accepts "
                                    f"{', '.join(spec['choices'])}; {data['source'].split(':')[0]})")
            else:
                cells.append(f"{name} ({spec['type_hint']})")
        table.append(f"| {v} | " + " | ".join(cells) + " |")
    return table, problems


def options_section(opts: dict) -> list[str]:
    header = "| version | " + " | ".join(FIELDS) + " |"
    rule = "|---" * (len(FIELDS) + 1) + "|"
    lines = ["## Options: what config/backends.py maps, per backend and version", ""]
    all_problems = []
    for engine in ("vllm", "sglang"):
        table, problems = python_engine_rows(engine, opts, opts["entrypoints"][engine])
        lines += [f"### {engine}", "", header, rule, *table, ""]
        all_problems += problems
    table, problems = tgi_rows(opts, opts["entrypoints"]["tgi"])
    lines += ["### tgi (environment variable -> launcher option; tgi_settings variables read)",
              "", header[:-1] + "| tgi_settings variables |", rule + "---|", *table, ""]
    all_problems += problems
    table, problems = lmi_rows(opts)
    lines += ["### lmi (OPTION_<NAME> -> djl-serving property)", "", header, rule, *table, ""]
    all_problems += problems
    lines += ["## Mismatches: config/backends.py against the engine and entrypoint of each "
              "version", "", f"{len(all_problems)} found, each field and accepted value driven "
              "through config.backends.environment and the entrypoint's recorded rules:", "",
              *all_problems, ""]
    return lines


# --- instance facts --------------------------------------------------------------------------

KARPENTER = ("aws/karpenter-provider-aws", "website/content/en/preview/reference/instance-types.md")


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
    from botocore.loaders import Loader
    from llm_constructs import instances
    enum = Loader().load_service_model("sagemaker", "service-2")["shapes"][
        "ProductionVariantInstanceType"]["enum"]
    with zipfile.ZipFile(wheel) as zf:
        gpu_info = json.loads(zf.read("sagemaker/core/image_uri_config/instance_gpu_info.json"))
    sdk: dict[str, dict] = {}
    for region_types in gpu_info.values():
        for itype, info in region_types.items():
            sdk.setdefault(itype, info)
    ec2 = karpenter_facts(karpenter[1]) if karpenter else {}
    gpu_types = sorted(t for t in enum if instances.family(t)[:1] in ("g", "p")
                       and instances.family(t)[1:2].isdigit())
    rows, disagree = [], []
    for t in gpu_types:
        count, per_gpu = instances.GPU_COUNT.get(t), instances.gpu_memory_gib(t)
        k, info = ec2.get(t.removeprefix("ml."), {}), sdk.get(t)
        theirs = [("SDK", info["Count"], info["TotalGpuMemoryInMiB"] / info["Count"] / 1024)
                  if info else None,
                  ("EC2", k["gpu-count"], k["gpu-memory"] / 1024) if "gpu-count" in k else None]
        for who, n, gib in filter(None, theirs):
            if (count is not None and count != n) or (per_gpu is not None and abs(per_gpu - gib) >= 1):
                disagree.append(f"- {t}: ours {count} x {per_gpu} GiB, {who} {n} x {gib:g} GiB")
        if count is not None and per_gpu is not None:
            continue
        info = sdk.get(t)
        source = (f"{info['Count']} x {info['TotalGpuMemoryInMiB'] // info['Count'] / 1024:g} GiB"
                  if info else "-")
        k = ec2.get(t.removeprefix("ml."), {})
        from_k = (f"{k['gpu-count']} x {k['gpu-memory'] / 1024:g} GiB, host {k['memory'] // 1024} GiB"
                  if "gpu-count" in k else "-")
        rows.append(f"| {t} | {count if count is not None else '-'} | "
                    f"{per_gpu if per_gpu is not None else '-'} | {source} | {from_k} |")
    import botocore
    return ["## GPU instance types lacking GPU count or memory in llm_constructs/instances.py",
            "", f"botocore {botocore.__version__} ProductionVariantInstanceType: "
            f"{len(gpu_types)} g*/p* types; {len(rows)} lack a count or a per-GPU memory. Right "
            "columns: sagemaker-core's image_uri_config/instance_gpu_info.json (per region: "
            "Count, TotalGpuMemoryInMiB), and " + (karpenter[0] if karpenter else "-")
            + " (EC2 DescribeInstanceTypes, as Karpenter's generator writes it).", "",
            "| type | GPU_COUNT | GPU_MEMORY_GIB | SDK instance_gpu_info.json | EC2 via Karpenter |",
            "|---|---|---|---|---|",
            *rows, "", "Types we have whose figures differ from a source (by a GiB or more):", "",
            *(disagree or ["- none"]), ""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sagemaker-core-wheel", type=Path, required=True)
    ap.add_argument("--karpenter-repo", type=Path,
                    default=Path("/work/.mirror/aws+karpenter-provider-aws/repo"))
    args = ap.parse_args(argv)
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
