"""Load ``config/<name>.yaml`` into a validated :class:`AppConfig`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .rules import semantic_errors
from .shapes import AppConfig, Endpoint

CONFIG_DIR = Path(__file__).resolve().parent

__all__ = ["AppConfig", "ConfigError", "Endpoint", "available", "load_config", "parse_config"]


class ConfigError(ValueError):
    """A config that cannot be deployed. ``problems`` holds ``(path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem(s):"]
        lines += [f"  - {path}: {msg}" for path, msg in problems]
        super().__init__("\n".join(lines))


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice (PyYAML keeps the last one silently)."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _path(loc: tuple, data: Any) -> str:
    """pydantic's loc -> ``endpoints[0] (chat).instance_type``."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                out += f" ({node['name']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


def _message(err: ErrorDetails) -> str:
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see README 'Configuration')"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return msg
    return f"{msg} (got {value!r})"


#: Union fields whose members pydantic names in error locations, right after the field
#: (a class name, or the discriminator tag): not keys of the config.
_UNION_FIELDS = {"image", "source"}


def _strip_tags(loc: tuple) -> tuple:
    """Drop what pydantic adds to a location that is not a config key: class names,
    validator tags (``function-after[...]``), and the discriminator tag right after a union
    field (``image.uri.uri`` -> ``image.uri``)."""
    out: list = []
    after_union = False
    for part in loc:
        if isinstance(part, str) and (part[:1].isupper() or "[" in part):
            continue
        if after_union:
            after_union = False
            continue
        out.append(part)
        after_union = part in _UNION_FIELDS
    return tuple(out)


def parse_config(data: Any, source: str = "<config>") -> AppConfig:
    if not isinstance(data, dict):
        raise ConfigError(source, [("(top level)", "expected a mapping of settings")])
    try:
        cfg = AppConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _strip_tags(err["loc"])
            problems.append((_path(loc, data), _message(err)))
        raise ConfigError(source, problems) from None
    problems = semantic_errors(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def available(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in config_dir.glob("*.yaml"))


def load_config(name: str, config_dir: Path = CONFIG_DIR) -> AppConfig:
    path = config_dir / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"-c env={name}", [("env", f"no config/{name}.yaml; available: "
                                                       f"{', '.join(available(config_dir))}")])
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise ConfigError(str(path.name), [("(yaml)", str(exc))]) from None
    return parse_config(data, source=f"config/{path.name}")
