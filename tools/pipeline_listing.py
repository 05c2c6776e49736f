#!/usr/bin/env python3
"""The pipeline's stages and steps as synthesized, read from its template.

    python tools/pipeline_listing.py [cdk.out | cdk.out/llm-pipeline.template.json]

Synthesize first (``make pipeline-synth``, or ``npx cdk synth -c pipeline=pipeline.yaml``).
One line per action, in the order CodePipeline runs them (stage by stage, then by run
order): what it is, where it deploys, with which role, and a CodeBuild step's commands.
The tests read the pipeline through the same functions (``tests/test_pipeline.py``)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The bootstrap roles CDK Pipelines deploys through, named by ``cdk bootstrap``.
BOOTSTRAP_ROLE = re.compile(r":iam::(?P<account>\d{12}):role/cdk-[a-z0-9]+-(?P<kind>[a-z-]+)-role-"
                            r"\d{12}-(?P<region>[a-z0-9-]+)$")


def render(value: Any) -> str:
    """An intrinsic as text: ``{"Ref": "X"}`` -> ``${X}``, joins joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"${{{value['Ref']}}}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"${{{'.'.join(value['Fn::GetAtt'])}}}"
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return str(value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(render(p) for p in parts)
    return json.dumps(value)


@dataclass
class Action:
    stage: str
    name: str
    run_order: int
    provider: str
    details: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    project: str | None = None  #: a CodeBuild action's project (logical ID)

    def line(self) -> str:
        detail = ", ".join(f"{k} {v}" for k, v in self.details.items())
        return f"  {self.run_order}. {self.name} [{self.provider}]" + (f": {detail}" if detail
                                                                       else "")


def pipeline_resource(template: dict) -> dict:
    (pipeline,) = [r["Properties"] for r in template["Resources"].values()
                   if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return pipeline


def project_commands(template: dict, project: Any, assembly: Path | None = None) -> list[str]:
    """The install and build commands of the CodeBuild project an action runs."""
    ref = project.get("Ref") if isinstance(project, dict) else None
    resource = template["Resources"].get(ref or "", {})
    spec = resource.get("Properties", {}).get("Source", {}).get("BuildSpec")
    if spec is None:
        return []
    text = render(spec)
    if not text.lstrip().startswith("{"):  # CDK writes long buildspecs to a file of cdk.out
        if assembly is None or not (assembly / text).is_file():
            return [f"(the commands of {text})"]
        text = (assembly / text).read_text(encoding="utf-8")  # JSON, whatever its suffix
    phases = json.loads(text).get("phases", {})
    return [c for phase in ("install", "pre_build", "build", "post_build")
            for c in phases.get(phase, {}).get("commands", [])]


def _details(action: dict, default_region: str) -> dict[str, str]:
    config = action.get("Configuration", {})
    provider = action["ActionTypeId"]["Provider"]
    if provider == "CodeStarSourceConnection":
        return {"repository": f"{config['FullRepositoryId']}@{config['BranchName']}",
                "output": config.get("OutputArtifactFormat", "CODE_ZIP")}
    if provider == "CloudFormation":
        role = BOOTSTRAP_ROLE.search(render(action.get("RoleArn", "")))
        where = f"{role['account']}/{action.get('Region', default_region)}" if role else "?"
        details = {"stack": config["StackName"], "mode": config["ActionMode"], "in": where,
                   "as": f"{role['kind']}-role" if role else "?"}
        execution = BOOTSTRAP_ROLE.search(render(config.get("RoleArn", "")))
        if execution:
            details["executed by"] = f"{execution['kind']}-role"
        return details
    if provider == "Manual":
        return {"comment": config.get("CustomData", "")}
    return {}


def actions(template: dict, assembly: Path | None = None) -> list[Action]:
    """Every action of the pipeline, stage by stage, in run order; the commands of a buildspec
    CDK wrote to a file are read from ``assembly`` (the cloud assembly folder) when given."""
    pipeline = pipeline_resource(template)
    region = next(s["Region"] for s in pipeline.get("ArtifactStores", [])
                  if isinstance(s["ArtifactStore"].get("Location"), dict))
    out = []
    for stage in pipeline["Stages"]:
        for action in sorted(stage["Actions"], key=lambda a: (a.get("RunOrder", 1), a["Name"])):
            provider = action["ActionTypeId"]["Provider"]
            project = action["Configuration"].get("ProjectName") if provider == "CodeBuild" \
                else None
            out.append(Action(stage["Name"], action["Name"], action.get("RunOrder", 1), provider,
                              _details(action, region),
                              project_commands(template, project, assembly) if project else [],
                              project.get("Ref") if isinstance(project, dict) else None))
    return out


def listing(template: dict, assembly: Path | None = None) -> str:
    lines, stage = [], None
    for action in actions(template, assembly):
        if action.stage != stage:
            stage = action.stage
            lines.append(f"{stage}")
        lines.append(action.line())
        lines += [f"       $ {c}" for c in action.commands]
    return "\n".join(lines)


def template_file(path: Path) -> Path:
    """``path``, or in a cloud assembly folder the template that holds a pipeline."""
    if not path.is_dir():
        return path
    found = [t for t in sorted(path.glob("*.template.json"))
             if '"AWS::CodePipeline::Pipeline"' in t.read_text(encoding="utf-8")]
    if len(found) != 1:
        raise OSError(f"{len(found)} pipeline templates in {path}")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("template", type=Path, nargs="?",
                    default=Path("cdk.out"))
    args = ap.parse_args(argv)
    try:
        path = template_file(args.template)
        print(listing(json.loads(path.read_text(encoding="utf-8")), path.parent))
    except (OSError, ValueError) as exc:
        print(f"error: {args.template}: {exc}; synthesize first: make pipeline-synth",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
