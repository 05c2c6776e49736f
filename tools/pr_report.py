#!/usr/bin/env python3
"""The pull-request report: the job summary (capped below GitHub's limit) and a short
sticky comment with the findings.

    python tools/pr_report.py --guard R.md --cli C.md --diff D.md --link URL \
        --summary "$GITHUB_STEP_SUMMARY" --comment comment.md
    python tools/pr_report.py --text OUT.txt --title TITLE --link URL --summary FILE

GitHub refuses a step summary over 1 MiB and the step stays green: the diff silently
disappears (a CDK upgrade that touches every resource gives about 2 MB). So the summary
holds the guard's findings and the CLI's judgement whole, then as many whole stack sections
of the diff as fit in ``--limit`` bytes; the rest is named, with the link to the run's
artifact that holds the whole diff and the templates. Sections are cut only between stacks,
never inside a code fence or a ``<details>`` block, so the Markdown stays valid.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too

from tools.template_diff import fence

#: GitHub's limit for one step's summary is 1 MiB; keep room for what other steps add.
SUMMARY_LIMIT = 900 * 1024
#: The comment names the findings; the job summary has the details.
MARKER = "<!-- llm-sagemaker-deploy-risk -->"
#: Stack sections start with a list item or a <details> block (tools/template_diff.py).
_SECTION = re.compile(r"^(?=- `|<details>|### config )", re.M)


def split_sections(diff: str) -> tuple[str, list[str], str]:
    """(heading, stack sections in order, closing line) of template_diff's Markdown."""
    body, _, closing = diff.rpartition("\n_")
    closing = "_" + closing if closing else ""
    pieces = _SECTION.split(body)
    return pieces[0], pieces[1:], closing


def capped(diff: str, budget: int, link: str) -> str:
    """The diff with whole sections only, within ``budget`` bytes (UTF-8)."""
    if len(diff.encode()) <= budget:
        return diff
    head, sections, closing = split_sections(diff)
    note_room = 600
    kept, used = [head], len(head.encode()) + len(closing.encode()) + note_room
    left_out = []
    for part in sections:
        size = len(part.encode())
        if not left_out and used + size <= budget:
            kept.append(part)
            used += size
        else:
            left_out.append(part)
    names = [m.group(1) for p in left_out for m in [re.search(r"`([^`]+)`", p)] if m
             and not p.startswith("### config")]
    note = (f"\n> **The diff is cut here** to stay under GitHub's 1 MiB summary limit: "
            f"{len(names)} more stack section(s) ({len(diff.encode()) // 1024} KiB in all) "
            f"are in the run's artifact `deploy-risk` with the synthesized templates: "
            f"[download]({link}).\n\n")
    return "".join(kept) + note + closing


def summary(guard: str, cli: str, diff: str, link: str, limit: int = SUMMARY_LIMIT) -> str:
    top = f"{guard.rstrip()}\n\n{cli.rstrip()}\n\n"
    return top + capped(diff, limit - len(top.encode()), link)


#: GitHub refuses a comment body over 65,536 characters (and the step may not fail).
COMMENT_LIMIT = 60_000


def comment(guard: str, cli: str, link: str) -> str:
    """Short: the guard's verdict and findings and the CLI's judgement; details elsewhere.
    Cut at a line to stay under GitHub's comment limit."""
    tail = (f"The full CloudFormation diff is in the job summary and, with the synthesized "
            f"templates, in the run's artifact: [run]({link}).\n")
    body = f"{MARKER}\n{guard.rstrip()}\n\n{cli.rstrip()}\n\n"
    if len(body) + len(tail) > COMMENT_LIMIT:
        body = body[:COMMENT_LIMIT - len(tail) - 200].rsplit("\n", 1)[0]
        body += "\n\n> **Cut here** (GitHub's comment limit): the job summary has it all.\n\n"
    return body + tail


def fenced(title: str, text: str, link: str, limit: int = SUMMARY_LIMIT) -> str:
    """Plain command output as one code block, cut at a line within ``limit`` bytes."""
    note = ""
    data = text.encode()
    if len(data) > limit - 1024:
        cut = data[:limit - 1024].decode(errors="ignore").rsplit("\n", 1)[0]
        note = (f"\n> **Cut here** to stay under GitHub's 1 MiB summary limit "
                f"({len(data) // 1024} KiB in all): the whole output is in the run's "
                f"artifact: [download]({link}).\n")
        text = cut
    f = fence(text)
    return f"## {title}\n\n{f}\n{text}\n{f}\n{note}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--guard", type=Path, help="deploy_risk.py --markdown output")
    ap.add_argument("--cli", type=Path, help="template_diff.py --cli-report")
    ap.add_argument("--diff", type=Path, help="template_diff.py's Markdown")
    ap.add_argument("--text", type=Path, help="instead: plain command output to show")
    ap.add_argument("--title", default="Output", help="the heading for --text")
    ap.add_argument("--link", required=True, help="URL of the run (its artifacts)")
    ap.add_argument("--summary", type=Path, required=True, help="append the summary here")
    ap.add_argument("--comment", type=Path, help="write the comment here")
    ap.add_argument("--limit", type=int, default=SUMMARY_LIMIT, help="summary bytes at most")
    args = ap.parse_args(argv)
    if args.text:
        _append(args.summary, fenced(args.title, args.text.read_text(), args.link, args.limit))
        return 0
    if not (args.guard and args.cli and args.diff and args.comment):
        ap.error("give --guard, --cli, --diff and --comment (or --text)")
    guard, cli = args.guard.read_text(), args.cli.read_text()
    _append(args.summary, summary(guard, cli, args.diff.read_text(), args.link, args.limit))
    args.comment.write_text(comment(guard, cli, args.link))
    return 0


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(text)


if __name__ == "__main__":
    sys.exit(main())
