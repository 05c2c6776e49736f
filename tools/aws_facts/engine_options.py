#!/usr/bin/env python3
"""Extract each engine's options, per version, from the engine's own argument parser, and
the rules by which AWS's container entrypoints turn environment variables into flags.

    python tools/aws_facts/engine_options.py [--cache DIR] [--out FILE]   # extract, then fold
    python tools/aws_facts/engine_options.py --data-only                    # fold only (1 s)

``--out`` (tools/aws_facts/out/engine_options.json) is the full extraction; the project's
data file ``config/data/engine_options.json`` is folded from it (``write_data``: only what
the config's checks read, each option once per engine with the versions where it changes),
and a test fails when the two disagree.

Versions: every version the generated image table (out/dlc_images.generated.json) offers,
plus those llm_constructs/data/dlc_images.json offers today.

* vLLM, SGLang: ``pip download --no-deps <engine>==<version>`` (the wheel is unpacked into
  the cache, Python files only, and deleted); the parser is read by ``argparse_ast`` without
  importing the engine (that needs torch and CUDA).
* TGI: the launcher's clap ``struct Args`` in ``launcher/src/main.rs`` and
  ``sagemaker-entrypoint.sh``, at tag ``v<version>`` of huggingface/text-generation-inference.
* LMI: the pydantic property models of djl-serving (``properties_manager/properties.py``
  and ``vllm_rb_properties.py``) at tag ``v<version>``, where the repository has the tag.
* Entrypoints: aws/deep-learning-containers' SageMaker entrypoint of the vLLM and SGLang
  images, at the release tag or the "[Auto-Update]" commit of each version, is *run* under
  bash with probe variables (every variable ``config/backends`` writes, booleans spelled
  several ways; ``exec`` replaced by writing its argv), so the recorded rules are what the
  script does, not what its comments say.
* TGI's router (``text-generation-router``: ``router/``, ``backends/v3/`` from 2.3): its
  clap options that read a variable (``MESSAGES_API_ENABLED``), which the launcher passes on.

Git repositories are read from local mirrors (``--tgi-repo``, ``--dlc-repo``, ``--djl-repo``).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from argparse_ast import Package, hint_parts, options, type_hints, value_of

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
MIRRORS = Path("/work/.mirror")
OUT = HERE / "out" / "engine_options.json"


# --- versions ---------------------------------------------------------------------------

def versions_offered() -> dict[str, list[str]]:
    """Engine -> versions: the generated table's and today's table's, oldest first."""
    generated = json.loads((HERE / "out" / "dlc_images.generated.json").read_text())
    today = json.loads((PROJECT / "llm_constructs" / "data" / "dlc_images.json").read_text())
    engines = {"vllm": ["vllm", "hf_vllm"], "sglang": ["sglang", "hf_sglang"],
               "tgi": ["tgi"], "lmi": ["lmi"]}
    out = {}
    for engine, kinds in engines.items():
        found = {v for table in (generated, today) for kind in kinds
                 for v in table.get(kind, {}).get("versions", {})}
        out[engine] = sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")))
    return out


# --- vLLM and SGLang: the wheel's source ------------------------------------------------

def unpacked(package: str, version: str, cache: Path) -> Path:
    """``cache/<package>-<version>/``: the wheel's Python files."""
    target = cache / f"{package}-{version}"
    if target.is_dir():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        f"{package}=={version}", "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(partial, [n for n in zf.namelist()
                                    if n.startswith(f"{package}/") and n.endswith(".py")])
        partial.rename(target)
    return target


#: Where each engine's server parser is declared: (file, function), in the order added.
PARSERS = {
    "vllm": [("vllm/entrypoints/openai/cli_args.py", "FrontendArgs.add_cli_args"),
             ("vllm/entrypoints/openai/cli_args.py", "make_arg_parser"),
             ("vllm/entrypoints/launchers/cli_args.py", "FrontendArgs.add_cli_args"),
             ("vllm/entrypoints/launchers/cli_args.py", "make_arg_parser"),
             ("vllm/engine/arg_utils.py", "EngineArgs.add_cli_args"),
             ("vllm/engine/arg_utils.py", "AsyncEngineArgs.add_cli_args")],
    "sglang": [("sglang/srt/server_args.py", "ServerArgs.add_cli_args")],
}


