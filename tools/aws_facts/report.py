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
from types import SimpleNamespace

import botocore
from botocore.loaders import Loader

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project's packages
from config.backends import BACKENDS, Backend, environment
from config.backends.tgi import SETTING_VARIABLES
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


# --- options: what config/backends.py emits against what each version accepts -------------

FIELDS = ("tensor_parallel_degree", "max_model_len", "max_input_tokens",
          "max_concurrent_sequences", "quantization", "dtype", "trust_remote_code")


def serving(**values) -> SimpleNamespace:
    base = dict.fromkeys(FIELDS)
    base["trust_remote_code"] = False
    return SimpleNamespace(**{**base, **values})


def cases(backend: str) -> list[tuple[str, SimpleNamespace]]:
    """Every serving field with each value config/backends.py accepts for ``backend``."""
    out = [("tensor_parallel_degree=2", serving(tensor_parallel_degree=2)),
           ("max_model_len=4096", serving(max_model_len=4096)),
           ("max_input_tokens=2048", serving(max_input_tokens=2048)),
           ("max_concurrent_sequences=8", serving(max_concurrent_sequences=8)),
           ("trust_remote_code=true", serving(trust_remote_code=True))]
    record = BACKEND[backend]
    out += [(f"dtype={d}", serving(dtype=d)) for d in record.dtypes]
    out += [(f"quantization={q}", serving(quantization=q)) for q in record.quantizations]
    return out


def variables(backend: str, serving: SimpleNamespace, *, model: str | None) -> dict[str, str]:
    """The variables the config writes for ``serving`` on one GPU (no token, no settings),
    by the same ``config.backends.environment`` the stacks use."""
    spec = SimpleNamespace(serving=serving, num_gpus=1, tgi_settings=None)
    return environment(BACKEND[backend], spec, model=model, source_variables={})


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


def accepted_by_config(backend: str, field: str) -> list[str]:
    """What the config writes for ``field`` (``dtype``: the backend's spellings of the
    config's dtypes; ``quantization``: the methods it accepts; others: nothing to check)."""
    record = BACKEND[backend]
    if field == "dtype":
        return list(record.dtypes.values())
    return list(record.quantizations) if field == "quantization" else []


def lacks(lacking: list[str]) -> str:
    return f"; lacks {', '.join(lacking)}" if lacking else ""


def python_engine_rows(engine: str, opts: dict, eps: dict) -> tuple[list[str], list[str]]:
    prefix = "SM_VLLM_" if engine == "vllm" else "SM_SGLANG_"
    table, problems = [], []
    for v, data in opts[engine].items():
        options = data["options"]
        cells = [python_engine_cell(engine, field, prefix, options) for field in FIELDS]
        table.append(f"| {v} | " + " | ".join(cells) + " |")
        rules = (eps.get(v) or {}).get("rules")
        if rules is not None:  # else an engine version with no AWS image (Hugging Face's)
            source = eps[v]["source"].split("@")[1]
            problems += [f"- {engine} {v}, serving.{label}: {problem} (image entrypoint "
                         f"{source})" for label, problem in
                         python_engine_problems(engine, prefix, rules, options)]
    return table, problems


def python_engine_cell(engine: str, field: str, prefix: str, options: dict) -> str:
    """The option a serving field's variable becomes, or why there is none."""
    var = BACKEND[engine].variables.get(field)
    if var is None:
        return "n/a"
    flag = "--" + var[len(prefix):].lower().replace("_", "-")
    found = find_option(options, flag)
    if found is None:
        return f"**missing** `{flag}`"
    name, spec = found
    if field in ("dtype", "quantization"):
        accepted = set(map(str, spec.get("choices") or []))
        lacking = sorted(set(accepted_by_config(engine, field)) - accepted)
        return f"`{name}` ({len(accepted)} choices)" + lacks(lacking)
    return f"`{name}` {spec['kind']}"


