#!/usr/bin/env python3
"""CloudFormation diff of two sets of synthesized assemblies, as Markdown, without AWS
credentials: ``cdk diff --template`` of each head stack against its base template.

    python tools/template_diff.py BASE_DIR HEAD_DIR > diff.md

Both directories hold ``<config>/`` cloud assemblies (``tools/synth_all.py``). Runs the
pinned CDK CLI (``npx --no-install cdk``). New and removed stacks are listed as such.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def stacks(assembly: Path) -> dict[str, Path]:
    manifest = json.loads((assembly / "manifest.json").read_text())
    return {(a["properties"].get("stackName") or name): assembly / a["properties"]["templateFile"]
            for name, a in manifest["artifacts"].items()
            if a["type"] == "aws:cloudformation:stack"}


def cdk_diff(head: Path, stack: str, base_template: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "CDK_DISABLE_CLI_TELEMETRY": "true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run(
        ["npx", "--no-install", "cdk", "diff", "--no-notices", "--exclusively", "--app",
         str(head), "--template", str(base_template), stack],
        capture_output=True, text=True, env=env, check=False)
    out = ANSI.sub("", proc.stdout + proc.stderr)
    lines = [ln for ln in out.splitlines() if not ln.startswith("npm warn")]
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"cdk diff failed for {stack}:\n" + "\n".join(lines))
    return "\n".join(lines).strip()


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    base_dir, head_dir = Path(args[0]), Path(args[1])
    print("## CloudFormation diff (synthesized base vs. this change)\n")
    changed = 0
    for head in sorted(p for p in head_dir.iterdir() if (p / "manifest.json").is_file()):
        base_assembly = base_dir / head.name
        base = stacks(base_assembly) if (base_assembly / "manifest.json").is_file() else {}
        now = stacks(head)
        print(f"### config `{head.name}`\n")
        for stack in sorted(set(now) | set(base)):
            if stack not in base:
                print(f"- `{stack}`: **new stack**")
                changed += 1
            elif stack not in now:
                print(f"- `{stack}`: **removed** (CloudFormation deletes it with `cdk destroy`)")
                changed += 1
            else:
                text = cdk_diff(head, stack, base[stack])
                unchanged = ("There were no differences", "Number of stacks with differences: 0")
                if any(marker in text for marker in unchanged):
                    print(f"- `{stack}`: no differences")
                else:
                    changed += 1
                    print(f"<details><summary><code>{stack}</code>: changed</summary>\n")
                    print("```diff\n" + text + "\n```\n</details>")
        print()
    print(f"_{changed} stack(s) changed._")
    return 0


if __name__ == "__main__":
    sys.exit(main())
