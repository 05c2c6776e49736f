"""Issue 14, item 5: config folders stay in the project; a build: image gets `serve`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from config import parse_config
from config.shapes.base import PROJECT_ROOT
from config.shapes.dockerfile import entrypoint_problem
from tests.helpers import DELETE, ROOT, dev_with, problems

EP = "endpoints[0] (chat)"
EXEC = 'FROM python:3.12-slim\nENTRYPOINT ["python", "serve.py"]\n'


def dockerfile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return path


def test_the_shipped_example_passes():
    assert entrypoint_problem(ROOT / "examples" / "text-generation" / "Dockerfile") is None


@pytest.mark.parametrize("text", [
    EXEC,
    'from python:3.12\nentrypoint ["python", "serve.py"]\n',  # instructions in any case
    'FROM python:3.12\nENTRYPOINT ["python", \\\n  # a comment inside\n  "serve.py"]\n',
    'FROM python:3.12\nENTRYPOINT python serve.py\nENTRYPOINT ["python", "serve.py"]\n',
    # the last stage counts; a builder stage's ENTRYPOINT does not
    'FROM python:3.12 AS build\nENTRYPOINT python x.py\nFROM python:3.12-slim\n'
    'ENTRYPOINT ["python", "serve.py"]\nCMD ["--port", "8080"]\n',
    # the last stage inherits its base stage's ENTRYPOINT
    'FROM python:3.12 AS base\nENTRYPOINT ["python", "serve.py"]\nFROM base\nCMD ["x"]\n',
    # an image extended without ENTRYPOINT or CMD keeps its base image's
    'FROM 763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:x\n'
    'ENV HF_MODEL_ID=/opt/ml/model\n',
    # a heredoc body is not an instruction
    'FROM python:3.12\nENTRYPOINT ["python", "serve.py"]\n'
    'RUN <<EOF\necho hi\nENTRYPOINT python x.py\nEOF\nRUN <<-"END" cat\n\tCMD x\n\tEND\n',
    # a parser directive changes the line continuation
    '# escape=`\nFROM python:3.12\nENTRYPOINT ["python", `\n  "serve.py"]\n',
])
def test_an_exec_form_entrypoint_passes(tmp_path, text):
    assert entrypoint_problem(dockerfile(tmp_path, text)) is None


@pytest.mark.parametrize("text,fragment", [
    ("FROM python:3.12\nENTRYPOINT python serve.py\n", "ENTRYPOINT python serve.py is the "
                                                       "shell form"),
    ("FROM python:3.12\nentrypoint exec python \\\n  serve.py\n", "is the shell form"),
    ("FROM python:3.12\nENTRYPOINT ['python', 'serve.py']\n", "is the shell form"),  # not JSON
    ('FROM python:3.12\nENTRYPOINT ["python", "serve.py"]\nENTRYPOINT python serve.py\n',
     "is the shell form"),
    ('FROM python:3.12 AS build\nENTRYPOINT ["python", "x.py"]\nFROM python:3.12-slim\n'
     "ENTRYPOINT python serve.py\n", "is the shell form"),
    ('FROM python:3.12 AS base\nENTRYPOINT python serve.py\nFROM base\n', "is the shell form"),
    ('FROM python:3.12\nCMD ["python", "serve.py"]\n', "has a CMD but no ENTRYPOINT"),
    ('FROM python:3.12\nENTRYPOINT []\nCMD ["python", "serve.py"]\n', "has a CMD but no "
                                                                     "ENTRYPOINT"),
])
def test_an_entrypoint_that_never_sees_serve_is_refused(tmp_path, text, fragment):
    problem = entrypoint_problem(dockerfile(tmp_path, text))
    assert problem is not None and fragment in problem
    assert "docker run <image> serve" in problem and "\n" not in problem


# -- through the config ------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder of its own (the config resolves paths against it)."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.setattr("config.shapes.base.PROJECT_ROOT", root)
    return root


def built(folder: str) -> dict:
    return dev_with(**{"endpoints.0.image": {"build": folder}, "endpoints.0.tgi_settings": DELETE})


def test_a_shell_form_build_is_one_line_naming_the_field(project):
    (project / "img").mkdir()
    (project / "img" / "Dockerfile").write_text("FROM python:3.12\nENTRYPOINT python s.py\n")
    msg = problems(built("img"))[f"{EP}.image.build"]
    assert "ENTRYPOINT python s.py is the shell form" in msg
    (project / "img" / "Dockerfile").write_text(EXEC)
    assert parse_config(built("img"))


def test_a_build_folder_outside_the_project_is_refused(project, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "Dockerfile").write_text(EXEC)
    for given in (str(outside), "../elsewhere"):
        msg = problems(built(given))[f"{EP}.image.build"]
        # long paths are cut in messages (config.show), so compare the parts
        assert msg.startswith(repr(given)[:40]) and " resolves to " in msg
        assert ", outside the project folder " in msg
        assert msg.endswith("; synth copies the folder into cdk.out and deploy uploads it: "
                            "keep it inside")


def test_a_symlink_is_followed_before_the_check(project, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "Dockerfile").write_text(EXEC)
    (project / "link").symlink_to(outside)
    assert f"resolves to {outside}, outside" in problems(built("link"))[f"{EP}.image.build"]
    (project / "real").mkdir()
    (project / "real" / "Dockerfile").write_text(EXEC)
    (project / "inside").symlink_to(project / "real")
    assert parse_config(built("inside"))


def test_a_code_folder_outside_the_project_is_refused(project):
    # A short path: the message shortens a value over 80 characters (tmp_path can be longer).
    code = Path(tempfile.mkdtemp(prefix="code-")) / "handler"
    code.mkdir()
    (code / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    data = dev_with(**{"endpoints.0.image": {"pytorch": "4.51.3", "code": str(code)},
                       "endpoints.0.tgi_settings": DELETE})
    msg = problems(data)[f"{EP}.image.code"]
    assert msg.startswith(f"{str(code)!r} resolves to {code}, outside the project folder "
                          f"{project}")


def test_the_real_project_root_is_the_repository():
    assert ROOT.resolve() == PROJECT_ROOT
