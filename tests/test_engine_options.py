"""Issue 13, item 2: engine options come from the engines.

Checked against what we did not write: the argv AWS's entrypoint scripts gave when they were
run with probe variables, and the options each engine's own parser declares at each version
(``config/data/engine_options.json``, written by ``tools/aws_facts/engine_options.py``).
Every ``serving`` and ``tgi_settings`` field, with each value a config can give, goes
through every offered version of every backend: the config is refused with an error naming
the field, or every variable it emits reaches an option of that version that takes its value.
Pure Python: no synth.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from config.backends import BACKENDS, LMI, SGLANG, TGI, VLLM, Backend, environment
from config.backends import options as engine_options
from config.backends.record import boolean, refusal
from config.backends.tgi import SETTINGS
from config.rules import model_problems
from config.shapes import Deployment, ModelSpec, Network

DATA: dict[str, Any] = json.loads(engine_options.DATA.read_text(encoding="utf-8"))
HUB = "Qwen/Qwen2.5-7B-Instruct"


def raw(engine: str, version: str) -> dict[str, Any]:
    """The data of one engine version, following ``assumed_from``: its entry, and each
    option's spec as of that version (the last of its [first version, spec] pairs that is
    not newer; an option whose last such spec is null is gone)."""
    table = DATA[engine]
    entry = table["versions"][version]
    if "assumed_from" in entry:
        return raw(engine, entry["assumed_from"])
    order = list(table["versions"])
    out = dict(entry)
    for section in ("options", "router_options"):
        out[section] = {}
        for name, history in table.get(section, {}).items():
            seen = [spec for first, spec in history if order.index(first) <= order.index(version)]
            if seen and seen[-1] is not None:
                out[section][name] = seen[-1]
    return out


def offered() -> list[tuple[Backend, str]]:
    return [(b, v) for b in BACKENDS for v in b.versions()]


def offered_id(case: tuple[Backend, str]) -> str:
    return f"{case[0].key}-{case[1]}"


def test_the_data_file_is_what_the_tool_writes_from_its_full_output(tmp_path):
    """config/data/engine_options.json is generated (tools/aws_facts/engine_options.py
    --data-only folds tools/aws_facts/out/engine_options.json): no hand edits."""
    tools = Path(__file__).resolve().parents[1] / "tools" / "aws_facts"
    sys.path.insert(0, str(tools))
    try:
        spec_ = importlib.util.spec_from_file_location("engine_options_tool",
                                                       tools / "engine_options.py")
        assert spec_ is not None and spec_.loader is not None
        tool = importlib.util.module_from_spec(spec_)
        spec_.loader.exec_module(tool)
    finally:
        sys.path.remove(str(tools))
    full = json.loads((tools / "out" / "engine_options.json").read_text(encoding="utf-8"))
    tool.write_data(full, tmp_path / "engine_options.json")
    assert (tmp_path / "engine_options.json").read_text() == \
        engine_options.DATA.read_text(encoding="utf-8")


# -- (a) the entrypoint emulation agrees with the real scripts ----------------------------------

PROBED = [(e, v, probe) for e in ("vllm", "sglang") for v in DATA[e]["versions"]
          for probe in DATA[e]["versions"][v]["entrypoint"]["probes"]]


@pytest.mark.parametrize("engine,version,probe", PROBED,
                         ids=[f"{e}-{v}-{p}" for e, v, p in PROBED])
def test_the_emulated_entrypoint_gives_the_argv_the_real_script_gave(engine, version, probe):
    variable, value = probe.split("=", 1)
    recorded = DATA[engine]["versions"][version]["entrypoint"]["probes"][probe]
    assert engine_options.engine(engine, version).argv({variable: value}) == recorded


@pytest.mark.parametrize("case", [c for c in offered() if c[0] in (VLLM, SGLANG)],
                         ids=offered_id)
def test_every_variable_we_write_was_probed_in_the_real_script(case):
    """The emulation is only trusted for names the scripts were run with (TGI and LMI read
    variables by name: clap env, OPTION_<NAME>)."""
    backend, version = case
    env = environment(backend, spec(backend, version, serving=ALL_ON), model=HUB,
                      source_variables={})
    probed = {p.split("=", 1)[0] for p in raw(backend.engine_key, version)["entrypoint"]["probes"]}
    assert set(env) <= probed


def test_tgi_renames_lead_to_launcher_options():
    for version in DATA["tgi"]["versions"]:
        data = raw("tgi", version)
        envs = {s.get("env") for s in data["options"].values()}
        renames = data["entrypoint"]["renames"]
        assert {"SM_NUM_GPUS": "NUM_SHARD"}.items() <= renames.items(), version
        assert set(renames.values()) <= envs, version


# -- (b) every field and value through every offered version ------------------------------------

ALL_ON = {"tensor_parallel_degree": 2, "max_model_len": 4096, "max_concurrent_sequences": 48,
          "trust_remote_code": True}
DTYPES = sorted({d for b in BACKENDS for d in b.dtypes})
QUANTIZATIONS = sorted({q for b in BACKENDS for q in b.quantizations})


def serving_cases() -> list[dict[str, Any]]:
    """One serving block per field and value a config can give."""
    cases: list[dict[str, Any]] = [
        {"tensor_parallel_degree": 2}, {"max_model_len": 4096}, {"max_input_tokens": 2048},
        {"max_concurrent_sequences": 48}, {"trust_remote_code": True},
        {"trust_remote_code": False}]
    cases += [{"dtype": d} for d in DTYPES] + [{"quantization": q} for q in QUANTIZATIONS]
    return cases


def settings_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = [
        {"max_input_tokens": 2048}, {"max_total_tokens": 4096},
        {"max_batch_prefill_tokens": 4096}, {"messages_api_enabled": True},
        {"messages_api_enabled": False}]
    return cases + [{"quantize": q} for q in TGI.quantizations]


def spec(backend: Backend, version: str, *, serving: dict | None = None,
         tgi_settings: dict | None = None) -> ModelSpec:
    data = {"name": "m", "instance_type": "ml.g5.12xlarge", "image": {backend.key: version},
            "source": {"hub": HUB}}
    if serving is not None:
        data["serving"] = serving
    if tgi_settings is not None:
        data["tgi_settings"] = tgi_settings
    return ModelSpec.model_validate(data)


def problems_of(model: ModelSpec) -> dict[str, str]:
    return dict(model_problems("m", model, Network(egress="nat"), Deployment()))


# An independent reading of the data: the variable -> what the engine receives, from the
# recorded renames and env names (TGI, LMI) or the emulation checked against the real
# scripts above (vLLM, SGLang); then the option as the engine's parser declares it.

def received(engine: str, version: str, variable: str, value: str) -> list[tuple[str, Any]]:
    data = raw(engine, version)
    entry = data["entrypoint"]
    if entry["style"] == "prefix":
        argv = engine_options.engine(engine, version).argv({variable: value})
        defaults = [t for pair in entry["defaults"] for t in pair]
        own = argv[len(defaults):] if entry["defaults_position"] == "before" \
            else argv[:len(argv) - len(defaults)] if argv[-len(defaults):] == defaults else argv
        return pairs(own)
    if entry["style"] == "clap_env":
        name = entry["renames"].get(variable, variable)
        everything = {**data.get("router_options", {}), **data["options"]}
        hits = [o for o, s in everything.items() if s.get("env") == name]
        return [(hits[0] if hits else f"<no option reads {name}>", value)]
    if variable in entry["renames"]:
        return [(entry["renames"][variable], value)]
    assert variable.startswith("OPTION_"), variable
    return [(variable[len("OPTION_"):].lower(), value)]


def pairs(argv: list[str]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for token in argv:
        if token.startswith("-") or not out or out[-1][1] is not None:
            out.append((token, None))
        else:
            out[-1] = (out[-1][0], token)
    return out


def declared(engine: str, version: str, name: str) -> dict[str, Any] | None:
    data = raw(engine, version)
    everything = {**data.get("router_options", {}), **data["options"]}
    for option, spec_ in everything.items():
        if name == option or name in spec_.get("aliases", ()):
            return spec_
    if engine == "lmi" and data["entrypoint"]["other_properties"] == "vllm":
        return {"kind": "value"}  # handed on to vLLM's engine arguments, unchecked
    return None


def engine_refuses(engine: str, version: str, variable: str, value: str) -> str | None:
    """Why the engine would refuse ``variable=value``, read from the data alone."""
    for name, given in received(engine, version, variable, value):
        option = declared(engine, version, name)
        if option is None:
            return f"{variable}: {name} is no option of {engine} {version}"
        if option["kind"] == "flag":
            if engine == "tgi" and given in option.get("env_values", ()):
                continue
            if given is not None:
                return f"{variable}={value}: {name} takes no value"
            continue
        if given is None:
            return f"{variable}: {name} needs a value"
        if "choices" in option and given not in option["choices"]:
            return f"{variable}={value}: not a {name} choice"
        if option.get("type") == "int" and not given.isdigit():
            return f"{variable}={value}: {name} takes an integer"
        if option.get("type") == "bool" and given.lower() not in ("true", "false"):
            return f"{variable}={value}: {name} takes true/false"
    return None


def exclusive_pairs(engine: str, version: str, env: dict[str, str]) -> list[list[str]]:
    names = {n for k, v in env.items() for n, _ in received(engine, version, k, v)}
    return [group for group in raw(engine, version)["mutually_exclusive"]
            if len(names & set(group)) > 1]


def check(backend: Backend, version: str, model: ModelSpec, paths: list[str]) -> str:
    """"refused" (with a named error at one of ``paths``) or "emitted" (every variable
    accepted by the engine); fails otherwise."""
    found = problems_of(model)
    named = [p for p in found if any(p == f"m.{path}" for path in paths)]
    if named:
        return "refused"
    assert not found, found
    env = environment(backend, model, model=HUB, source_variables={})
    for variable, value in env.items():
        problem = engine_refuses(backend.engine_key, version, variable, value)
        assert problem is None, f"{backend.key} {version}: {problem}"
    assert exclusive_pairs(backend.engine_key, version, env) == []
    return "emitted"


@pytest.mark.parametrize("case", offered(), ids=offered_id)
def test_every_serving_field_and_value_is_refused_by_name_or_accepted(case):
    backend, version = case
    outcomes = {}
    for serving in serving_cases():
        (name, value), = serving.items()
        outcomes[f"{name}={value}"] = check(backend, version, spec(backend, version,
                                                                   serving=serving),
                                            [f"serving.{name}", f"image.{backend.key}"])
    if f"m.image.{backend.key}" in problems_of(spec(backend, version)):
        # the version cannot take the model at all (TGI 0.6.0's entrypoint exports no
        # MODEL_ID): every config on it is refused
        assert set(outcomes.values()) == {"refused"}
        return
    assert outcomes["max_model_len=4096"] == "emitted"  # every backend has a length limit
    # all the fields this version accepts, at once: still accepted, nothing exclusive
    accepted = {k.split("=")[0]: v for s in serving_cases() for k, v in s.items()
                if outcomes[f"{k}={v}"] == "emitted" and v is not False}
    accepted.pop("max_input_tokens", None)  # below max_model_len: a rule of ours
    check(backend, version, spec(backend, version, serving=accepted), [])


@pytest.mark.parametrize("version", TGI.versions())
def test_every_tgi_setting_and_value_is_refused_by_name_or_accepted(version):
    for settings in settings_cases():
        (name, _), = settings.items()
        check(TGI, version, spec(TGI, version, tgi_settings=settings),
              [f"tgi_settings.{name}", "image.tgi"])


@pytest.mark.parametrize("case", offered(), ids=offered_id)
def test_every_offered_version_has_engine_data(case):
    backend, version = case
    assert backend.engine(version) is not None


# -- (c) the named errors -----------------------------------------------------------------------

def having(backend: Backend, predicate) -> str:
    """The offered versions whose raw data satisfies ``predicate``, as the message lists them."""
    versions = [v for v in backend.versions() if predicate(raw(backend.engine_key, v))]
    return ", ".join(versions) or "none offered"


def since(backend: Backend, version: str, predicate) -> str:
    """" (added in X)" / " (removed in <name> X)" when every version of the data that
    satisfies ``predicate`` is newer / older than ``version``."""
    order = list(DATA[backend.engine_key]["versions"])
    taking = [i for i, v in enumerate(order) if predicate(raw(backend.engine_key, v))]
    here = order.index(version)
    if taking and taking[0] > here:
        return f" (added in {order[taking[0]]})"
    if taking and taking[-1] < here:
        return f" (removed in {backend.name} {order[taking[-1] + 1]})"
    return ""


def choices(data: dict, option: str) -> list[str]:
    return data["options"][option].get("choices", [])


def test_a_quantization_the_version_lacks_names_field_version_and_versions_that_have_it():
    assert refusal(VLLM, "0.30.0", "quantization", "bitsandbytes") == \
        "'bitsandbytes' is not a vLLM 0.30.0 --quantization choice"
    assert refusal(VLLM, "0.27.1", "quantization", "bitsandbytes") is None
    lacking = [v for v in VLLM.versions()
               if "bitsandbytes" not in choices(raw("vllm", v), "--quantization")]
    if not lacking:
        pytest.skip("every offered vLLM version takes bitsandbytes")
    def has(data: dict) -> bool:
        return "bitsandbytes" in choices(data, "--quantization")

    found = problems_of(spec(VLLM, lacking[0], serving={"quantization": "bitsandbytes"}))
    assert found["m.serving.quantization"] == (
        f"'bitsandbytes' is not a vLLM {lacking[0]} --quantization choice"
        f"{since(VLLM, lacking[0], has)}; versions that have it: {having(VLLM, has)}")


@pytest.mark.parametrize("method,lacking_at,having_at", [
    ("fp8", "1.4.5", "2.0.0"), ("marlin", "2.0.2", "2.2.0"), ("exl2", "2.0.2", "2.2.0")])
def test_tgi_quantize_values_follow_the_launcher_of_each_version(method, lacking_at, having_at):
    assert refusal(TGI, lacking_at, "quantization", method) == \
        f"{method!r} is not a TGI {lacking_at} --quantize choice"
    assert refusal(TGI, having_at, "quantization", method) is None
    assert refusal(TGI, lacking_at, "quantize", method, SETTINGS) == \
        f"{method!r} is not a TGI {lacking_at} --quantize choice"


def test_every_offered_tgi_version_lacking_exl2_refuses_it_by_name():
    def has(data: dict) -> bool:
        return "exl2" in choices(data, "--quantize")

    for version in TGI.versions():
        message = f"{since(TGI, version, has)}; versions that have it: {having(TGI, has)}"
        found = problems_of(spec(TGI, version, tgi_settings={"quantize": "exl2"}))
        quantize = raw("tgi", version)["options"]["--quantize"]
        if "exl2" in quantize.get("choices", ()):
            assert "m.tgi_settings.quantize" not in found
        elif quantize["kind"] == "flag":  # TGI 0.6.0: a boolean switch, no methods
            assert found["m.tgi_settings.quantize"] == (
                f"TGI {version}: QUANTIZE='exl2': --quantize takes no value (got 'exl2')"
                f"{message}")
        else:
            assert found["m.tgi_settings.quantize"] == \
                f"'exl2' is not a TGI {version} --quantize choice{message}"


def test_the_input_limit_takes_the_name_the_tgi_version_has():
    for version in ("1.4.5", "2.0.2"):
        env = environment(TGI, spec(TGI, version, serving={"max_input_tokens": 2048}),
                          model=HUB, source_variables={})
        options = raw("tgi", version)["options"]
        name = "MAX_INPUT_TOKENS" if "--max-input-tokens" in options else "MAX_INPUT_LENGTH"
        assert env[name] == "2048" and {"MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH"} - {name} \
            <= set(env) ^ {"MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH"}
    assert "MAX_INPUT_LENGTH" in environment(
        TGI, spec(TGI, "1.4.5", serving={"max_input_tokens": 2048}), model=HUB,
        source_variables={})


def test_the_messages_api_switch_exists_where_the_router_reads_it():
    assert refusal(TGI, "2.3.1", "messages_api_enabled", True, SETTINGS) is None
    assert refusal(TGI, "2.4.0", "messages_api_enabled", True, SETTINGS) == \
        "TGI 2.4.0 has no --messages-api-enabled"
    assert refusal(TGI, "1.3.3", "messages_api_enabled", False, SETTINGS) == \
        "TGI 1.3.3 has no --messages-api-enabled"
    def has(data: dict) -> bool:
        return "--messages-api-enabled" in data["router_options"]

    for version in TGI.versions():
        found = problems_of(spec(TGI, version, tgi_settings={"messages_api_enabled": True}))
        if has(raw("tgi", version)):
            assert "m.tgi_settings.messages_api_enabled" not in found
        else:  # added in 1.4.0, removed in TGI 2.4.0
            assert found["m.tgi_settings.messages_api_enabled"] == (
                f"TGI {version} has no --messages-api-enabled{since(TGI, version, has)}; "
                f"versions that have it: {having(TGI, has)}")


def test_sglang_images_before_the_new_entrypoint_get_an_empty_boolean():
    for version, expected in (("0.5.8", ""), ("0.5.13", "true")):
        engine = SGLANG.engine(version)
        spelled = boolean(SGLANG, engine, "SM_SGLANG_TRUST_REMOTE_CODE", True)
        assert spelled == expected
        argv = engine.argv({"SM_SGLANG_TRUST_REMOTE_CODE": spelled})
        assert argv == DATA["sglang"]["versions"][version]["entrypoint"]["probes"][
            f"SM_SGLANG_TRUST_REMOTE_CODE={expected}"]
        assert "--trust-remote-code" in argv and "true" not in argv


def test_lmi_quantize_choices_until_0_31_then_handed_to_vllm():
    assert refusal(LMI, "0.28.0", "quantization", "fp8") == \
        "'fp8' is not a LMI 0.28.0 quantize choice"
    assert refusal(LMI, "0.30.0", "quantization", "bitsandbytes") == \
        "'bitsandbytes' is not a LMI 0.30.0 quantize choice"
    assert refusal(LMI, "0.31.0", "quantization", "bitsandbytes") is None


def test_options_a_version_lacks_are_named():
    assert refusal(TGI, "0.6.0", "dtype", "bf16") == "TGI 0.6.0 has no --dtype"
    assert refusal(TGI, "0.6.0", "trust_remote_code", True) == \
        "TGI 0.6.0 has no --trust-remote-code"
    # its entrypoint requires HF_MODEL_ID but exports no MODEL_ID (0.8.2 on do)
    assert refusal(TGI, "0.6.0", "model", HUB) == \
        f"TGI 0.6.0: HF_MODEL_ID={HUB!r}: no option of this version reads HF_MODEL_ID"


def test_a_version_without_data_of_its_own_says_whose_it_uses():
    assert DATA["lmi"]["versions"]["0.38.0"]["assumed_from"] == "0.36.0"
    assert LMI.engine("0.38.0").assumed_from == "0.36.0"


def test_a_version_whose_entrypoint_drops_the_model_is_refused_naming_those_that_take_it():
    def passes_model(data: dict) -> bool:
        return "MODEL_ID" in data["entrypoint"]["renames"].values()

    dropping = [v for v in TGI.versions() if not passes_model(raw("tgi", v))]
    if not dropping:
        pytest.skip("every offered TGI version's entrypoint exports MODEL_ID")
    found = problems_of(spec(TGI, dropping[0]))
    assert found["m.image.tgi"] == (
        f"the model: TGI {dropping[0]}: HF_MODEL_ID={HUB!r}: no option of this version reads "
        f"HF_MODEL_ID{since(TGI, dropping[0], passes_model)}; versions that have it: "
        f"{having(TGI, passes_model)}")



#: Options every version of the server has, each with (kind, type): written here from the
#: engines' documentation, so that a parser the extraction stops following (vLLM >= 0.17
#: inherits its frontend's ``add_cli_args``) fails here instead of refusing valid serving.
SERVER_OPTIONS = {
    "vllm": {"--host": ("value", "str"), "--port": ("value", "int"),
             "--api-key": ("value", "str"), "--chat-template": ("value", "str"),
             "--enable-auto-tool-choice": ("flag", None), "--tool-call-parser": ("value", "str"),
             "--served-model-name": ("value", "str"), "--trust-remote-code": ("flag", None)},
    "sglang": {"--host": ("value", "str"), "--port": ("value", "int"),
               "--api-key": ("value", "str"), "--chat-template": ("value", "str"),
               "--enable-metrics": ("flag", None), "--tool-call-parser": ("value", "str"),
               "--served-model-name": ("value", "str"), "--trust-remote-code": ("flag", None)},
}


@pytest.mark.parametrize("case", [c for c in offered() if c[0] in (VLLM, SGLANG)],
                         ids=offered_id)
def test_every_offered_version_has_the_frontend_options_of_its_server(case):
    backend, version = case
    options = backend.engine(version).options
    found = {name: (options[name].kind, options[name].type) if name in options else None
             for name in SERVER_OPTIONS[backend.engine_key]}
    assert found == SERVER_OPTIONS[backend.engine_key]
