"""Load ``config/<name>.yaml`` into a validated :class:`AppConfig`.

The loader is bounded: whatever the file holds, it answers in well under a second with one
line per problem, never a traceback or a hang (see ``read_yaml``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .rules import semantic_errors
from .text import MAX_VALUE_CHARS, shorten, show
from .shapes import AppConfig, Endpoint

CONFIG_DIR = Path(__file__).resolve().parent

__all__ = ["AppConfig", "ConfigError", "ConfigFileError", "Endpoint", "available",
           "load_config", "load_config_file", "parse_config", "read_yaml", "shape_problems"]

#: The largest config file read. The shipped configs are 1-3 KB; a megabyte is a few hundred
#: endpoints' worth, so no real config comes near it, and loading a megabyte costs well under
#: a second (libyaml), where an unbounded file would let a mistake (a log pasted in, a
#: generated file gone wrong) stall synth for minutes.
MAX_BYTES = 1_000_000
#: The deepest nesting of lists and mappings. A config nests about six levels; libyaml's
#: time grows with the square of flow nesting (``[[[[...``) and its composer recurses on the
#: C stack, so a file nested thousands deep would hang or crash the process.
MAX_DEPTH = 64
#: The most values (scalars, lists, mappings) a config holds. The shipped configs hold 54-91;
#: the work of loading and validating is about 10 µs per value in Python, whatever the bytes,
#: so this, not the size, bounds it (1 MB of ``- 1`` lines is 250,000 values: 3 s of YAML).
MAX_VALUES = 10_000
#: The most problems listed: all a real config has, not a screenful per generated key.
MAX_PROBLEMS = 100
#: The longest line of a message once its values are shortened.
MAX_MESSAGE_CHARS = 1000


#: A string's repr inside a message (validators render ``{v!r}``; reprs hold no newline),
#: unless ``show`` has shortened it already.
_QUOTED = re.compile(r"""('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")(?!…)""")


def _short_quoted(text: str) -> str:
    """A repr shortened as ``show`` does: quotes kept, the length its content's."""
    if len(text) <= MAX_VALUE_CHARS + 2:
        return text
    return f"{text[:MAX_VALUE_CHARS + 1]}{text[0]}… ({len(text) - 2:,} characters)"


def _bounded(message: str) -> str:
    """``message`` with each quoted value over ``MAX_VALUE_CHARS`` shortened, and capped,
    whoever wrote it: a value from the file is never printed in full."""
    if len(message) <= MAX_VALUE_CHARS:
        return message
    message = _QUOTED.sub(lambda m: _short_quoted(m.group()), message)
    return shorten(message, MAX_MESSAGE_CHARS)


class ConfigError(ValueError):
    """A config that cannot be deployed. ``problems`` holds ``(path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = [(_bounded(path), _bounded(msg)) for path, msg in problems]
        lines = [f"{source}: {len(problems)} problem(s):"]
        lines += [f"  - {path}: {msg}" for path, msg in self.problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            lines.append(f"  - ... and {len(problems) - MAX_PROBLEMS:,} more")
        super().__init__("\n".join(lines))


class ConfigFileError(ConfigError):
    """A file that cannot be read as a YAML mapping: one line, ``file:line:column: problem``
    (the form editors and terminals turn into a link)."""

    def __init__(self, source: str, problem: str, mark: yaml.Mark | None = None):
        where = source if mark is None else f"{source}:{mark.line + 1}:{mark.column + 1}"
        self.source, self.mark = source, mark
        self.problems = [("(file)", _bounded(problem))]
        ValueError.__init__(self, f"{where}: {self.problems[0][1]}")


# libyaml's parser when PyYAML has it (its wheels do): a hundred times faster than PyYAML's
# own, which takes about 4 s per MB. Construction stays in Python either way.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_Base):  # type: ignore[valid-type,misc]
    """Safe loader that rejects a key given twice (PyYAML keeps the last one silently) and
    turns a scalar Python cannot hold (an integer of 5,000 digits, a 13th month) into an
    error at its line instead of a ``ValueError`` from deep inside PyYAML."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            reason = str(exc).split(";")[0]  # not Python's advice on raising its own limits
            raise yaml.constructor.ConstructorError(
                None, None, f"{show(node.value)} cannot be read: {reason}", node.start_mark,
            ) from None


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {show(key)} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


class _FlowDepthScanner(yaml.SafeLoader):
    """PyYAML's own scanner, stopping at the ``MAX_DEPTH``-th nested ``[`` or ``{``: it
    runs before libyaml whenever a file has that many brackets, since libyaml's time grows
    with the square of the depth (100,000 brackets: 34 s, then a crash)."""

    def fetch_flow_collection_start(self, TokenClass: type) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise yaml.scanner.ScannerError(
                None, None, f"lists and mappings nest more than {MAX_DEPTH} levels deep",
                self.get_mark())
        super().fetch_flow_collection_start(TokenClass)


def _refuse(problem: str, mark: Any) -> yaml.MarkedYAMLError:
    return yaml.composer.ComposerError(None, None, problem, mark)


_TOO_MANY = f"more than {MAX_VALUES:,} values: a config holds about a hundred; is this the " \
            "right file?"


def _check_flow_depth(text: str) -> None:
    """The whole file through ``_FlowDepthScanner``, in Python: bounded by refusing more
    tokens than ``MAX_VALUES`` values take (four each at most: key, value, entry, scalar),
    about 0.3 s; a file that got further would be refused by the value count anyway."""
    for count, token in enumerate(yaml.scan(text, Loader=_FlowDepthScanner)):
        if count > 4 * MAX_VALUES:
            raise _refuse(_TOO_MANY, token.start_mark)


def _check_events(text: str) -> None:
    """Refuse, before anything is built, what makes loading unbounded or the file not a
    config: anchors and aliases (a few lines of them expand to billions of values), nesting
    deeper than ``MAX_DEPTH``, more than ``MAX_VALUES`` values, and a top level that is not
    a mapping."""
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_flow_depth(text)
    depth, top, values = 0, None, 0
    for event in yaml.parse(text, Loader=_UniqueKeyLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _refuse("anchors and aliases (&name, *name, <<: *name) are not supported: "
                          "write each value out", event.start_mark)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _refuse(f"lists and mappings nest more than {MAX_DEPTH} levels deep",
                              event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            top, values = top or event, values + 1
            if values > MAX_VALUES:
                raise _refuse(_TOO_MANY, event.start_mark)
    _check_top(top)


_KINDS = {yaml.ScalarEvent: "a single value", yaml.SequenceStartEvent: "a list"}


def _check_top(top: yaml.NodeEvent | None) -> None:
    if top is None:
        raise _refuse("the file is empty: a config is a mapping of settings "
                      "(project:, endpoints:, ...; see config/dev.yaml)",
                      yaml.Mark("", 0, 0, 0, "", 0))
    if not isinstance(top, yaml.MappingStartEvent):
        raise _refuse(f"the top level is {_KINDS[type(top)]}, not a mapping of settings "
                      "(project:, endpoints:, ...)", top.start_mark)


def _line_of(text: str, line: int) -> str:
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end]


def _problem(exc: yaml.MarkedYAMLError, text: str) -> str:
    """PyYAML's problem, its context (``while scanning a quoted scalar``) and where that
    started, in one line; a tab in the indentation said as such."""
    mark = exc.problem_mark
    line = _line_of(text, mark.line) if mark else ""
    indent = line[:len(line) - len(line.lstrip(" \t"))]
    if "tab" in (exc.problem or "") or "\t" in indent:
        return "a tab in the indentation: YAML indents with spaces only"
    problem = exc.problem or ""
    context, where = exc.context, exc.context_mark
    if context and where and mark and (where.line, where.column) != (mark.line, mark.column):
        problem += f" ({context} at line {where.line + 1}, column {where.column + 1})"
    elif context:
        problem += f" ({context})"
    return problem


def _reader_error(exc: yaml.reader.ReaderError, text: str, source: str) -> ConfigFileError:
    pos = exc.position
    line = text.count("\n", 0, pos)
    mark = yaml.Mark(source, pos, line, pos - text.rfind("\n", 0, pos) - 1, "", 0)
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return ConfigFileError(source, f"character U+{ord(char):04X} is not allowed in YAML "
                                   f"({exc.reason})", mark)


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start:exc.start].decode("utf-8", "replace"))
        mark = yaml.Mark(source, exc.start, raw.count(b"\n", 0, exc.start), column, "", 0)
        raise ConfigFileError(source, f"byte 0x{raw[exc.start]:02x} is not UTF-8: save the "
                                      "file as UTF-8", mark) from None


