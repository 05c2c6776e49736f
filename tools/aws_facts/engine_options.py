#!/usr/bin/env python3
"""Extract each engine's options, per version, from the engine's own argument parser, and
the rules by which AWS's container entrypoints turn environment variables into flags.

    python tools/aws_facts/engine_options.py [--cache DIR] [--out FILE]

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
  bash with a few probe variables (``exec`` replaced by printing its argv), so the recorded
  rules are what the script does, not what its comments say.

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


def tgi_launcher(version: str, repo: Path) -> dict | None:
    ref, path = f"v{version}", "launcher/src/main.rs"
    source = git_show(repo, ref, path)
    if source is None:
        return None
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
    checks = re.findall(r'ArgumentValidation\(\s*(?:format!\(\s*)?"((?:[^"\\]|\\.)*)"', source)
    cargo = git_show(repo, ref, "launcher/Cargo.toml") or ""
    clap = re.search(r'clap = (?:\{ version = )?"([^"]+)"', cargo)
    return {"source": f"huggingface/text-generation-inference@{ref}:{path} (struct Args)",
            "clap": clap.group(1) if clap else None,
            "options": dict(sorted(opts.items())),
            "start_up_checks": checks,
            "mutually_exclusive": [[o, "--" + s["conflicts_with"].replace("_", "-")]
                                   for o, s in opts.items() if "conflicts_with" in s]}


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


PROBES = {"TRUST_REMOTE_CODE": ["true", "True", "false", ""],
          "TENSOR_PARALLEL_SIZE": ["2"], "MAX_MODEL_LEN": ["4096"],
          "SOME_LIST": ["[\"a\",\"b\"]"]}


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


def without(argv: list[str], baseline: list[str]) -> list[str]:
    """The probe's own tokens: ``argv`` minus the defaults the script adds before or after."""
    n = len(baseline)
    if n and argv[:n] == baseline:
        return argv[n:]
    if n and argv[-n:] == baseline:
        return argv[:-n]
    return argv


def entrypoint(kind: str, version: str, repo: Path) -> dict | None:
    ref, how = dlc_ref(repo, kind, version)
    path = next((p for p in ENTRYPOINTS[kind] if git_show(repo, ref, p) is not None), None)
    if path is None:
        return None
    script = git_show(repo, ref, path)
    helper = git_show(repo, ref, ARGS_HELPER) if "sagemaker_args.py" in script else None
    prefix = f"SM_{kind.upper()}_"
    baseline = run_entrypoint(script, helper, {})
    probes = {}
    for name, values in PROBES.items():
        for value in values:
            argv = run_entrypoint(script, helper, {prefix + name: value})
            probes[f"{prefix}{name}={value}"] = without(argv, baseline)
    rules = {
        "name": f"{prefix}TENSOR_PARALLEL_SIZE -> {probes[f'{prefix}TENSOR_PARALLEL_SIZE=2'][0]}"
                " (prefix dropped, lower case, '_' -> '-')",
        "true": probes[f"{prefix}TRUST_REMOTE_CODE=true"],
        "false": probes[f"{prefix}TRUST_REMOTE_CODE=false"],
        "empty": probes[f"{prefix}TRUST_REMOTE_CODE="],
    }
    return {"source": f"aws/deep-learning-containers@{ref}:{path}"
                      + (f" (+ {ARGS_HELPER})" if helper else ""),
            "ref_found_by": how, "defaults_added": baseline, "probes": probes, "rules": rules}


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
    args = ap.parse_args(argv)
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
        **{kind: {v: entrypoint(kind, v, args.dlc_repo) for v in sorted(
            set(generated[kind]["versions"]) | set(today[kind]["versions"]),
            key=lambda v: tuple(int(p) for p in v.split(".")))} for kind in ("vllm", "sglang")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