def python_engine(engine: str, version: str, cache: Path) -> dict:
    root = unpacked(engine, version, cache)
    pkg = Package(root)
    found, groups, read = {}, [], []
    for rel, function in PARSERS[engine]:
        if not (root / rel).exists():
            continue
        try:
            opts, excl = options(root / rel, function, pkg)
        except StopIteration:  # the function is not in this version
            continue
        found.update(opts)
        groups += excl
        read.append(f"{rel}:{function}")
    return {"source": f"{engine}=={version} (PyPI wheel): " + ", ".join(read),
            "options": dict(sorted(found.items())), "mutually_exclusive": groups}


# --- TGI: the launcher's clap arguments ---------------------------------------------------

def git_show(repo: Path, ref: str, path: str) -> str | None:
    done = subprocess.run(["git", "-C", str(repo), "show", f"{ref}:{path}"],
                          capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def clap_attributes(text: str) -> dict[str, str | bool]:
    """``long, env, default_value = "128", value_enum`` -> {key: value or True}."""
    out: dict[str, str | bool] = {}
    for part in re.findall(r'(\w+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,]+))?', text):
        key, value = part
        out[key] = value.strip().strip('"') if value else True
    return out


def kebab(variant: str) -> str:
    """clap's ValueEnum name for a variant (heck's kebab case): a word starts at an upper-case
    letter after a lower-case letter or digit, or before an upper+lower pair:
    ``BitsandbytesNF4`` -> ``bitsandbytes-nf4``, ``CompressedTensors`` -> ``compressed-tensors``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", variant).lower()


def clap_enum(source: str, name: str) -> list[str] | None:
    """The values clap accepts for ``enum name``: each variant in kebab-case unless
    ``#[clap(name = "...")]``/``#[value(name = "...")]`` renames it."""
    match = re.search(rf"enum {name}\s*\{{(.*?)\n\}}", source, re.S)
    if not match:
        return None
    values, rename = [], None
    for line in match.group(1).splitlines():
        line = line.strip()
        if line.startswith("#[") and "name" in line:
            rename = re.search(r'name\s*=\s*"([^"]+)"', line).group(1)
        elif re.match(r"^[A-Z]\w*\s*[,({]?", line) and not line.startswith("//"):
            variant = re.match(r"^([A-Z]\w*)", line).group(1)
            values.append(rename or kebab(variant))
            rename = None
    return values


def clap_args(source: str) -> dict:
    """Option -> spec of each field of a clap ``struct Args``."""
    body = re.search(r"struct Args\s*\{(.*?)\n\}", source, re.S).group(1)
    opts, attrs = {}, {}
    for chunk in re.split(r"\n(?=\s*(?:#\[|///|\w+:))", body):
        chunk = chunk.strip()
        if chunk.startswith(("#[clap(", "#[arg(")):
            attrs.update(clap_attributes(re.search(r"\((.*)\)\]", chunk, re.S).group(1)))
            continue
        field = re.match(r"(\w+):\s*(.+?),?$", chunk)
        if not field or chunk.startswith("///"):
            continue
        name, rust_type = field.groups()
        inner = re.sub(r"^Option<(.+)>$", r"\1", rust_type)
        spec: dict = {"env": name.upper() if attrs.get("env") is True else attrs.get("env"),
                      "rust_type": rust_type,
                      "kind": "flag" if rust_type == "bool" else "value",
                      "default": attrs.get("default_value", attrs.get("default_value_t"))}
        if rust_type == "bool":  # not in TGI's source: clap's rule, hence the note
            spec["env_values"] = ["true", "false"]
            spec["env_values_note"] = ("clap 4 ArgAction::SetTrue parses its env variable with "
                                       "its default value parser, ValueParser::bool()")
        if attrs.get("value_enum"):
            spec["choices"] = clap_enum(source, inner)
        for key in ("conflicts_with", "requires", "group"):
            if key in attrs:
                spec[key] = attrs[key]
        opts["--" + name.replace("_", "-")] = spec
        attrs = {}
    return opts


def tgi_launcher(version: str, repo: Path) -> dict | None:
    ref, path = f"v{version}", "launcher/src/main.rs"
    source = git_show(repo, ref, path)
    if source is None:
        return None
    opts = clap_args(source)
    checks = re.findall(r'ArgumentValidation\(\s*(?:format!\(\s*)?"((?:[^"\\]|\\.)*)"', source)
    cargo = git_show(repo, ref, "launcher/Cargo.toml") or ""
    clap = re.search(r'clap = (?:\{ version = )?"([^"]+)"', cargo)
    return {"source": f"huggingface/text-generation-inference@{ref}:{path} (struct Args)",
            "clap": clap.group(1) if clap else None,
            "options": dict(sorted(opts.items())),
            "router": tgi_router(ref, repo),
            "start_up_checks": checks,
            "mutually_exclusive": [[o, "--" + s["conflicts_with"].replace("_", "-")]
                                   for o, s in opts.items() if "conflicts_with" in s]}


#: Where the ``text-generation-router`` binary's ``main.rs`` is (the crate moved in 2.3).
ROUTER_CRATES = ["router", "backends/v3"]


def tgi_router(ref: str, repo: Path) -> dict | None:
    """The router's clap options that read a variable: the launcher starts the router with
    its own environment, so a variable such as ``MESSAGES_API_ENABLED`` reaches it."""
    for crate in ROUTER_CRATES:
        cargo = git_show(repo, ref, f"{crate}/Cargo.toml") or ""
        source = git_show(repo, ref, f"{crate}/src/main.rs")
        if source is None or "struct Args" not in source:
            continue
        if crate != "router" and 'name = "text-generation-router"' not in cargo:
            continue
        opts = {o: s for o, s in clap_args(source).items() if s["env"]}
        return {"source": f"huggingface/text-generation-inference@{ref}:{crate}/src/main.rs "
                          "(struct Args, options with clap `env`)",
                "options": dict(sorted(opts.items()))}
    return None


def tgi_entrypoint(version: str, repo: Path) -> dict | None:
    ref, path = f"v{version}", "sagemaker-entrypoint.sh"
    script = git_show(repo, ref, path)
    if script is None:
        return None
    renames = dict(re.findall(r'export (\w+)="\$\{(\w+)\}"', script))
    return {"source": f"huggingface/text-generation-inference@{ref}:{path}",
            "renames": {sm: launcher for launcher, sm in renames.items()},
            "other_variables": "read by the launcher itself (clap `env`: the option's name in "
                               "upper case)",
            "requires": re.findall(r'-z "\$\{(\w+)\}"', script)}


# --- LMI: djl-serving's property models --------------------------------------------------

LMI_FILES = ["engines/python/setup/djl_python/properties_manager/properties.py",
             "engines/python/setup/djl_python/properties_manager/vllm_rb_properties.py"]


DTYPE_MAPPER_FILE = "engines/python/setup/djl_python/rolling_batch/rolling_batch_vllm_utils.py"


def pydantic_fields(cls: ast.ClassDef, pkg: Package) -> dict:
    """Property -> spec of each field of a djl-serving pydantic model."""
    return {node.target.id: pydantic_field(node, pkg) for node in cls.body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
            and node.target.id != "model_config"}


def pydantic_field(node: ast.AnnAssign, pkg: Package) -> dict:
    """One property: its variable, ``Field(alias=..., default=...)``, choices, booleans."""
    names, literals = hint_parts(type_hints(node.annotation, pkg))
    spec: dict = {"type_hint": ast.unparse(node.annotation),
                  "env": "OPTION_" + node.target.id.upper(), "kind": "value"}
    value = node.value
    if isinstance(value, ast.Call) and ast.unparse(value.func) == "Field":
        kws = {k.arg: k.value for k in value.keywords}
        if "alias" in kws:
            spec["alias"] = value_of(kws["alias"], pkg)
        value = kws.get("default")
    spec["default"] = value_of(value, pkg) if value is not None else None
    choices = literals or enum_values(names, pkg)
    if choices is not None:
        spec["choices"] = choices
    if "bool" in names:
        spec["accepts"] = "true/false (pydantic bool)"
    return spec


def enum_values(names: set[str], pkg: Package) -> list | None:
    """The member values of the first of ``names`` that is an ``Enum`` class."""
    enum = next((pkg.find_class(n) for n in names if pkg.find_class(n)), None)
    if enum is None or not any("Enum" in ast.unparse(b) for b in enum.bases):
        return None
    return [value_of(a.value, pkg) for a in enum.body if isinstance(a, ast.Assign)]


def lmi_ref(version: str, tag: str | None, repo: Path) -> str | None:
    """djl-serving's DLC release branch of an LMI image (``0.36.0-lmi27-dlc`` for the tag
    ``0.36.0-lmi27.0.0-cu130``, else ``0.30.0-dlc``), else the release tag ``v0.30.0``."""
    lmi = re.search(r"-(lmi\d+)\.", tag or "")
    candidates = ([f"{version}-{lmi.group(1)}-dlc"] if lmi else []) + [f"{version}-dlc",
                                                                       f"v{version}"]
    for ref in candidates:
        if subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet",
                           ref + "^{commit}"], capture_output=True).returncode == 0:
            return ref
    return None


