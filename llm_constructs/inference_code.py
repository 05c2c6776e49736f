"""A user's ``inference.py`` for the Hugging Face inference toolkit, packed as a model archive.

The Hugging Face PyTorch DLC runs the SageMaker Hugging Face inference toolkit. It imports
``code/inference.py`` from the model directory (``/opt/ml/model``), overriding its default
pipeline with the functions it finds there (``model_fn``, ``input_fn``, ``predict_fn``,
``output_fn``, or ``transform_fn`` alone), and installs ``code/requirements.txt`` first.

``InferenceCode`` packs a local folder as ``code/...`` into a ``model.tar.gz`` at synth time
(deterministic: same files, same bytes, same asset hash) and publishes it as a CDK file
asset; the endpoint's ``ModelDataUrl`` points at it. ``handler_problems`` checks the handler
at synth, so a handler the toolkit would refuse fails here, not 20 minutes into a deploy.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

HANDLER_FILE = "inference.py"
HANDLER_FUNCTIONS = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")
_STEP_FUNCTIONS = ("input_fn", "predict_fn", "output_fn")


def handler_problems(directory: Path) -> list[str]:
    """What the inference toolkit would reject in ``directory``'s handler (empty: none)."""
    path = directory / HANDLER_FILE
    if not path.is_file():
        return [f"{directory} has no {HANDLER_FILE} (the toolkit imports code/{HANDLER_FILE})"]
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        return [f"{path}, line {exc.lineno}: {exc.msg}"]
    except UnicodeDecodeError as exc:
        return [f"{path} is not UTF-8 text ({exc.reason})"]
    defined = {node.name for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    found = [name for name in HANDLER_FUNCTIONS if name in defined]
    if not found:
        return [f"{path} defines none of {', '.join(HANDLER_FUNCTIONS)} at module level, so "
                "the toolkit would serve its default pipeline and ignore the file"]
    if "transform_fn" in found and any(name in found for name in _STEP_FUNCTIONS):
        mixed = ", ".join(name for name in found if name in _STEP_FUNCTIONS)
        return [f"{path} defines transform_fn together with {mixed}; the toolkit refuses to "
                "start with both: keep transform_fn alone, or input_fn/predict_fn/output_fn"]
    return []


def _files(directory: Path) -> list[Path]:
    """The files to pack: all but hidden ones and Python caches, in a stable order."""
    out = []
    for f in sorted(directory.rglob("*")):
        rel = f.relative_to(directory)
        if not f.is_file() or any(part.startswith(".") or part == "__pycache__"
                                  for part in rel.parts) or f.suffix == ".pyc":
            continue
        out.append(f)
    return out


def source_hash(directory: Path) -> str:
    """A hash of the packed files' names and bytes (the asset hash: stable across zlibs)."""
    digest = hashlib.sha256()
    for f in _files(directory):
        digest.update(f.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(f.read_bytes()).digest())
    return digest.hexdigest()


def build_archive(directory: Path, destination: Path) -> Path:
    """Write ``directory``'s files as ``code/<path>`` into a reproducible ``.tar.gz``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        dirs = sorted({p.as_posix() for f in _files(directory)
                       for p in f.relative_to(directory).parents if p != Path(".")})
        for name in ["code"] + [f"code/{d}" for d in dirs]:
            info = _info(name, tarfile.DIRTYPE, 0o755)
            tar.addfile(info)
        for f in _files(directory):
            data = f.read_bytes()
            info = _info(f"code/{f.relative_to(directory).as_posix()}", tarfile.REGTYPE, 0o644)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue())
    return destination


def _info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class InferenceCode(Construct):
    """``directory`` (with ``inference.py``, optionally ``requirements.txt`` and helper
    modules) packed as ``code/`` into a ``model.tar.gz`` file asset.

    The archive is written into the cloud assembly (``cdk.out``) at synth, like any staged
    asset, and uploaded by ``cdk deploy`` to the bootstrap bucket as ``<hash>.tar.gz``.
    (``s3_assets.Asset`` would name it ``<hash>.gz``, aws/aws-cdk#30257; SageMaker documents
    ModelDataUrl as a ``.tar.gz``, so the asset is registered with the synthesizer here.)

    Attributes: ``bucket_name``, ``object_key``, ``s3_uri`` (for ``ModelDataUrl``),
    ``object_arn`` (the one object an execution role must read).
    """

    def __init__(self, scope: Construct, id: str, *, directory: str | Path) -> None:
        super().__init__(scope, id)
        directory = Path(directory).resolve()
        problems = handler_problems(directory)
        if problems:
            raise ValueError("; ".join(problems))
        digest = source_hash(directory)
        file_name = f"asset.{digest}.tar.gz"
        stage = cdk.Stage.of(self)
        if stage is None:
            raise ValueError("InferenceCode writes its archive into the assembly: it must be "
                             "inside an App (or Stage)")
        build_archive(directory, Path(stage.outdir) / file_name)
        location = cdk.Stack.of(self).synthesizer.add_file_asset(
            source_hash=f"{digest}.tar",  # object key: source hash + ".gz" of file_name
            file_name=file_name, packaging=cdk.FileAssetPackaging.FILE)
        self.bucket_name = location.bucket_name
        self.object_key = location.object_key
        self.s3_uri = location.s3_object_url
        self.object_arn = f"arn:{cdk.Aws.PARTITION}:s3:::{self.bucket_name}/{self.object_key}"
