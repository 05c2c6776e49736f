"""The package works outside this repository: build the wheel, install it into a fresh
venv, and synthesize the README's "Using the constructs in your own app" snippet in a
folder with no access to the repository. Offline: the wheel is built with the pinned
setuptools already installed, and the venv borrows aws-cdk-lib & co. from this venv's
site-packages through a .pth file (pip installs only the wheel, from the file)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

#: What the snippet needs besides itself: an app, a stack, something to grant to.
PRELUDE = """\
import aws_cdk as cdk
from aws_cdk import aws_iam as iam

app = cdk.App(outdir=OUTDIR)
stack = cdk.Stack(app, "MyLlm")
my_lambda = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
"""
#: The TGI 3.3.6 image the snippet asks for (repository and tag after the registry account).
IMAGE_TAIL = "/huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
EPILOGUE = """\
import llm_constructs
print(json.dumps({"package": llm_constructs.__file__, "sys_path": sys.path}))
app.synth()
"""


def readme_snippet() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Using the constructs in your own app", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the package sources (no build/ in the repo)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for package in ("llm_constructs", "llm_client"):
        shutil.copytree(ROOT / package, src / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--wheel-dir", str(out), str(src)],
                   check=True, cwd=src)
    (built,) = out.glob("llm_constructs-*.whl")
    return built


def test_wheel_holds_the_packages_their_lambda_code_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("llm_constructs/py.typed", "llm_client/py.typed",
                     "llm_constructs/data/dlc_images.json",
                     "llm_constructs/scaling/runtime/handler.py",
                     "llm_constructs/async_runtime/runtime/invoker/handler.py",
                     "llm_constructs/async_runtime/runtime/recorder/handler.py"):
        assert expected in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "config/", "stacks/", "app"))]
    # the runtime folders stay data: no __init__.py is shipped in them
    assert not [n for n in names if "/runtime/" in n and n.endswith("__init__.py")]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: aws-cdk-lib>=2.275.0" in text
    assert "License-Expression: Apache-2.0" in text
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "llm-client = llm_client.__main__:main" in (
        zipfile.ZipFile(wheel).read(entry_points).decode())


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel installed; aws-cdk-lib & co. come from this venv."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], check=True, capture_output=True,
                             text=True).stdout.strip()
    shared = Path(sysconfig.get_paths()["purelib"]).resolve()
    Path(purelib, "shared-deps.pth").write_text(f"{shared}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True)
    return python


def _app_source(outdir: str = "cdk.out") -> str:
    return (f"import json\nimport sys\nOUTDIR = {outdir!r}\n" + PRELUDE + readme_snippet()
            + EPILOGUE)


@pytest.fixture(scope="module")
def outside(installed, tmp_path_factory) -> tuple[dict, Path]:
    """The snippet as a user's app in a folder of its own, run by the fresh venv:
    (where it imported llm_constructs from and its sys.path, its cdk.out)."""
    folder = tmp_path_factory.mktemp("consumer")
    (folder / "my_app.py").write_text(_app_source())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # CDK's own CloudFormation validation (most of a synth's CPU) does not change the template
    env["CDK_VALIDATION"] = "false"
    # -I: neither the script's folder nor PYTHONPATH nor the user's site is on sys.path
    done = subprocess.run([installed, "-I", "my_app.py"], cwd=folder, env=env, check=True,
                          capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1]), folder / "cdk.out"


def test_readme_snippet_synthesizes_from_the_installed_wheel(installed, outside):
    where, out = outside
    assert Path(where["package"]).is_relative_to(installed.parent.parent)
    # the repository is not on the path (only this venv's site-packages, via the .pth)
    shared = Path(sysconfig.get_paths()["purelib"]).resolve()
    on_path = {Path(p).resolve() for p in where["sys_path"] if p}
    assert not [p for p in on_path if p.is_relative_to(ROOT.resolve()) and p != shared]

    template = json.loads((out / "MyLlm.template.json").read_text())
    (model,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    image = model["Properties"]["PrimaryContainer"]["Image"]["Fn::Join"][1]
    assert image[-1] == IMAGE_TAIL
    (function,) = [r for r in template["Resources"].values()  # the guard, not CDK's Provider
                   if r["Type"] == "AWS::Lambda::Function"
                   and r["Properties"]["Handler"] == "handler.handler"]
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    # pip byte-compiled the installed handler; the asset still holds exactly its one file
    assert sorted(p.name for p in (out / f"asset.{asset_hash}").iterdir()) == ["handler.py"]
    installed_runtime = Path(where["package"]).parent / "scaling" / "runtime"
    assert [p.name for p in (installed_runtime / "__pycache__").iterdir()] != []


def test_installed_package_synthesizes_what_the_repository_does(outside, tmp_path, capsys):
    """Same template from the wheel as from the sources, asset hashes included."""
    _, out = outside
    # in this process: the repository's llm_constructs (an absolute outdir: CDK's runtime
    # keeps the working directory it started in)
    exec(compile(_app_source(str(tmp_path / "cdk.out")), "my_app.py", "exec"), {})
    assert json.loads(capsys.readouterr().out)["package"] == str(
        ROOT / "llm_constructs" / "__init__.py")
    assert json.loads((out / "MyLlm.template.json").read_text()) == json.loads(
        (tmp_path / "cdk.out" / "MyLlm.template.json").read_text())


def test_llm_client_console_script(installed):
    done = subprocess.run([installed.parent / "llm-client", "--help"], check=True,
                          capture_output=True, text=True, cwd=installed.parent)
    assert done.stdout.startswith("usage: llm-client ")