def lmi_properties(version: str, tag: str | None, repo: Path) -> dict | None:
    ref = lmi_ref(version, tag, repo)
    if ref is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        for path in LMI_FILES:
            text = git_show(repo, ref, path)
            if text is None:
                return None
            (Path(tmp) / Path(path).name).write_text(text)
        mapper = git_show(repo, ref, DTYPE_MAPPER_FILE)  # where older branches keep it
        if mapper is not None:
            (Path(tmp) / "dtype_mapper.py").write_text(mapper)
        pkg = Package(Path(tmp))
        props = {}
        for path, cls in zip(LMI_FILES, ("Properties", "VllmRbProperties"), strict=True):
            pkg.home = Path(tmp) / Path(path).name
            props.update(pydantic_fields(pkg.find_class(cls), pkg))
        dtypes = value_of(pkg.find_assignment("DTYPE_MAPPER"), pkg)
        if isinstance(dtypes, dict) and "dtype" in props:
            props["dtype"]["choices"] = list(dtypes)
            props["dtype"]["choices_from"] = "DTYPE_MAPPER (the names djl-serving maps for vLLM)"
        extra_allowed = "extra='allow'" in (git_show(repo, ref, LMI_FILES[1]) or "")
    return {"source": f"deepjavalibrary/djl-serving@{ref}:" + ", ".join(LMI_FILES),
            "properties": dict(sorted(props.items())),
            "other_properties": "passed on to vLLM's engine arguments (model_config "
                                "extra='allow')" if extra_allowed else "rejected"}


