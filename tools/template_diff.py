#!/usr/bin/env python3
"""CloudFormation diff of two sets of synthesized assemblies, as Markdown, without AWS
credentials: ``cdk diff --template`` of each head stack against its base template, with the
pinned CLI's own judgement of each change beside it.

    python tools/template_diff.py BASE_DIR HEAD_DIR [--cli-report FILE] > diff.md

Both directories hold ``<config>/`` cloud assemblies (``tools/synth_all.py``). Runs the
pinned CDK CLI (``npx --no-install cdk``). New and removed stacks are listed as such.
``--cli-report`` writes a table of what the CLI itself calls destructive (``--fail-on
destructive``: a resource replaced, deleted or orphaned) and security-broadening
(``--security-only --fail-on broadening``), per changed stack.

The Markdown is valid CommonMark/GFM on its own and when followed by more: every
``<details>`` block ends with a blank line, and each code fence is longer than any run of
backticks in the diff it holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")
UNCHANGED = ("There were no differences", "Number of stacks with differences: 0")


@dataclass(frozen=True)
class StackDiff:
    config: str
    stack: str
    state: str              # "new", "removed", "unchanged", "changed"
    text: str = ""          # the CLI's diff, for a changed stack
    destructive: bool = False
    broadening: bool = False
    security: str = ""      # the CLI's security-only diff


def stacks(assembly: Path) -> dict[str, Path]:
    manifest = json.loads((assembly / "manifest.json").read_text())
    return {(a["properties"].get("stackName") or name): assembly / a["properties"]["templateFile"]
            for name, a in manifest["artifacts"].items()
            if a["type"] == "aws:cloudformation:stack"}


def cdk_diff(head: Path, stack: str, base_template: Path, *extra: str) -> tuple[str, int]:
    """The CLI's diff text and exit code (1: a difference of the kind ``--fail-on`` names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "CDK_DISABLE_CLI_TELEMETRY": "true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run(
        ["npx", "--no-install", "cdk", "diff", "--no-notices", "--exclusively", "--app",
         str(head), "--template", str(base_template), *extra, stack],
        capture_output=True, text=True, env=env, check=False)
    out = ANSI.sub("", proc.stdout + proc.stderr)
    lines = [ln for ln in out.splitlines() if not ln.startswith("npm warn")]
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"cdk diff failed for {stack}:\n" + "\n".join(lines))
    return "\n".join(lines).strip(), proc.returncode


def diff_stack(config: str, head: Path, stack: str, base_template: Path) -> StackDiff:
    text, destructive = cdk_diff(head, stack, base_template, "--fail-on", "destructive")
    if any(marker in text for marker in UNCHANGED):
        return StackDiff(config, stack, "unchanged")
    security, broadening = cdk_diff(head, stack, base_template, "--security-only",
                                    "--fail-on", "broadening")
    return StackDiff(config, stack, "changed", text, destructive == 1, broadening == 1,
                     security)


def diff_all(base_dir: Path, head_dir: Path) -> list[StackDiff]:
    out = []
    for head in sorted(p for p in head_dir.iterdir() if (p / "manifest.json").is_file()):
        base_assembly = base_dir / head.name
        base = stacks(base_assembly) if (base_assembly / "manifest.json").is_file() else {}
        now = stacks(head)
        for stack in sorted(set(now) | set(base)):
            if stack not in base:
                out.append(StackDiff(head.name, stack, "new"))
            elif stack not in now:
                out.append(StackDiff(head.name, stack, "removed"))
            else:
                out.append(diff_stack(head.name, head, stack, base[stack]))
    return out


def fence(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text`` (CommonMark 4.5)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def section(d: StackDiff) -> str:
    """One stack's Markdown; a block that leaves the document valid whatever follows."""
    if d.state == "new":
        return f"- `{d.stack}`: **new stack**\n"
    if d.state == "removed":
        return f"- `{d.stack}`: **removed** (CloudFormation deletes it with `cdk destroy`)\n"
    if d.state == "unchanged":
        return f"- `{d.stack}`: no differences\n"
    marks = "".join([" · destructive" if d.destructive else "",
                     " · broadens security" if d.broadening else ""])
    f = fence(d.text)
    return (f"\n<details><summary><code>{d.stack}</code>: changed{marks}</summary>\n\n"
            f"{f}diff\n{d.text}\n{f}\n\n</details>\n\n")


def markdown(diffs: list[StackDiff]) -> str:
    parts = ["## CloudFormation diff (synthesized base vs. this change)\n\n"]
    config = None
    for d in diffs:
        if d.config != config:
            config = d.config
            parts.append(f"\n### config `{config}`\n\n")
        parts.append(section(d))
    changed = sum(d.state != "unchanged" for d in diffs)
    parts.append(f"\n_{changed} stack(s) changed._\n")
    return "".join(parts)


def cli_report(diffs: list[StackDiff]) -> str:
    """The CLI's own judgement, per changed stack, as a GFM table."""
    rows = [d for d in diffs if d.state == "changed"]
    lines = ["### The CDK CLI's judgement (`cdk diff --fail-on destructive`, "
             "`--security-only --fail-on broadening`)", ""]
    if not rows:
        return "\n".join([*lines, "No stack changed.", ""])
    lines += ["| config | stack | destructive | broadens security |", "|---|---|---|---|"]
    lines += [f"| `{d.config}` | `{d.stack}` | {'**yes**' if d.destructive else 'no'} | "
              f"{'**yes**' if d.broadening else 'no'} |" for d in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", type=Path)
    ap.add_argument("head", type=Path)
    ap.add_argument("--cli-report", type=Path, help="write the CLI's judgement table here")
    args = ap.parse_args(argv)
    diffs = diff_all(args.base, args.head)
    sys.stdout.write(markdown(diffs))
    if args.cli_report:
        args.cli_report.write_text(cli_report(diffs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
