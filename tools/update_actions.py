#!/usr/bin/env python3
"""Write tools/data/github_actions.json: the GitHub Actions our workflows use, each at one
release tag, with the commit it pins and the inputs its own ``action.yml`` declares.

    python tools/update_actions.py MIRRORS_DIR [--check]

``MIRRORS_DIR`` holds a bare git clone per action, named ``<owner>+<name>/repo`` (as the
search tool's fetch writes them; ``git clone --bare https://github.com/<owner>/<name>
<owner>+<name>/repo`` gives the same). For each action already in the data file, the tag is
kept and everything else is read again from the repository at that tag: the commit
(annotated tags peeled), ``runs.using`` and every input (required, deprecated). Bump an
action by editing its tag in the file and running this. ``--check`` compares instead of
writing (exit 1 on a difference). tests/test_workflow.py checks each workflow's ``uses:``
and ``with:`` against the file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data" / "github_actions.json"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], check=True,
                          capture_output=True, text=True).stdout


def read_action(repo: Path, tag: str) -> dict[str, Any]:
    """The pinned facts of one action at ``tag``, from its own repository."""
    sha = git(repo, "rev-parse", f"{tag}^{{commit}}").strip()
    name = "action.yml" if "action.yml" in git(repo, "ls-tree", "--name-only", sha) \
        else "action.yaml"
    meta = yaml.safe_load(git(repo, "show", f"{sha}:{name}"))
    inputs = {key: {"required": bool((spec or {}).get("required", False)),
                    "deprecated": (spec or {}).get("deprecationMessage")}
              for key, spec in (meta.get("inputs") or {}).items()}
    return {"tag": tag, "sha": sha, "using": meta["runs"]["using"], "inputs": inputs}


def regenerate(mirrors: Path, current: dict[str, Any]) -> dict[str, Any]:
    actions = {}
    for action, facts in sorted(current["actions"].items()):
        repo = mirrors / action.replace("/", "+") / "repo"
        actions[action] = read_action(repo, facts["tag"])
    return {"_source": current["_source"], "actions": actions}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mirrors", type=Path)
    ap.add_argument("--check", action="store_true", help="compare, do not write")
    args = ap.parse_args(argv)
    current = json.loads(DATA.read_text())
    fresh = regenerate(args.mirrors, current)
    if args.check:
        same = fresh == current
        print("tools/data/github_actions.json " + ("matches" if same else "DIFFERS from")
              + f" the repositories in {args.mirrors}")
        return 0 if same else 1
    DATA.write_text(json.dumps(fresh, indent=1, sort_keys=True) + "\n")
    print(f"wrote {DATA} ({len(fresh['actions'])} actions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