# --- AWS DLC entrypoints (vLLM, SGLang): run them ----------------------------------------

ENTRYPOINTS = {  # image kind -> (tag/commit naming, candidate paths, newest first)
    "vllm": ["scripts/docker/vllm/sagemaker_entrypoint.sh", "scripts/vllm/sagemaker_entrypoint.sh",
             "vllm/build_artifacts/sagemaker_entrypoint.sh"],
    "sglang": ["scripts/docker/sglang/sagemaker_entrypoint.sh",
               "scripts/sglang/sagemaker_entrypoint.sh",
               "sglang/build_artifacts/sagemaker_entrypoint.sh"],
}
ARGS_HELPER = "scripts/docker/vllm/sagemaker_args.py"


def dlc_ref(repo: Path, kind: str, version: str) -> tuple[str, str]:
    """(ref, how it was found) of the newest build of ``kind`` ``version`` in the repo."""
    tags = subprocess.run(["git", "-C", str(repo), "tag", "--list",
                           f"v*-{kind}-sagemaker-{version}-gpu-*"],
                          capture_output=True, text=True).stdout.split()
    if tags:
        newest = max(tags, key=lambda t: [int(x) for x in t[1:].split("-")[0].split(".")])
        return newest, "release tag"
    log = subprocess.run(["git", "-C", str(repo), "log", "--format=%h", "--fixed-strings",
                          f"--grep=[Auto-Update] {kind} {version} ", "--all"],
                         capture_output=True, text=True).stdout.split()
    if log:
        return log[-1], "the [Auto-Update] commit that moved the image to this version"
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    return head, "no tag or update commit in the snapshot: its newest commit (assumed)"


