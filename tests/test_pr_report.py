"""Issue 18, item 3: the pull-request report stays valid Markdown and under GitHub's 1 MiB
step-summary limit; a CommonMark parser (markdown-it-py, with GFM tables) reads it."""

from __future__ import annotations

from markdown_it import MarkdownIt

from tools import pr_report
from tools.template_diff import StackDiff, cli_report, fence, markdown

GFM = MarkdownIt("commonmark").enable("table")


def tokens(text: str) -> list:
    return GFM.parse(text)


def changed(stack: str, lines: int = 3, config: str = "dev", **kw) -> StackDiff:
    text = "\n".join(f'[~] AWS::SageMaker::EndpointConfig Config{i} replace ``` x' for i in
                     range(lines))
    return StackDiff(config, stack, "changed", text, **kw)


def test_a_collapsed_diff_leaves_what_follows_it_as_markdown():
    md = markdown([changed("llm-dev-endpoint-chat", destructive=True),
                   StackDiff("dev", "llm-dev-network", "unchanged"),
                   StackDiff("dev", "llm-dev-endpoint-new", "new")])
    toks = tokens(md)
    # the two lines after the <details> block are a real list, not raw HTML
    items = [t.content for t in toks if t.type == "inline" and t.content.startswith("`llm")]
    assert items == ["`llm-dev-network`: no differences", "`llm-dev-endpoint-new`: **new stack**"]
    html = [t.content for t in toks if t.type == "html_block"]
    assert len(html) == 2 and html[0].startswith("<details><summary>")
    assert "destructive" in html[0] and html[1].strip() == "</details>"
    (code,) = [t for t in toks if t.type == "fence"]
    assert code.info == "diff" and code.content.count("\n") == 3  # the diff, whole
    assert "_1 stack(s) changed._" not in md and "_2 stack(s) changed._" in md


def test_the_fence_outlasts_backticks_in_the_diff():
    assert fence("no ticks") == "```"
    assert fence("a ```` b") == "`````"


def test_a_diff_over_one_mebibyte_is_cut_between_stacks_with_a_note_and_link():
    diffs = [changed(f"llm-dev-endpoint-e{i:02d}", lines=2_000) for i in range(30)]
    diff = markdown(diffs)
    assert len(diff.encode()) > 2 * 1024 * 1024  # like a CDK upgrade touching everything
    guard = "### Deploy-risk guard\n\ndeploy-risk guard: 2 stack(s) before, 2 after; 0 findings"
    cli = cli_report(diffs)
    out = pr_report.summary(guard, cli, diff, "https://github.com/o/r/actions/runs/1")
    assert len(out.encode()) <= pr_report.SUMMARY_LIMIT
    assert out.startswith(guard) and cli.strip() in out
    toks = tokens(out)
    opened = sum(t.content.startswith("<details>") for t in toks if t.type == "html_block")
    closed = sum(t.content.strip() == "</details>" for t in toks if t.type == "html_block")
    assert 0 < opened == closed < 30
    shown = [t for t in toks if t.type == "fence"]
    assert len(shown) == opened and all(t.content.count("\n") == 2_000 for t in shown)
    note = next(t.content for t in toks if t.type == "inline" and "cut here" in t.content)
    assert f"{30 - opened} more stack section(s)" in note
    assert "(https://github.com/o/r/actions/runs/1)" in note
    assert out.rstrip().endswith("_30 stack(s) changed._")


def test_a_small_diff_is_kept_whole():
    diff = markdown([changed("llm-dev-endpoint-chat")])
    assert pr_report.capped(diff, 10_000, "x") == diff


def test_the_cli_judgement_is_a_table_and_the_comment_is_short_and_sticky():
    report = cli_report([changed("s1", destructive=True), changed("s2", broadening=True),
                         StackDiff("dev", "s3", "unchanged")])
    toks = tokens(report)
    cells = [t.content for t in toks if t.type == "inline"][1:]
    assert cells[:4] == ["config", "stack", "destructive", "broadens security"]
    assert cells[4:] == ["`dev`", "`s1`", "**yes**", "no", "`dev`", "`s2`", "no", "**yes**"]
    body = pr_report.comment("### Deploy-risk guard\n\n1 finding", report, "https://run")
    assert body.startswith(pr_report.MARKER) and len(body) < 2_000
    many = "### Deploy-risk guard\n\n" + "\n".join(f"- `[iam-broadened] s{i}`" for i in
                                                  range(5_000))
    long = pr_report.comment(many, report, "https://run")
    assert len(long) <= pr_report.COMMENT_LIMIT and "Cut here" in long
    assert long.endswith("[run](https://run).\n")


def test_the_command_appends_to_the_summary_and_writes_the_comment(tmp_path):
    for name, text in {"g.md": "### Deploy-risk guard\n\nok", "c.md": "judgement",
                       "d.md": markdown([changed("s")])}.items():
        (tmp_path / name).write_text(text)
    step = tmp_path / "summary.md"
    step.write_text("earlier step\n")
    assert pr_report.main(["--guard", str(tmp_path / "g.md"), "--cli", str(tmp_path / "c.md"),
                           "--diff", str(tmp_path / "d.md"), "--link", "https://run",
                           "--summary", str(step), "--comment", str(tmp_path / "pc.md")]) == 0
    assert step.read_text().startswith("earlier step\n### Deploy-risk guard")
    assert (tmp_path / "pc.md").read_text().startswith(pr_report.MARKER)


def test_plain_output_is_one_code_block_cut_at_a_line(tmp_path):
    text = "\n".join(f"[~] line {i} ```" for i in range(120_000))  # about 2 MB
    out = pr_report.fenced("cdk diff against the deployed stacks", text, "https://run")
    assert len(out.encode()) <= pr_report.SUMMARY_LIMIT
    toks = tokens(out)
    (code,) = [t for t in toks if t.type == "fence"]
    assert code.content.endswith("```\n") and code.content.count("\n") < 120_000
    assert any("Cut here" in t.content for t in toks if t.type == "inline")
    short = pr_report.fenced("t", "one line", "x")
    assert [t.content for t in tokens(short) if t.type == "fence"] == ["one line\n"]
