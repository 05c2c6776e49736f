"""Each engine's options at each version, and how its image turns variables into them.

Read from ``config/data/engine_options.json``, which ``tools/aws_facts/engine_options.py``
writes from the engines' own parsers (vLLM ``EngineArgs``, SGLang ``ServerArgs``, TGI's
launcher and router, djl-serving's property models) and from AWS's entrypoint scripts, run
with probe variables. Nothing here knows an option by heart: what a ``serving`` field means
is the backend record's; whether the version has the option, which values it accepts and
how its entrypoint spells a boolean is this data's.

Three entrypoint styles:

* ``prefix`` (vLLM, SGLang DLCs): ``<prefix><NAME>=value`` -> ``--<name> value``; what
  ``true``, ``false`` and an empty value give was recorded by running the script.
* ``clap_env`` (TGI): the SageMaker entrypoint's renames (``SM_NUM_GPUS`` -> ``NUM_SHARD``),
  then the launcher or router option whose clap ``env`` is the variable.
* ``djl`` (LMI): ``OPTION_<NAME>`` -> property ``<name>``, ``HF_MODEL_ID`` -> the model; a
  property the version lacks goes to vLLM where the version passes extras on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "engine_options.json"

#: ``(option, value)``: one option as the engine receives it (``None``: no value).
Argument = tuple[str, "str | None"]


@dataclass(frozen=True)
class Option:
    """One option of one engine version."""

    name: str
    #: ``flag`` takes no value, ``value`` takes one.
    kind: str
    #: int, float, bool or str (None: unknown, e.g. a property handed on to vLLM).
    type: str | None = None
    choices: tuple[str, ...] | None = None

    def refusal(self, value: str | None) -> str | None:
        """Why the engine refuses ``value`` for this option (None: it accepts it)."""
        if self.kind == "flag":
            return None if value is None else f"{self.name} takes no value (got {value!r})"
        if value is None:
            return f"{self.name} needs a value"
        if self.choices is not None and value not in self.choices:
            return f"{value!r} is not one of {', '.join(self.choices)}"
        return _type_refusal(self, value)


def _type_refusal(option: Option, value: str) -> str | None:
    if option.type == "int" and not value.lstrip("-").isdigit():
        return f"{option.name} takes an integer (got {value!r})"
    if option.type == "bool" and value.lower() not in ("true", "false"):
        return f"{option.name} takes true or false (got {value!r})"
    return None


def _handed_on(name: str) -> Option:
    """A property djl-serving hands on to vLLM's engine arguments: its values are vLLM's,
    which the djl-serving branches do not pin, so they are not checked here."""
    return Option(name=name, kind="value")


@dataclass(frozen=True)
class Engine:
    """One engine at one version: its options and its entrypoint's rules."""

    key: str
    version: str
    source: str
    options: Mapping[str, Option]
    entrypoint: Mapping[str, Any]
    #: The version whose data this one uses, when it has no source of its own.
    assumed_from: str | None = None

    def option(self, name: str) -> Option | None:
        """The option called ``name`` (or one of its aliases) at this version."""
        found = self.options.get(name)
        if found is None and self.style == "djl" and self.entrypoint["other_properties"] == "vllm":
            return _handed_on(name)
        return found

    @property
    def style(self) -> str:
        return str(self.entrypoint["style"])

    def variable(self, option: str) -> str:
        """The variable that gives ``option`` (its own name, as the entrypoint reads it)."""
        if self.style == "prefix":
            if not option.startswith("--") and option in self.options:  # vLLM's -tp: its name
                option = self.options[option].name
            return self.entrypoint["prefix"] + option[2:].upper().replace("-", "_")
        if self.style == "djl":
            return self.entrypoint["prefix"] + option.upper()
        return str(self.entrypoint["env_of"].get(option, option))  # TGI: its clap env

    def arguments(self, variable: str, value: str) -> list[Argument]:
        """What the engine receives for ``variable=value``: the entrypoint, emulated."""
        if self.style == "prefix":
            return _pairs(self.tokens(variable, value))
        if self.style == "clap_env":
            return _clap_arguments(self, variable, value)
        return _djl_arguments(self, variable, value)

    def tokens(self, variable: str, value: str) -> list[str]:
        """The argv tokens a ``prefix`` entrypoint writes for ``variable=value``."""
        rules = self.entrypoint
        flag = "--" + variable[len(rules["prefix"]):].lower().replace("_", "-")
        word = value.strip().lower() if rules["case_insensitive"] else value
        if word == "true" and rules["true"] == "flag":
            return [flag]
        if word == "false" and rules["false"] == "drop":
            return []
        if value == "":
            return [flag]
        if rules["json_list"] == "split" and value.strip().startswith("["):
            return [flag, *(str(v) for v in json.loads(value))]
        return [flag, value]

    def argv(self, environment: Mapping[str, str]) -> list[str]:
        """A ``prefix`` entrypoint's whole argv for ``environment`` (one variable: variables'
        order is the container's, which no script fixes): the variable's tokens and each
        default the script adds when the variable did not give that option."""
        given = [t for k, v in environment.items() if k.startswith(self.entrypoint["prefix"])
                 for t in self.tokens(k, v)]
        defaults = [t for pair in self.entrypoint["defaults"] if pair[0] not in given
                    for t in pair]
        before = self.entrypoint["defaults_position"] == "before"
        return defaults + given if before else given + defaults

    def refusal(self, variable: str, value: str) -> str | None:
        """Why this version refuses ``variable=value`` (None: every option it gives exists
        and accepts its value)."""
        for name, given in self.arguments(variable, value):
            option = self.option(name)
            if option is None:
                verb = "reads" if self.style == "clap_env" else "is"
                return f"no option of this version {verb} {name}"
            problem = option.refusal(given)
            if problem is not None:
                return problem
        return None