#: Variable (without the prefix) -> the values probed. The names cover what
#: ``config/backends`` emits for either engine; a name the engine lacks is still turned into
#: a flag by the script (the engine would refuse it; the probe only records the script).
PROBES = {"TRUST_REMOTE_CODE": ["true", "True", "TRUE", "false", "False", ""],
          "TENSOR_PARALLEL_SIZE": ["2"], "TP_SIZE": ["2"], "MAX_MODEL_LEN": ["4096"],
          "CONTEXT_LENGTH": ["4096"], "MAX_NUM_SEQS": ["48"], "MAX_RUNNING_REQUESTS": ["48"],
          "QUANTIZATION": ["awq"], "DTYPE": ["float16"], "MODEL": ["Qwen/Qwen2.5-7B-Instruct"],
          "MODEL_PATH": ["Qwen/Qwen2.5-7B-Instruct"], "SOME_LIST": ["[\"a\",\"b\"]"]}


def run_entrypoint(script: str, helper: str | None, env: dict[str, str]) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        if helper is not None:
            (Path(tmp) / "sagemaker_args.py").write_text(helper)
            script = script.replace("/usr/local/bin/sagemaker_args.py", f"{tmp}/sagemaker_args.py")
        # Write the argv instead of starting the server (the scripts echo to stdout too).
        launch = f'printf "%s\\0" "${{ARGS[@]}}" > {tmp}/argv; exit 0'
        script = re.sub(r"^\s*exec .*$", lambda _: launch, script, flags=re.M)
        (Path(tmp) / "entry.sh").write_text(script)
        subprocess.run(["bash", f"{tmp}/entry.sh"], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "HOME": tmp, **env}, timeout=30)
        return (Path(tmp) / "argv").read_text().split("\0")[:-1]


def defaults_of(baseline: list[str]) -> list[list[str]]:
    """``["--port", "8080", "--host", "0.0.0.0"]`` -> ``[["--port", "8080"], ...]``."""
    pairs: list[list[str]] = []
    for token in baseline:
        if token.startswith("--") or not pairs:
            pairs.append([token])
        else:
            pairs[-1].append(token)
    return pairs


def without(argv: list[str], baseline: list[str]) -> list[str]:
    """The probe's own tokens: ``argv`` minus the defaults the script adds before or after
    (each default option with its value, wherever it is; a default the probe replaced is
    not in ``argv``)."""
    rest = list(argv)
    for pair in defaults_of(baseline):
        for i in range(len(rest) - len(pair) + 1):
            if rest[i:i + len(pair)] == pair:
                del rest[i:i + len(pair)]
                break
    return rest


