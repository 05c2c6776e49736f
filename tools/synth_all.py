#!/usr/bin/env python3
"""Synthesize every config of a source tree, one cloud assembly per config.

    python tools/synth_all.py [--root TREE] --out DIR

``TREE`` (default: this checkout) is a checkout of the app, e.g. a ``git worktree`` of
the pull request's base; its own ``app.py`` builds the stacks. Writes ``DIR/<config>/``.
cdk-nag is left out (the templates are compared, not judged). No AWS credentials needed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    root, out = args.root.resolve(), args.out.resolve()
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    sys.path.insert(0, str(root))
    os.chdir(root)
    import app  # the tree's own entry point

    shutil.rmtree(out, ignore_errors=True)
    names = sorted(p.stem for p in (root / "config").glob("*.yaml"))
    for name in names:
        try:
            built = app.build_app(name, outdir=str(out / name), nag=False)
        except TypeError:  # an older app without the nag switch
            built = app.build_app(name, outdir=str(out / name))
        built.synth()
        print(f"synthesized {name} -> {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
