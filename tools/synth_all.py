#!/usr/bin/env python3
"""Synthesize every config of a source tree, one cloud assembly per config.

    python tools/synth_all.py [--root TREE] --out DIR [--pipeline FILE]

``TREE`` (default: this checkout) is a checkout of the app, e.g. a ``git worktree`` of
the pull request's base; its own ``app.py`` builds the stacks. Writes ``DIR/<config>/``.
With ``--pipeline`` (a pipeline file of that tree, e.g. ``pipeline.yaml``) it writes what
that pipeline deploys instead: ``DIR/<stage>-<region>/``, each stage's stacks as placed
there (account, region, zones, overrides), and no config the pipeline does not deploy.
cdk-nag is left out (the templates are compared, not judged). No AWS credentials needed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--pipeline", help="the stages of this pipeline file, not every config")
    ap.add_argument("--stages-of", type=Path,
                    help="with --pipeline: only the stages also in this output (a stage taken "
                         "out of the pipeline keeps its stacks: nothing of it is deleted)")
    args = ap.parse_args(argv)
    root, out = args.root.resolve(), args.out.resolve()
    keep = args.stages_of.resolve() if args.stages_of else None
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    sys.path.insert(0, str(root))
    os.chdir(root)
    import app  # the tree's own entry point

    shutil.rmtree(out, ignore_errors=True)
    if args.pipeline:
        synth_pipeline(app, args.pipeline, out, keep)
        return 0
    names = sorted(p.stem for p in (root / "config").glob("*.yaml"))
    for name in names:
        try:
            built = app.build_app(name, outdir=str(out / name), nag=False)
        except TypeError:  # an older app without the nag switch
            built = app.build_app(name, outdir=str(out / name))
        built.synth()
        print(f"synthesized {name} -> {out / name}")
    return 0


def synth_pipeline(app: Any, pipeline_file: str, out: Path, keep: Path | None) -> None:
    """The pipeline's synth (as its Build step runs it, without cdk-nag), then each stage's
    nested assembly as ``out/<stage id>`` (only those in ``keep``, when given)."""
    with tempfile.TemporaryDirectory(prefix="pipeline-synth-") as tmp:
        application = app.new_app(outdir=tmp, validation=False)
        app.populate_pipeline(application, pipeline_file, nag=False)
        application.synth()
        for stage, folder in stage_assemblies(Path(tmp)).items():
            if keep is not None and not (keep / stage).is_dir():
                print(f"stage {stage} is not in {keep}: not compared")
                continue
            shutil.copytree(folder, out / stage)
            print(f"synthesized stage {stage} of {pipeline_file} -> {out / stage}")


def stage_assemblies(outdir: Path) -> dict[str, Path]:
    """Stage id -> its nested cloud assembly, from a synthesized pipeline's manifest."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {a["properties"]["displayName"].rpartition("/")[2]:
            outdir / a["properties"]["directoryName"]
            for a in manifest["artifacts"].values() if a["type"] == "cdk:cloud-assembly"}


if __name__ == "__main__":
    sys.exit(main())