def entrypoint(kind: str, version: str, repo: Path) -> dict | None:
    ref, how = dlc_ref(repo, kind, version)
    path = next((p for p in ENTRYPOINTS[kind] if git_show(repo, ref, p) is not None), None)
    if path is None:
        return None
    script = git_show(repo, ref, path)
    helper = git_show(repo, ref, ARGS_HELPER) if "sagemaker_args.py" in script else None
    prefix = f"SM_{kind.upper()}_"
    baseline = run_entrypoint(script, helper, {})
    argvs, probes = {}, {}
    for name, values in PROBES.items():
        for value in values:
            argv = run_entrypoint(script, helper, {prefix + name: value})
            argvs[f"{prefix}{name}={value}"] = argv
            probes[f"{prefix}{name}={value}"] = without(argv, baseline)
    tp = argvs[f"{prefix}TENSOR_PARALLEL_SIZE=2"]
    rules = {
        "name": f"{prefix}TENSOR_PARALLEL_SIZE -> {probes[f'{prefix}TENSOR_PARALLEL_SIZE=2'][0]}"
                " (prefix dropped, lower case, '_' -> '-')",
        "true": probes[f"{prefix}TRUST_REMOTE_CODE=true"],
        "false": probes[f"{prefix}TRUST_REMOTE_CODE=false"],
        "empty": probes[f"{prefix}TRUST_REMOTE_CODE="],
        "defaults": "before" if tp[:len(baseline)] == baseline else "after",
    }
    return {"source": f"aws/deep-learning-containers@{ref}:{path}"
                      + (f" (+ {ARGS_HELPER})" if helper else ""),
            "ref_found_by": how, "defaults_added": baseline, "probes": probes,
            "argv": argvs, "rules": rules}


# --- LMI: which variable names the model ---------------------------------------------------

#: djl-serving's Java reads ``HF_MODEL_ID`` as the model (``option.model_id``), which
#: ``Properties.set_model_id_or_path`` turns into ``model_id_or_path``.
LMI_MODEL_VARIABLE = "HF_MODEL_ID"


def lmi_entrypoint(version: str, tag: str | None, repo: Path) -> dict | None:
    """Where djl-serving reads ``HF_MODEL_ID`` at this version (the Java source), and the
    ``OPTION_<NAME>`` convention, which is DJL Serving's (``ConfigManager``)."""
    ref = lmi_ref(version, tag, repo)
    if ref is None:
        return None
    def files(needle: str) -> list[str]:
        done = subprocess.run(["git", "-C", str(repo), "grep", "-l", needle, ref, "--",
                               "serving/src/main/java"], capture_output=True, text=True)
        return done.stdout.split()

    found, option = files(f'"{LMI_MODEL_VARIABLE}"'), files('"OPTION_"')
    return {"source": ", ".join(f"deepjavalibrary/djl-serving@{f}" for f in found + option),
            "prefix": "OPTION_" if option else None,
            "renames": {LMI_MODEL_VARIABLE: "model_id_or_path"} if found else {}}


# --- the project's data file: what the config checks need ------------------------------

DATA = PROJECT / "config" / "data" / "engine_options.json"
DATA_ABOUT = (
    "Generated by tools/aws_facts/engine_options.py from its full output (do not edit). Per "
    "engine and version: `source` (the parser read), `options` (name -> kind: flag takes no "
    "value, value takes one; type int/float/bool/str when known; choices; aliases; env: the "
    "variable a TGI option reads), and `entrypoint`: how the image turns variables into "
    "options (`style` prefix: <prefix><NAME>=v -> --<name> [v], with what true/false/empty "
    "give and the argv recorded by running the real script on each probe; clap_env: TGI, "
    "renames then each option's env; djl: LMI, OPTION_<NAME> -> property <name>). "
    "Per engine: `versions` (each version's source, entrypoint, mutually exclusive groups) "
    "and `options` / `router_options`: each option once, as [[first version, spec], ...] "
    "with a new pair where the spec changes and null where the option is gone. "
    "`assumed_from` names the version whose data a version without its own source uses.")


def value_type(spec: dict) -> str | None:
    """int, float, bool or str from whatever the source declared (argparse ``type``, a
    dataclass or pydantic hint, a Rust type); None when unknown."""
    if spec.get("kind") == "flag":
        return None
    hint = " ".join(str(spec.get(k) or "") for k in ("type", "type_hint", "rust_type"))
    words = set(re.findall(r"[A-Za-z_0-9]+", hint))
    if "bool" in words and not words & {"str", "int"}:
        return "bool"
    text = {"str", "String"}
    if words & {"int", "usize", "u32", "u16", "u64", "i32", "i64"} and not words & text:
        return "int"
    if words & {"float", "f32", "f64"} and not words & text:
        return "float"
    return "str" if hint.strip() else None


