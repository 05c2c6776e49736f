#!/usr/bin/env python3
"""Synth cost of the default app against an empty CDK app, and the marginal cost of one
endpoint, with CDK's built-in CloudFormation validation on and off, in one run.

    .venv/bin/python benchmarks/synth_scale.py [--repeat 3] [--sizes 1,6,11] [--limits 50]

Each measurement is a fresh process (as ``cdk synth`` runs the app), so the jsii/Node
start-up is included. CPU is user + system seconds of the process and its children (the
jsii Node process), from ``getrusage(RUSAGE_CHILDREN)``: steadier than wall time on a
shared machine. Peak memory is the largest sum of resident memory of the process tree,
sampled every 20 ms. The N-endpoint apps repeat dev.yaml's real-time endpoint N times
(cdk-nag on, as in every synth); the marginal cost is the least-squares slope over N.
Validation off is ``CDK_VALIDATION=false`` (as ``cdk synth --no-validation`` does).
``--limits N`` also synthesizes N endpoints once and prints the biggest template and the
most resources in one stack against CloudFormation's limits (1 MB body, 500 resources).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
    "CDK_DISABLE_CLI_TELEMETRY": "true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}

EMPTY = "import aws_cdk as cdk; cdk.App().synth()"
APP = """
import json, sys
import app
from config import parse_config
data = json.load(open(sys.argv[1]))
cfg = parse_config(data) if data else None
app.build_app("dev", outdir=sys.argv[2], config=cfg).synth()
"""


def tree_rss_kib(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(ln.split()[1] for ln in status.splitlines()
                              if ln.startswith("VmRSS")))
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, StopIteration, ProcessLookupError, ValueError):
            continue
    return total


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak MiB) of one process run."""
    cpu0, start = children_cpu(), time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    peak = 0

    def sample() -> None:
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, tree_rss_kib(proc.pid))
            time.sleep(0.02)
    sampler = threading.Thread(target=sample)
    sampler.start()
    _, err = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{err[-2000:]}")
    return time.perf_counter() - start, children_cpu() - cpu0, peak / 1024


def config_with(n: int) -> dict:
    data = yaml.safe_load((ROOT / "config" / "dev.yaml").read_text())
    one = data["endpoints"][0]
    data["project"] = "bench"
    data["endpoints"] = []
    for i in range(n):
        ep = copy.deepcopy(one)
        ep["name"] = f"e{i:02d}"
        data["endpoints"].append(ep)
    return data


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of y over x."""
    mx = statistics.mean(x for x, _ in points)
    my = statistics.mean(y for _, y in points)
    return (sum((x - mx) * (y - my) for x, y in points)
            / sum((x - mx) ** 2 for x, _ in points))


def limits(work: Path, n: int) -> str:
    cfg = work / f"limits-{n}.json"
    cfg.write_text(json.dumps(config_with(n)))
    out = work / f"out-limits-{n}"
    measure([PY, "-c", APP, str(cfg), str(out)], ENV | {"CDK_VALIDATION": "false"})
    sizes = {f.name: f.stat().st_size for f in out.glob("*.template.json")}
    counts = {f.name: len(json.loads(f.read_text())["Resources"])
              for f in out.glob("*.template.json")}
    return (f"{n} endpoints: {len(sizes)} stacks; biggest template "
            f"{max(sizes.values()) / 1024:.0f} KiB of 1024 KiB; most resources in one stack "
            f"{max(counts.values())} of 500")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="1,6,11")
    ap.add_argument("--limits", type=int, default=50, help="N endpoints vs the limits; 0: skip")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    default_cfg = work / "default.json"
    default_cfg.write_text("{}")
    cases: dict[tuple[str, int | None], list[str]] = {
        ("empty CDK app", None): [PY, "-c", EMPTY],
        ("default app (dev.yaml)", None): [PY, "-c", APP, str(default_cfg), str(work / "o")]}
    for n in sizes:
        cfg = work / f"n{n}.json"
        cfg.write_text(json.dumps(config_with(n)))
        cases[(f"{n} endpoint(s)", n)] = [PY, "-c", APP, str(cfg), str(work / f"o{n}")]
    modes = {"on": ENV, "off": ENV | {"CDK_VALIDATION": "false"}}
    runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for _ in range(args.repeat):  # interleaved, so drift hits every case alike
        for (name, _n), cmd in cases.items():
            for mode, env in modes.items():
                runs.setdefault((name, mode), []).append(measure(cmd, env))

    def med(key: tuple[str, str], i: int) -> float:
        return statistics.median(r[i] for r in runs[key])

    base_cpu = med(("empty CDK app", "off"), 1)
    print(f"synth, {args.repeat} run(s) each: median wall and CPU seconds (user+sys of the "
          f"process and its jsii Node child), highest peak memory; x empty: CPU against the "
          f"empty app without validation\n")
    print(f"{'app':<24}{'validation':>11}{'wall s':>8}{'CPU s':>8}{'CPU x empty':>12}"
          f"{'peak MiB':>10}")
    for (name, mode), results in runs.items():
        cpu = med((name, mode), 1)
        peak = max(r[2] for r in results)
        print(f"{name:<24}{mode:>11}{med((name, mode), 0):>8.2f}{cpu:>8.2f}"
              f"{cpu / base_cpu:>12.1f}{peak:>10.0f}")
    print("\nmarginal cost of one endpoint (least-squares slope over "
          f"{', '.join(map(str, sizes))} endpoints):")
    for mode in modes:
        for i, unit in ((1, "CPU s"), (0, "wall s")):
            pts = [(n, med((name, mode), i)) for (name, n) in cases if n is not None]
            print(f"  validation {mode:<4} {slope(pts):6.3f} {unit} per endpoint")
    if args.limits:
        print("\n" + limits(work, args.limits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
