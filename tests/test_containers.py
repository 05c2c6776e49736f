"""Issue 4 (part): the Hugging Face PyTorch DLC with a packed handler, and local builds."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from config import parse_config
from llm_constructs.inference_code import build_archive, handler_problems, source_hash
from tests.helpers import (problems, DELETE, ROOT, as_list, changed, config_data, nag_report_ok,
                           one, statements, synthesize, synthesize_data)

HANDLER = ROOT / "examples" / "text-generation" / "code"
DLC = "endpoints[0] (dlc)"
CUSTOM = "endpoints[1] (custom)"


def seeds_with(**changes) -> dict:
    return changed(config_data("seed-containers"), **changes)


def container(template: dict) -> dict:
    _, model = one(template, "AWS::SageMaker::Model")
    return model["Properties"]["PrimaryContainer"]


def image_tail(template: dict) -> str:
    return container(template)["Image"]["Fn::Join"][1][-1]


# -- pytorch: ---------------------------------------------------------------------------------
def test_gpu_instance_gets_the_gpu_build_and_a_packed_handler():
    synth = synthesize("seed-containers")
    t = synth.endpoint("dlc")
    assert image_tail(t) == \
        "/huggingface-pytorch-inference:2.6.0-transformers4.51.3-gpu-py312-cu124-ubuntu22.04"
    c = container(t)
    assert c["Environment"] == {"HF_MODEL_ID": "openai-community/gpt2",
                                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20"}
    url = c["ModelDataUrl"]["Fn::Sub"]
    assert url.startswith("s3://cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}/")
    assert url.endswith(".tar.gz")  # SageMaker documents ModelDataUrl as a .tar.gz
    key = url.rsplit("/", 1)[1]
    # the role reads exactly that object, nothing else in the bootstrap bucket
    (read,) = [s for s in statements(t, "ExecutionRole") if s.get("Sid") == "ReadInferenceCode"]
    assert read["Action"] == "s3:GetObject"
    assert json.dumps(read["Resource"]).endswith(f'/{key}"]]}}')
    # the archive is staged in the assembly and holds the handler as code/inference.py
    manifest = json.loads((synth.outdir / f"{synth_name(synth, 'dlc')}.assets.json").read_text())
    (asset,) = [a for a in manifest["files"].values() if a["source"]["path"].endswith(".tar.gz")]
    assert [d["objectKey"] for d in asset["destinations"].values()] == [key]
    with tarfile.open(synth.outdir / asset["source"]["path"]) as tar:
        assert tar.getnames() == ["code", "code/inference.py"]
        packed = tar.extractfile("code/inference.py").read()
    assert packed == (HANDLER / "inference.py").read_bytes()
    assert nag_report_ok(synth)


def synth_name(synth, endpoint: str) -> str:
    return next(n for n in synth.templates if n.endswith(f"-endpoint-{endpoint}"))


def test_cpu_instance_gets_the_cpu_build_and_gpu_instances_are_sized():
    t = synthesize_data(seeds_with(**{"endpoints.0.instance_type": "ml.m5.xlarge"}),
                        nag=False).endpoint("dlc")
    assert image_tail(t) == \
        "/huggingface-pytorch-inference:2.6.0-transformers4.51.3-cpu-py312-ubuntu22.04"
    msg = problems(seeds_with(**{"endpoints.0.instance_type": "ml.g5.xlarge",
                                 "endpoints.0.model_size": {"parameters_billions": 13,
                                                            "dtype": "bf16"}}))
    assert "smallest instance that fits" in msg[f"{DLC}.instance_type"]
    # a CPU instance has no GPU memory to check
    parse_config(seeds_with(**{"endpoints.0.instance_type": "ml.m5.xlarge",
                               "endpoints.0.model_size": {"parameters_billions": 13}}))


@pytest.mark.parametrize("source,key,value", [
    ("s3://models-bucket/gpt2/model.tar.gz", "ModelDataUrl", "s3://models-bucket/gpt2/model.tar.gz"),
    ("s3://models-bucket/gpt2/", "ModelDataSource",
     {"S3DataSource": {"S3Uri": "s3://models-bucket/gpt2/", "S3DataType": "S3Prefix",
                       "CompressionType": "None"}}),
])
def test_s3_sources_with_the_handler_already_inside(source, key, value):
    data = seeds_with(**{"endpoints.0.source": {"s3": source}, "endpoints.0.image.code": DELETE})
    synth = synthesize_data(data)
    t = synth.endpoint("dlc")
    c = container(t)
    assert c[key] == value
    assert "HF_MODEL_ID" not in c["Environment"]  # the toolkit reads /opt/ml/model
    reads = [s for s in statements(t, "ExecutionRole") if "s3:GetObject" in as_list(s["Action"])]
    tail = ":s3:::models-bucket/gpt2/" + ("model.tar.gz" if key == "ModelDataUrl" else "*")
    assert [r["Resource"] for r in reads] == [
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, tail]]}]
    assert nag_report_ok(synth)


def test_code_with_an_s3_model_says_where_the_handler_goes():
    msg = problems(seeds_with(**{"endpoints.0.source": {"s3": "s3://models-bucket/gpt2/"}}))
    assert "code/inference.py" in msg[f"{DLC}.image.code"]


def test_neither_source_nor_code():
    msg = problems(seeds_with(**{"endpoints.0.source": DELETE, "endpoints.0.image.code": DELETE}))
    assert "image.code" in msg[f"{DLC}.source"]


def test_code_alone_is_the_whole_model_archive():
    t = synthesize_data(seeds_with(**{"endpoints.0.source": DELETE}), nag=False).endpoint("dlc")
    c = container(t)
    assert c["ModelDataUrl"]["Fn::Sub"].endswith(".tar.gz")
    assert "HF_MODEL_ID" not in c["Environment"]


def test_gated_hub_model_token_reaches_the_toolkit_as_a_reference():
    t = synthesize_data(seeds_with(**{"endpoints.0.source": {
        "hub": "meta-llama/Llama-3.1-8B-Instruct", "token_secret": "llm/hf"}}),
        nag=False).endpoint("dlc")
    env = container(t)["Environment"]
    assert env["HF_TOKEN"] == env["HF_API_TOKEN"] == \
        "{{resolve:secretsmanager:llm/hf:SecretString:::}}"


@pytest.mark.parametrize("version", ["2.6.0", "4.99.0"])
def test_unknown_pytorch_version_lists_the_published_ones(version):
    msg = problems(seeds_with(**{"endpoints.0.image.pytorch": version}))[f"{DLC}.image.pytorch"]
    assert f"{version!r}" in msg and "4.51.3 (PyTorch 2.6.0)" in msg and "4.28.1" in msg


@pytest.mark.parametrize("files,fragment", [
    ({}, "has no inference.py"),
    ({"inference.py": "def model_fn(:\n"}, "line 1"),
    ({"inference.py": "import json\n"}, "defines none of model_fn"),
    ({"inference.py": "def transform_fn(m, d, c, a): ...\ndef predict_fn(d, m): ...\n"},
     "transform_fn together with predict_fn"),
])
def test_handlers_the_toolkit_would_refuse_fail_at_synth(tmp_path, files, fragment):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    msg = problems(seeds_with(**{"endpoints.0.image.code": str(tmp_path)}))[f"{DLC}.image.code"]
    assert fragment in msg


def test_code_folder_that_does_not_exist():
    msg = problems(seeds_with(**{"endpoints.0.image.code": "examples/nowhere"}))
    assert "is not a folder" in msg[f"{DLC}.image.code"]
    assert str(ROOT / "examples" / "nowhere") in msg[f"{DLC}.image.code"]


def test_pytorch_takes_no_tgi_settings():
    msg = problems(seeds_with(**{"endpoints.0.tgi_settings": {"max_total_tokens": 10},
                                 "endpoints.0.sm_num_gpus": 1}))
    assert "only for TGI images" in msg[f"{DLC}.tgi_settings"]
    assert "only TGI images" in msg[f"{DLC}.sm_num_gpus"]


# -- the archive ------------------------------------------------------------------------------
def test_archive_is_reproducible_and_skips_caches_and_hidden_files(tmp_path):
    src = tmp_path / "src"
    (src / "lib" / "__pycache__").mkdir(parents=True)
    (src / "inference.py").write_text("def model_fn(d): return d\n")
    (src / "requirements.txt").write_text("accelerate==1.0.0\n")
    (src / "lib" / "util.py").write_text("X = 1\n")
    (src / "lib" / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"\0")
    (src / ".env").write_text("SECRET=1\n")
    a = build_archive(src, tmp_path / "a.tar.gz").read_bytes()
    b = build_archive(src, tmp_path / "b.tar.gz").read_bytes()
    assert a == b  # same files, same bytes: no timestamps, owners or gzip names
    with tarfile.open(fileobj=io.BytesIO(a)) as tar:
        assert tar.getnames() == ["code", "code/lib", "code/inference.py",
                                  "code/lib/util.py", "code/requirements.txt"]
        assert {m.mtime for m in tar.getmembers()} == {0}
        assert {m.uid for m in tar.getmembers()} == {0}
    assert gzip.decompress(a)  # a plain gzip stream
    before = source_hash(src)
    (src / "lib" / "util.py").write_text("X = 2\n")
    assert source_hash(src) != before
    (src / ".env").write_text("SECRET=2\n")
    assert source_hash(src) == source_hash(src)


def test_the_example_handler_is_accepted():
    assert handler_problems(HANDLER) == []


# -- build: -----------------------------------------------------------------------------------
def test_build_is_a_docker_asset_for_linux_amd64_that_synth_does_not_build():
    synth = synthesize("seed-containers")
    t = synth.endpoint("custom")
    image = container(t)["Image"]["Fn::Sub"]
    assert image.startswith("${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/"
                            "cdk-hnb659fds-container-assets-")
    manifest = json.loads((synth.outdir / f"{synth_name(synth, 'custom')}.assets.json").read_text())
    (docker,) = manifest["dockerImages"].values()
    assert docker["source"]["platform"] == "linux/amd64"
    staged = synth.outdir / docker["source"]["directory"]
    assert (staged / "Dockerfile").is_file() and (staged / "code" / "inference.py").is_file()
    assert not (staged / "tests").exists()  # .dockerignore keeps the context small
    destination = next(iter(docker["destinations"].values()))
    assert image.endswith(":" + destination["imageTag"])


def test_build_folder_without_dockerfile():
    msg = problems(seeds_with(**{"endpoints.1.image.build": "examples/text-generation/code"}))
    assert "has no Dockerfile" in msg[f"{CUSTOM}.image.build"]