def compact_option(spec: dict) -> dict:
    out: dict = {"kind": spec.get("kind", "value")}
    kind = value_type(spec)
    if kind is not None:
        out["type"] = kind
    choices = spec.get("choices")
    if isinstance(choices, list) and all(isinstance(c, str) for c in choices):
        out["choices"] = choices  # "<expr ...>" (not evaluated statically) is left out
    for key in ("aliases", "env", "env_values", "alias"):
        if spec.get(key):
            out[key] = spec[key]
    if spec.get("kind") == "flag" and spec.get("negatable"):
        out["negatable"] = True
    return out


def prefix_entrypoint(data: dict, prefix: str) -> dict:
    """The rules of a vLLM/SGLang entrypoint from what running it gave."""
    probes = data["argv"]
    flag = "--trust-remote-code"
    true = probes[f"{prefix}TRUST_REMOTE_CODE=true"]
    listed = data["probes"][f'{prefix}SOME_LIST=["a","b"]']
    return {"style": "prefix", "source": data["source"], "ref_found_by": data["ref_found_by"],
            "prefix": prefix,
            "true": "flag" if flag in true and "true" not in true else "value",
            "false": "drop" if flag not in probes[f"{prefix}TRUST_REMOTE_CODE=false"] else "value",
            "empty": "flag",
            "case_insensitive": probes[f"{prefix}TRUST_REMOTE_CODE=True"] == true
            and "True" not in true,
            "json_list": "split" if listed[1:] == ["a", "b"] else "value",
            "defaults": defaults_of(data["defaults_added"]),
            "defaults_position": data["rules"]["defaults"],
            "probes": probes}


def compact_version(engine: str, version: str, full: dict) -> dict | None:
    data = full[engine][version]
    if data is None:
        return None
    options = data.get("options") or data.get("properties") or {}
    out: dict = {"source": data["source"],
                 "options": {o: compact_option(s) for o, s in options.items()},
                 "mutually_exclusive": data.get("mutually_exclusive", [])}
    entry = full["entrypoints"].get(engine, {}).get(version)
    if engine in ("vllm", "sglang"):
        if entry is None:  # a Hugging Face image's engine: no AWS entrypoint probed
            return None
        out["entrypoint"] = prefix_entrypoint(entry, f"SM_{engine.upper()}_")
    elif engine == "tgi":
        router = data.get("router") or {"source": None, "options": {}}
        out["router_options"] = {o: compact_option(s) for o, s in router["options"].items()}
        out["router_source"] = router["source"]
        out["entrypoint"] = {"style": "clap_env", "source": entry["source"],
                             "renames": entry["renames"], "requires": entry["requires"]}
    else:
        out["entrypoint"] = {"style": "djl", "source": entry["source"] if entry else None,
                             "prefix": "OPTION_",
                             "renames": entry["renames"] if entry else {},
                             "other_properties": "vllm" if "vLLM" in data["other_properties"]
                             else "rejected"}
    return out


def compact(full: dict) -> dict:
    """``full`` (this tool's output) -> the project's data file, every version covered:
    one without a source of its own (LMI 0.38.0: no djl-serving branch yet) is marked
    ``assumed_from`` the newest older version that has one, so the assumption is data."""
    result: dict = {"_about": DATA_ABOUT}
    for engine in ("vllm", "sglang", "tgi", "lmi"):
        versions: dict = {}
        for version in full["versions"][engine]:
            data = compact_version(engine, version, full)
            if data is not None:
                versions[version] = data
            elif engine == "lmi" and versions:
                newest = list(versions)[-1]
                versions[version] = {"assumed_from": newest,
                                     "why": f"no djl-serving branch or tag for {version} in the "
                                            f"repository snapshot; {newest}'s properties assumed"}
        result[engine] = versions
    return result