def _pairs(tokens: list[str]) -> list[Argument]:
    """``["--a", "1", "--b"]`` -> ``[("--a", "1"), ("--b", None)]``; a second token after
    one option is kept as its own (argparse: an unrecognized argument)."""
    out: list[Argument] = []
    for token in tokens:
        if token.startswith("--") or not out:
            out.append((token, None))
        elif out[-1][1] is None:
            out[-1] = (out[-1][0], token)
        else:
            out.append((token, None))
    return out


def _clap_arguments(engine: Engine, variable: str, value: str) -> list[Argument]:
    """TGI: the SageMaker entrypoint's rename, then the option reading that variable. A
    clap boolean read from its variable is on for ``true``, off for ``false``."""
    name = engine.entrypoint["renames"].get(variable, variable)
    option = engine.entrypoint["by_env"].get(name)
    if option is None:
        return [(name, value)]  # no option reads it: refused
    spec = engine.options[option]
    if spec.kind == "flag" and value in engine.entrypoint["bool_values"].get(option, ()):
        return [(option, None)] if value == "true" else []
    return [(option, value)]


def _djl_arguments(engine: Engine, variable: str, value: str) -> list[Argument]:
    renamed = engine.entrypoint["renames"].get(variable)
    if renamed is not None:
        return [(renamed, value)]
    prefix = engine.entrypoint["prefix"]
    if not variable.startswith(prefix):
        return [(variable, value)]  # not a property variable: refused
    return [(variable[len(prefix):].lower(), value)]


# -- loading ----------------------------------------------------------------------------------

@cache
def _data() -> dict[str, Any]:
    return dict(json.loads(DATA.read_text(encoding="utf-8")))


def versions(key: str) -> list[str]:
    """The versions of ``key`` the data covers, oldest first."""
    return list(_data().get(key, {}).get("versions", {}))


def version_data(key: str, version: str) -> dict[str, Any] | None:
    """One version's entry with its ``options`` (and TGI's ``router_options``) unfolded:
    each option's spec is the newest of its ``[first version, spec]`` pairs at or before
    ``version`` (``None``: the option is gone)."""
    table = _data().get(key, {})
    order = list(table.get("versions", {}))
    if version not in order:
        return None
    entry = dict(table["versions"][version])
    at = order.index(version)
    for section in ("options", "router_options"):
        unfolded = {}
        for name, history in table.get(section, {}).items():
            current = [spec for first, spec in history if order.index(first) <= at]
            if current and current[-1] is not None:
                unfolded[name] = current[-1]
        entry[section] = unfolded
    return entry


@cache
def engine(key: str, version: str) -> Engine | None:
    """``key`` (vllm, sglang, tgi, lmi) at ``version``, or None if the data lacks it."""
    entry = version_data(key, version)
    if entry is None:
        return None
    assumed = entry.get("assumed_from")
    if assumed is not None:
        base = engine(key, assumed)
        return None if base is None else Engine(key, version, base.source, base.options,
                                                base.entrypoint, assumed_from=assumed)
    options = {**_options(entry["router_options"]), **_options(entry["options"])}
    return Engine(key=key, version=version, source=entry["source"], options=options,
                  entrypoint=_entrypoint(entry))


def _options(raw: Mapping[str, Any]) -> dict[str, Option]:
    out: dict[str, Option] = {}
    for name, spec in raw.items():
        option = Option(name=name, kind=spec["kind"], type=spec.get("type"),
                        choices=tuple(spec["choices"]) if "choices" in spec else None)
        for alias in (name, *spec.get("aliases", ())):
            out.setdefault(alias, option)
    return out


def _entrypoint(entry: Mapping[str, Any]) -> dict[str, Any]:
    rules = dict(entry["entrypoint"])
    if rules["style"] == "clap_env":  # variable -> option, both ways, launcher first
        raw = {**entry["router_options"], **entry["options"]}
        rules["env_of"] = {o: s["env"] for o, s in raw.items() if s.get("env")}
        rules["by_env"] = {s["env"]: o for o, s in raw.items() if s.get("env")}
        rules["bool_values"] = {o: tuple(s.get("env_values", ())) for o, s in raw.items()}
    return rules