def python_engine_problems(engine: str, prefix: str, rules: dict,
                           options: dict) -> list[tuple[str, str]]:
    """(case, problem) for each serving case whose variables the entrypoint turns into an
    argv the engine refuses."""
    return [(label, problem) for label, sv in cases(engine)
            for problem in check_argv(argv_for(variables(engine, sv, model="org/model"),
                                               prefix, rules), options)]


def tgi_rows(opts: dict, eps: dict) -> tuple[list[str], list[str]]:
    table, problems = [], []
    for v, data in opts["tgi"].items():
        by_env = {s["env"]: (name, s) for name, s in data["options"].items() if s.get("env")}
        renames = eps[v]["renames"]
        cells = [tgi_cell(field, by_env, renames) for field in FIELDS]
        has = [e for e in SETTING_VARIABLES if e in by_env]
        table.append(f"| {v} | " + " | ".join(cells) + f" | {', '.join(has)} |")
        problems += tgi_problems(v, by_env, renames)
    return table, problems


def tgi_cell(field: str, by_env: dict, renames: dict[str, str]) -> str:
    """The launcher option a serving field's variable (as the entrypoint renames it) sets."""
    var = BACKEND["tgi"].variables[field]
    var = renames.get(var, var)
    hit = by_env.get(var)
    if hit is None:
        return f"**missing** {var}"
    name, spec = hit
    if field in ("dtype", "quantization"):
        choices = spec.get("choices") or []
        lacking = sorted(set(accepted_by_config("tgi", field)) - set(choices))
        return f"`{name}` ({', '.join(choices)})" + lacks(lacking)
    return f"`{name}` {spec['kind']}"


def tgi_problems(version: str, by_env: dict, renames: dict[str, str]) -> list[str]:
    """Variables of a serving case no launcher option reads, or with a refused value."""
    problems = []
    for label, sv in cases("tgi"):
        for key, value in variables("tgi", sv, model=None).items():
            hit = by_env.get(renames.get(key, key))
            if hit is None:
                problems.append(f"- tgi {version}, serving.{label}: {key} is read by no "
                                f"launcher option of this version")
            elif hit[1].get("choices") and value not in hit[1]["choices"]:
                problems.append(f"- tgi {version}, serving.{label}: {key}={value} is not one "
                                f"of {', '.join(hit[1]['choices'])}")
    return problems


def lmi_rows(opts: dict) -> tuple[list[str], list[str]]:
    table, problems = [], []
    for v, data in opts["lmi"].items():
        if data is None:
            table.append(f"| {v} | no djl-serving tag or DLC branch for this version in the "
                         f"repository snapshot |" + " |" * (len(FIELDS) - 1))
            continue
        cells = []
        for field in FIELDS:
            cell, lacking = lmi_cell(field, data)
            cells.append(cell)
            if lacking:
                name, spec = lmi_property(field, data["properties"])
                problems.append(f"- lmi {v}: serving.{field} {', '.join(lacking)} "
                                f"is refused (option.{name} accepts "
                                f"{', '.join(spec['choices'])}; {data['source'].split(':')[0]})")
        table.append(f"| {v} | " + " | ".join(cells) + " |")
    return table, problems


def lmi_property(field: str, props: dict) -> tuple[str, dict | None]:
    """(property name, its spec or None) of the ``OPTION_<NAME>`` a serving field sets."""
    name = BACKEND["lmi"].variables[field][len("OPTION_"):].lower()
    return name, props.get(name) or next((s for s in props.values()
                                          if s.get("alias") == name), None)


def lmi_cell(field: str, data: dict) -> tuple[str, list[str]]:
    """(cell, the config's values the property refuses) of one serving field."""
    if field not in BACKEND["lmi"].variables:
        return "n/a", []
    name, spec = lmi_property(field, data["properties"])
    if spec is None:
        return (f"{name}: passed to vLLM" if "vLLM" in data["other_properties"]
                else f"**missing** {name}"), []
    if not spec.get("choices"):
        return f"{name} ({spec['type_hint']})", []
    lacking = sorted(set(accepted_by_config("lmi", field)) - set(spec["choices"]))
    return f"{name} ({', '.join(map(str, spec['choices']))})" + lacks(lacking), lacking


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