def folded(versions: dict) -> dict:
    """Per-version data -> ``versions`` (each version's source and entrypoint) and, for
    ``options`` and ``router_options``, each option once: ``[[first version, spec], ...]``,
    a new pair where its spec changes, ``null`` where the option is gone. Versions are in
    order, oldest first; one with ``assumed_from`` has no options of its own."""
    out: dict = {"versions": {}, "options": {}, "router_options": {}}
    for version, entry in versions.items():
        out["versions"][version] = {k: v for k, v in entry.items()
                                    if k not in ("options", "router_options")}
        if "assumed_from" in entry:
            continue
        for key in ("options", "router_options"):
            table = out[key]
            current = entry.get(key, {})
            for name in sorted(set(table) | set(current)):
                spec = current.get(name)
                history = table.setdefault(name, [])
                if (history[-1][1] if history else None) != spec:
                    history.append([version, spec])
    if not out["router_options"]:
        del out["router_options"]
    return out


def write_data(full: dict, path: Path = DATA) -> None:
    """One option (with its history) per line: a diff between runs reads as what changed."""
    data = compact(full)
    lines = ["{", f' "_about": {json.dumps(data["_about"])},']
    engines = [e for e in data if e != "_about"]
    for e_index, engine in enumerate(engines):
        lines.append(f' "{engine}": {{')
        sections = list(folded(data[engine]).items())
        for s_index, (section, table) in enumerate(sections):
            lines.append(f'  "{section}": {{')
            rows = list(table.items())
            for r_index, (name, value) in enumerate(rows):
                sep = "," if r_index < len(rows) - 1 else ""
                lines.append(f"   {json.dumps(name)}: {json.dumps(value)}{sep}")
            lines.append("  }" + ("," if s_index < len(sections) - 1 else ""))
        lines.append(" }" + ("," if e_index < len(engines) - 1 else ""))
    lines.append("}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- main ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/aws_facts_cache"))
    ap.add_argument("--tgi-repo", type=Path,
                    default=MIRRORS / "huggingface+text-generation-inference" / "repo")
    ap.add_argument("--dlc-repo", type=Path,
                    default=MIRRORS / "aws+deep-learning-containers" / "repo")
    ap.add_argument("--djl-repo", type=Path,
                    default=MIRRORS / "deepjavalibrary+djl-serving" / "repo")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--data", type=Path, default=DATA,
                    help="the project's data file (written from the full output)")
    ap.add_argument("--data-only", action="store_true",
                    help="rewrite --data from an existing --out, extracting nothing")
    args = ap.parse_args(argv)
    if args.data_only:
        write_data(json.loads(args.out.read_text()), args.data)
        print(f"wrote {args.data}")
        return 0
    args.cache.mkdir(parents=True, exist_ok=True)
    offered = versions_offered()
    result: dict = {"_about": "Generated by tools/aws_facts/engine_options.py. Per engine and "
                              "version: option -> kind (flag: takes no value; value), choices, "
                              "default, aliases; each entry names its source.",
                    "versions": offered}
    for engine in ("vllm", "sglang"):
        result[engine] = {v: python_engine(engine, v, args.cache) for v in offered[engine]}
    result["tgi"] = {v: tgi_launcher(v, args.tgi_repo) for v in offered["tgi"]}
    generated = json.loads((HERE / "out" / "dlc_images.generated.json").read_text())
    today = json.loads((PROJECT / "llm_constructs" / "data" / "dlc_images.json").read_text())
    lmi_tags = {v: e["tag"] for v, e in generated["lmi"]["versions"].items()}
    result["lmi"] = {v: lmi_properties(v, lmi_tags.get(v), args.djl_repo) for v in offered["lmi"]}
    result["entrypoints"] = {
        "tgi": {v: tgi_entrypoint(v, args.tgi_repo) for v in offered["tgi"]},
        "lmi": {v: lmi_entrypoint(v, lmi_tags.get(v), args.djl_repo) for v in offered["lmi"]},
        **{kind: {v: entrypoint(kind, v, args.dlc_repo) for v in sorted(
            set(generated[kind]["versions"]) | set(today[kind]["versions"]),
            key=lambda v: tuple(int(p) for p in v.split(".")))} for kind in ("vllm", "sglang")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    write_data(json.loads(args.out.read_text()), args.data)
    print(f"wrote {args.out} and {args.data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
