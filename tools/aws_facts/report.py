#!/usr/bin/env python3
"""Print the option table: per backend and version, the variable each config field writes,
the engine option it reaches and the values that version accepts (Markdown).

    python tools/aws_facts/report.py

Read from the backend records (config/backends/) and config/data/engine_options.json. The
findings that led to generating the data files are in REPORT.md (a record, measured before).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project's packages
from config.backends import BACKENDS, TGI, Backend
from config.backends.options import versions as engine_versions
from config.backends.record import OptionMap, boolean, option_at, refusal
from config.backends.tgi import SETTINGS

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


#: A value of each plain field, to show what it becomes.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    print("\n".join(options_section({})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
