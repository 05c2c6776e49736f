"""The quality gate: ruff (rules in ruff.toml) on every Python file, mypy (mypy.ini) on the
product code, and a complexity ceiling of radon grade C on every block. Each test fails
listing every finding. A tool that is not installed skips its test, naming the tool."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

#: Grade C is complexity 11-20; D starts at 21.
MAX_COMPLEXITY = 20
SKIP_DIRS = {".venv", "node_modules", "cdk.out", ".risk", ".git", "__pycache__"}


def tool(name: str) -> list[str]:
    """The command that runs ``name``: from this interpreter's environment if it is
    installed there (requirements-dev.txt), else from PATH; skip the test if neither."""
    if importlib.util.find_spec(name) is not None:
        return [sys.executable, "-m", name]
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -r requirements-dev.txt)")
    return [found]


def python_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py")
                  if not SKIP_DIRS & set(p.relative_to(ROOT).parts[:-1]))


def test_ruff_finds_nothing():
    proc = subprocess.run([*tool("ruff"), "check", "--output-format", "concise", "."],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_finds_nothing_in_the_product_code():
    """Files and options are in mypy.ini; the cache (.mypy_cache, ignored by git) makes a
    second run take well under a second."""
    command = tool("mypy")
    if command[0] != sys.executable:  # a mypy of its own: check against our packages
        command += ["--python-executable", sys.executable]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _followed_cdk_modules() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "mypy.ini")
    return {module.strip() for section in parser.sections()
            if section.startswith("mypy-") and parser[section].get("follow_imports") == "normal"
            for module in section.removeprefix("mypy-").split(",")}


def _imported_cdk_modules() -> dict[str, str]:
    """aws_cdk modules the product code imports -> a file importing it."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "mypy.ini")
    roots = [ROOT / part.strip() for part in parser["mypy"]["files"].split(",")]
    files = [f for r in roots for f in ([r] if r.is_file() else sorted(r.rglob("*.py")))]
    found: dict[str, str] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aws_cdk"):
                names = [f"{node.module}.{a.name}" for a in node.names
                         if node.module == "aws_cdk" and a.name[:1].islower()]  # modules
                for module in names or [node.module or ""]:
                    found.setdefault(module, str(path.relative_to(ROOT)))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("aws_cdk"):
                        found.setdefault(alias.name, str(path.relative_to(ROOT)))
    return found


def test_mypy_follows_every_aws_cdk_module_the_product_code_imports():
    """mypy.ini skips the aws_cdk modules we do not use (following all ~1,000 costs about
    100 s of CPU); a module we import but mypy skips would be typed Any, unchecked."""
    imported = _imported_cdk_modules()
    assert "aws_cdk.aws_sagemaker" in imported  # the scan sees `from aws_cdk import x`
    missing = {m: f for m, f in imported.items() if m not in _followed_cdk_modules()}
    assert not missing, f"add to mypy.ini's follow_imports = normal section: {missing}"


def test_no_block_is_more_complex_than_grade_c():
    if importlib.util.find_spec("radon") is None:
        pytest.skip("radon is not installed (pip install -r requirements-dev.txt)")
    from radon.complexity import cc_rank, cc_visit

    too_complex = []
    for path in python_files():
        for block in cc_visit(path.read_text(encoding="utf-8")):
            if block.complexity > MAX_COMPLEXITY:
                too_complex.append(f"{path.relative_to(ROOT)}:{block.lineno} {block.fullname} "
                                   f"{cc_rank(block.complexity)} ({block.complexity})")
    assert not too_complex, "\n".join(too_complex)
