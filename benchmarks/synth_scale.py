#!/usr/bin/env python3
"""Synth wall time and peak memory: the default app, an empty CDK app, and apps with 1, 10
and 50 endpoints, in one run, repeated. ``make bench`` runs it.

    .venv/bin/python benchmarks/synth_scale.py [--repeat 3] [--sizes 1,10,50]

Each measurement is a fresh process (as ``cdk synth`` runs the app), so the jsii/Node
start-up is included. Peak memory is the largest sum of resident memory of the process
tree (Python and its jsii Node process), sampled every 20 ms from /proc. The N-endpoint
apps repeat dev.yaml's real-time endpoint N times (cdk-nag on, as in every synth). Also
prints, for the largest app, the biggest template and the most resources in one stack
against CloudFormation's limits (1 MB template body, 500 resources per stack).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
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
            total += int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS")))
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, StopIteration, ProcessLookupError, ValueError):
            continue
    return total


def measure(args: list[str]) -> tuple[float, float]:
    """(seconds, peak MiB) of one process run."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    peak = 0

    def sample() -> None:
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, tree_rss_kib(proc.pid))
            time.sleep(0.02)
    t = threading.Thread(target=sample)
    t.start()
    _, err = proc.communicate()
    t.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{err[-2000:]}")
    return time.perf_counter() - start, peak / 1024


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="1,10,50")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    cases: dict[str, list[str]] = {"empty CDK app": [PY, "-c", EMPTY]}
    default_cfg = work / "default.json"
    default_cfg.write_text("{}")
    cases["default app (dev.yaml)"] = [PY, "-c", APP, str(default_cfg), str(work / "out-default")]
    for n in sizes:
        cfg = work / f"n{n}.json"
        cfg.write_text(json.dumps(config_with(n)))
        cases[f"{n} endpoint(s)"] = [PY, "-c", APP, str(cfg), str(work / f"out-{n}")]
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
    for _ in range(args.repeat):  # interleaved, so drift hits every case alike
        for name, cmd in cases.items():
            results[name].append(measure(cmd))
    base_t = statistics.median(t for t, _ in results["empty CDK app"])
    base_m = max(m for _, m in results["empty CDK app"])
    print(f"synth, {args.repeat} runs each (median wall time, highest peak memory)\n")
    print(f"{'app':<26}{'wall s':>9}{'x empty':>9}{'peak MiB':>10}{'x empty':>9}")
    for name, runs in results.items():
        t = statistics.median(r[0] for r in runs)
        m = max(r[1] for r in runs)
        print(f"{name:<26}{t:>9.2f}{t / base_t:>9.1f}{m:>10.0f}{m / base_m:>9.1f}")
    largest = work / f"out-{max(sizes)}"
    sizes_b = {f.name: f.stat().st_size for f in largest.glob("*.template.json")}
    counts = {f.name: len(json.loads(f.read_text())["Resources"])
              for f in largest.glob("*.template.json")}
    print(f"\n{max(sizes)} endpoints: {len(sizes_b)} stacks; biggest template "
          f"{max(sizes_b.values()) / 1024:.0f} KiB of 1024 KiB; most resources in one stack "
          f"{max(counts.values())} of 500")
    return 0


if __name__ == "__main__":
    sys.exit(main())
