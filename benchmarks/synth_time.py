#!/usr/bin/env python3
"""Wall time and CPU of synthesizing the default app, against an empty CDK app, in one run.

Run after setup (``make setup``): ``.venv/bin/python benchmarks/synth_time.py [--repeat N]``.
Measures, each ``--repeat`` times, and prints min / median / max seconds:

* ``make synth``           the README's synth command once setup is done (CDK CLI + app);
* ``cdk synth (CLI)``      the same without make;
* ``python app.py``        our app alone (config, constructs, cdk-nag, assembly);
* ``python empty app``     ``cdk.App().synth()`` with no stack: the jsii/Node start-up floor.

CPU is user + system seconds of the command and everything it waited for (the CDK CLI,
the app, its jsii Node process), from ``getrusage(RUSAGE_CHILDREN)``: steadier than wall
time on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
    "CDK_DISABLE_CLI_TELEMETRY": "true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}

EMPTY_APP = "import aws_cdk as cdk; cdk.App().synth()"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, children_cpu() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="bench-")
    cases = {
        "make synth": (["make", "--no-print-directory", "synth"], ENV),
        "cdk synth (CLI)": (["npx", "--no-install", "cdk", "synth", "--no-notices", "--quiet",
                             "-o", f"{out}/cli"], ENV),
        "python app.py": ([PY, "app.py"], ENV | {"CDK_OUTDIR": f"{out}/app"}),
        "python empty app": ([PY, "-c", EMPTY_APP], ENV | {"CDK_OUTDIR": f"{out}/empty"}),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(args.repeat):  # interleaved, so drift hits every case alike
        for name, (cmd, env) in cases.items():
            results[name].append(timed(cmd, env))
    floor = statistics.median(cpu for _, cpu in results["python empty app"])
    print(f"{'case':<20}{'min s':>8}{'median s':>10}{'max s':>8}{'CPU s':>8}{'CPU x empty':>12}")
    for name, runs in results.items():
        times = [wall for wall, _ in runs]
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:<20}{min(times):>8.2f}{statistics.median(times):>10.2f}"
              f"{max(times):>8.2f}{cpu:>8.2f}{cpu / floor:>12.1f}")
    print(f"({args.repeat} runs each, wall min/median/max, median CPU; {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
