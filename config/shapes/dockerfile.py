"""What a ``build:`` image runs when SageMaker starts it.

SageMaker starts a hosting container as ``docker run <image> serve``. ``serve`` replaces the
image's CMD and is appended to its ENTRYPOINT, so the ENTRYPOINT must be the exec form (a
JSON array): a shell-form ENTRYPOINT runs as ``/bin/sh -c '<command>' serve``, where
``serve`` becomes ``$0`` and the command never sees it (and, not being PID 1, never gets
the SIGTERM SageMaker stops it with: Docker's ENTRYPOINT reference); an image with only a
CMD runs ``serve`` instead of its CMD. Read from the Dockerfile as Docker's parser reads it: parser
directives, comments, line continuations, heredocs, case-insensitive instructions, the
last ENTRYPOINT of the last stage (or of the stage it is built FROM).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

HEREDOC_RE = re.compile(r"<<-?\s*([\"']?)(\w+)\1")
DIRECTIVE_RE = re.compile(r"^#\s*(\w+)\s*=\s*(\S+)\s*$")


@dataclass
class Stage:
    base: str
    name: str | None = None
    entrypoint: str | None = None  # the instruction's arguments, as written
    has_cmd: bool = False


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuations joined, comments dropped."""
    lines = text.splitlines()
    escape, start = _directives(lines)
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[tuple[str, str]] = []
    current: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        i += 1
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if current and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction is dropped
        if continuation.search(line):
            current.append(continuation.sub("", line))
            continue
        current.append(line)
        keyword, _, args = " ".join(current).strip().partition(" ")
        current = []
        out.append((keyword.upper(), args.strip()))
        i = _skip_heredocs(args, lines, i)
    if current:
        keyword, _, args = " ".join(current).strip().partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def _directives(lines: list[str]) -> tuple[str, int]:
    """The escape character, and the first line after the parser directives."""
    escape = "\\"
    for i, line in enumerate(lines):
        match = DIRECTIVE_RE.match(line.strip())
        if not match:
            return escape, i
        if match[1].lower() == "escape":
            escape = match[2]
    return escape, len(lines)


def _skip_heredocs(args: str, lines: list[str], i: int) -> int:
    """The line after the heredoc bodies an instruction opens (``RUN <<EOF``)."""
    for _, word in HEREDOC_RE.findall(args):
        while i < len(lines) and lines[i].strip() != word:
            i += 1
        i += 1
    return i


def stages(text: str) -> list[Stage]:
    out: list[Stage] = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            out.append(Stage(base=words[0] if words else "", name=name))
        elif out and keyword == "ENTRYPOINT":
            out[-1].entrypoint = args
        elif out and keyword == "CMD":
            out[-1].has_cmd = True
    return out


def exec_form(args: str) -> list[str] | None:
    """The argument list of an exec-form instruction; None: shell form (Docker takes
    anything that is not a JSON array of strings as shell form)."""
    try:
        value = json.loads(args)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def final_entrypoint(all_stages: list[Stage]) -> tuple[str | None, bool]:
    """(ENTRYPOINT arguments, whether a CMD is set) of the image built: the last stage's,
    else those of the stage it is built FROM, and so on (None: the external base image's)."""
    has_cmd = False
    by_name = {s.name.lower(): s for s in all_stages if s.name}
    stage: Stage | None = all_stages[-1]
    seen: set[int] = set()
    while stage is not None and id(stage) not in seen:
        seen.add(id(stage))
        has_cmd = has_cmd or stage.has_cmd
        if stage.entrypoint is not None:
            return stage.entrypoint, has_cmd
        stage = by_name.get(stage.base.lower())
    return None, has_cmd


def entrypoint_problem(dockerfile: Path) -> str | None:
    """Why SageMaker's ``serve`` argument would not reach the image's server (None: it
    would, or the base image decides and we cannot see it)."""
    all_stages = stages(dockerfile.read_text(errors="replace"))
    if not all_stages:
        return f"{dockerfile} has no FROM instruction"
    args, has_cmd = final_entrypoint(all_stages)
    run = "SageMaker starts the image as `docker run <image> serve`"
    if args is not None and exec_form(args) is None:
        shown = args if len(args) <= 80 else args[:77] + "..."
        return (f"{dockerfile}: ENTRYPOINT {shown} is the shell form: {run}, and a shell-form "
                "ENTRYPOINT never sees that argument (nor the SIGTERM that stops it); write it "
                'as a JSON array (ENTRYPOINT ["python", "serve.py"]) that accepts `serve`')
    if (args is None or exec_form(args) == []) and has_cmd:
        return (f"{dockerfile} has a CMD but no ENTRYPOINT: {run}, and `serve` replaces the "
                'CMD; make the server the ENTRYPOINT, as a JSON array (ENTRYPOINT ["python", '
                '"serve.py"]) that accepts `serve`')
    return None  # exec form, or the base image's ENTRYPOINT, which we cannot see
