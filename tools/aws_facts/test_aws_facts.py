"""Offline tests of the extraction rules (no network, no mirrors).

    .venv/bin/python -m pytest tools/aws_facts/test_aws_facts.py -q

Each test feeds a small source written the way the engine writes it and asserts what the
tools read from it; the real sources are read by the tools themselves.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/update_images.py

from argparse_ast import Package, ParserReader, options
from engine_options import clap_enum, kebab, run_entrypoint, without
from update_images import backend_versions, format_tag, pytorch_versions


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_vllm_style_dataclass_kwargs(tmp_path):
    write(tmp_path, "pkg/config.py", """
        from typing import Literal
        from dataclasses import dataclass
        ModelDType = Literal["auto", "half", "bfloat16"]
        @dataclass
        class ModelConfig:
            dtype: ModelDType | torch.dtype = "auto"
            trust_remote_code: bool = False
            quantization: Methods | str | None = None
            max_model_len: int = Field(default=None, gt=0)
        Methods = Literal["awq", "fp8"]
    """)
    args = write(tmp_path, "pkg/args.py", """
        from pkg.config import ModelConfig
        class EngineArgs:
            def add_cli_args(parser):
                kw = get_kwargs(ModelConfig)
                group = parser.add_argument_group("m")
                group.add_argument("--dtype", **kw["dtype"])
                group.add_argument("--trust-remote-code", **kw["trust_remote_code"])
                group.add_argument("--quantization", "-q", **kw["quantization"])
                group.add_argument("--max-model-len", **{**kw["max_model_len"], "default": 7})
    """)
    opts, groups = options(args, "EngineArgs.add_cli_args", Package(tmp_path))
    assert opts["--dtype"]["choices"] == ["auto", "half", "bfloat16"]
    assert opts["--dtype"]["default"] == "auto"
    assert opts["--trust-remote-code"]["kind"] == "flag"
    assert opts["--trust-remote-code"]["negatable"] is True
    assert opts["--quantization"]["choices"] == ["awq", "fp8", "None"]
    assert opts["--quantization"]["aliases"] == ["-q"]
    assert opts["--max-model-len"]["default"] == 7
    assert groups == []


def test_a_parser_builder_brings_the_options_of_each_add_cli_args_it_calls(tmp_path):
    """vLLM >= 0.17: ``make_arg_parser`` calls ``FrontendArgs.add_cli_args``, a classmethod
    inherited from ``BaseFrontendArgs`` that reads ``get_kwargs(cls)``; and
    ``AsyncEngineArgs.add_cli_args``, which calls ``EngineArgs.add_cli_args``."""
    write(tmp_path, "pkg/engine.py", """
        @dataclass
        class EngineArgs:
            model: str = "m"
            def add_cli_args(parser):
                parser.add_argument("--model", type=str)
        class AsyncEngineArgs(EngineArgs):
            def add_cli_args(parser):
                parser = EngineArgs.add_cli_args(parser)
                parser.add_argument("--enable-log-requests", action="store_true")
    """)
    cli = write(tmp_path, "pkg/cli_args.py", """
        from pkg.engine import AsyncEngineArgs
        @config
        class BaseFrontendArgs:
            api_key: list[str] | None = None
            enable_auto_tool_choice: bool = False
            @classmethod
            def add_cli_args(cls, parser):
                frontend_kwargs = get_kwargs(cls)
                frontend_kwargs = cls._customize_cli_kwargs(frontend_kwargs)
                for key, value in frontend_kwargs.items():
                    parser.add_argument(f"--{key.replace('_', '-')}", **value)
        @config
        class FrontendArgs(BaseFrontendArgs):
            port: int = 8000
        def make_arg_parser(parser):
            parser.add_argument("--headless", action="store_true")
            parser = FrontendArgs.add_cli_args(parser)
            parser = AsyncEngineArgs.add_cli_args(parser)
    """)
    reader = ParserReader(Package(tmp_path))
    assert reader.read_function(cli, "make_arg_parser")
    assert sorted(reader.options) == ["--api-key", "--enable-auto-tool-choice",
                                      "--enable-log-requests", "--headless", "--model", "--port"]
    assert reader.options["--port"]["source_field"] == "FrontendArgs.port"
    assert reader.options["--api-key"]["nargs"] == "+"
    assert reader.options["--enable-auto-tool-choice"]["kind"] == "flag"
    assert reader.read == ["pkg/cli_args.py:make_arg_parser",
                           "pkg/cli_args.py:BaseFrontendArgs.add_cli_args (of FrontendArgs)",
                           "pkg/engine.py:AsyncEngineArgs.add_cli_args",
                           "pkg/engine.py:EngineArgs.add_cli_args"]
    assert not reader.read_function(cli, "no_such_function")


def test_sglang_style_explicit_and_annotated_options(tmp_path):
    server = write(tmp_path, "srt/server_args.py", """
        CHOICES = ["awq", "gptq"]
        class ServerArgs:
            tp_size: A[int, Arg(help="tp", aliases=["--tensor-parallel-size"])] = 1
            trust_remote_code: A[bool, "custom code"] = False
            hidden: A[int, Arg(help="x", no_cli=True)] = 0
            dtype: str = "auto"
            def add_cli_args(parser):
                add_cli_args_from_dataclass(parser, ServerArgs)
                parser.add_argument("--dtype", type=str, default=ServerArgs.dtype,
                                    choices=["auto", "half"])
                parser.add_argument("--quantization", type=str, choices=CHOICES)
                ex = parser.add_mutually_exclusive_group()
                ex.add_argument("--a", action="store_true")
                ex.add_argument("--b", action="store_true")
    """)
    opts, groups = options(server, "ServerArgs.add_cli_args", Package(tmp_path))
    assert opts["--tp-size"]["aliases"] == ["--tensor-parallel-size"]
    assert opts["--trust-remote-code"] == {**opts["--trust-remote-code"], "kind": "flag",
                                           "action": "store_true"}
    assert "--hidden" not in opts
    assert opts["--dtype"]["default"] == "auto"
    assert opts["--quantization"]["choices"] == ["awq", "gptq"]
    assert groups == [["--a", "--b"]]


def test_clap_value_names_follow_heck_kebab_case():
    assert kebab("BitsandbytesNF4") == "bitsandbytes-nf4"
    assert kebab("BitsandbytesFp4") == "bitsandbytes-fp4"
    assert kebab("CompressedTensors") == "compressed-tensors"
    source = 'enum Dtype {\n    Float16,\n    #[clap(name = "bfloat16")]\n    BFloat16,\n}\n'
    assert clap_enum(source, "Dtype") == ["float16", "bfloat16"]


def test_entrypoint_run_reports_argv_not_echo_output():
    script = textwrap.dedent("""\
        #!/bin/bash
        echo "Starting server"
        ARGS=()
        while IFS='=' read -r key value; do
            name=$(echo "${key#SM_X_}" | tr '[:upper:]' '[:lower:]' | tr '_' '-')
            ARGS+=("--${name}")
            if [ -n "$value" ]; then ARGS+=("$value"); fi
        done < <(env | grep "^SM_X_")
        ARGS+=(--port 8080)
        exec python3 -m server "${ARGS[@]}"
    """)
    argv = run_entrypoint(script, None, {"SM_X_TRUST_REMOTE_CODE": "true"})
    assert argv == ["--trust-remote-code", "true", "--port", "8080"]
    assert without(argv, ["--port", "8080"]) == ["--trust-remote-code", "true"]


def test_tags_are_built_like_the_sdk():
    scope = {"processors": ["gpu"], "versions": {"0.5.20": {
        "container_version": {"gpu": "cu130-ubuntu24.04-sagemaker"}, "py_versions": ["py312"],
        "registries": {"us-west-2": "763104351884"}, "repository": "sglang",
        "tag_prefix": "0.5.20"}}}
    entry = backend_versions(scope, "sglang")["0.5.20"]
    assert entry["tag"] == "0.5.20-gpu-py312-cu130-ubuntu24.04-sagemaker"
    assert entry["registries"] == {"us-west-2": "763104351884"}
    assert format_tag("0.36.0-lmi27.0.0-cu130", None, None, None) == "0.36.0-lmi27.0.0-cu130"
    hf = {"versions": {"4.51.3": {"version_aliases": {}, "pytorch2.6.0": {
        "py_versions": ["py312"], "registries": {"eu-west-1": "763104351884"},
        "repository": "huggingface-pytorch-inference",
        "container_version": {"gpu": "cu124-ubuntu22.04", "cpu": "ubuntu22.04"}}}}}
    tags = pytorch_versions(hf)["4.51.3"]["tag"]
    assert tags == {"gpu": "2.6.0-transformers4.51.3-gpu-py312-cu124-ubuntu22.04",
                    "cpu": "2.6.0-transformers4.51.3-cpu-py312-ubuntu22.04"}


def test_the_report_tables_what_the_config_writes_at_each_version():
    from report import option_rows

    from config.backends import SGLANG, TGI
    from config.backends.tgi import SETTINGS

    rows = option_rows(SGLANG, {"trust_remote_code": ("--trust-remote-code",)})
    assert rows[0].startswith("| SGLang | 0.5.5-0.5.8 | trust_remote_code | "
                              "`SM_SGLANG_TRUST_REMOTE_CODE` -> `--trust-remote-code` | True as")
    assert rows[0].endswith('True as `""` |') and rows[1].endswith('True as `"true"` |')
    rows = option_rows(TGI, {"max_input_tokens": SETTINGS["max_input_tokens"]})
    assert [r.split(" | ")[1:4] for r in rows] == [
        ["0.6.0-1.4.5", "max_input_tokens", "`MAX_INPUT_LENGTH` -> `--max-input-length`"],
        ["2.0.0-3.3.6", "max_input_tokens", "`MAX_INPUT_TOKENS` -> `--max-input-tokens`"]]


def test_defaults_a_probe_replaced_are_not_taken_from_its_tokens():
    baseline = ["--port", "8080", "--model-path", "/opt/ml/model"]
    assert without(["--model-path", "x", "--port", "8080"], baseline) == ["--model-path", "x"]


def test_the_inference_ami_data_says_what_its_sources_say():
    """llm_constructs/data/inference_ami.json against aws/deep-learning-containers (needs
    the mirror the search tool's fetch made; skipped without it)."""
    import json
    import re
    import subprocess

    import pytest

    repo = Path("/work/.mirror/aws+deep-learning-containers/repo")
    if not repo.exists():
        pytest.skip("no aws/deep-learning-containers mirror")
    data = Path(__file__).resolve().parents[2] / "llm_constructs/data/inference_ami.json"
    for rule in json.loads(data.read_text())["by_cuda"]:
        for ref_path in re.findall(r"aws/deep-learning-containers@(\w+:[\w/.-]+)", rule["source"]):
            text = subprocess.run(["git", "--git-dir", str(repo), "show", ref_path],
                                  capture_output=True, text=True, check=True).stdout
            assert rule["ami"] in text or str(rule["needs_nvidia_driver"]) in text, ref_path