def _read_text(path: Path, source: str) -> str:
    """The file as text, read no further than ``MAX_BYTES`` (a size from ``stat`` is not
    trusted: a FIFO or a growing file has none)."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)
            size = max(path.stat().st_size, len(raw))
    except OSError as exc:
        raise ConfigFileError(source, f"cannot be read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigFileError(source, f"the file is {size:,} bytes, over the {MAX_BYTES:,}-"
                                      "byte limit for a config (the shipped ones are 1-3 KB)")
    return _decode(raw, source)


def read_yaml(path: Path, source: str) -> Any:
    """The mapping in ``path``, bounded in size, depth and expansion; any problem is a
    one-line :class:`ConfigFileError` ``source:line:column: problem``."""
    text = _read_text(path, source)
    try:
        _check_events(text)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigFileError(source, _problem(exc, text), exc.problem_mark) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, source) from None
    except yaml.YAMLError as exc:
        raise ConfigFileError(source, " ".join(str(exc).split())) from None

def _path(loc: tuple, data: Any) -> str:
    """pydantic's loc -> ``endpoints[0] (chat).instance_type``."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                out += f" ({shorten(node['name'])})"
        else:
            key = shorten(str(part))  # an unknown key is the file's text
            out += f".{key}" if out else key
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
    return f"{msg} (got {show(value)})"


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


def shape_problems(exc: ValidationError, data: Any) -> list[tuple[str, str]]:
    """pydantic's errors as ``(path, message)`` lines, paths in the file's own terms."""
    return [(_path(_strip_tags(err["loc"]), data), _message(err)) for err in exc.errors()]


def parse_config(data: Any, source: str = "<config>") -> AppConfig:
    if not isinstance(data, dict):
        raise ConfigError(source, [("(top level)", "expected a mapping of settings")])
    try:
        cfg = AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, shape_problems(exc, data)) from None
    problems = semantic_errors(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def available(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in config_dir.glob("*.yaml"))


def load_config(name: str, config_dir: Path = CONFIG_DIR) -> AppConfig:
    """``config/<name>.yaml`` (``-c env=<name>``); a file elsewhere is ``-c config=<path>``."""
    path = config_dir / f"{name}.yaml"
    if name not in available(config_dir) or not path.is_file():
        raise ConfigError(f"-c env={name}", [("env", f"no config/{name}.yaml; available: "
                                                       f"{', '.join(available(config_dir))}")])
    return load_config_file(path, source=f"config/{path.name}")


def load_config_file(path: Path, source: str | None = None) -> AppConfig:
    """A config file anywhere (``-c config=<path>``), named ``source`` in errors (default:
    the path as given)."""
    source = source or str(path)
    if not path.is_file():
        raise ConfigFileError(source, "not a file" if path.exists() else "no such file")
    return parse_config(read_yaml(path, source), source=source)
