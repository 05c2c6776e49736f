"""A pipeline stage's per-region ``overrides`` of its config, and the S3 locations a config
names (a bucket lives in one region: the pipeline refuses one bucket in two regions).

An override is ``dotted.path: value`` in the config's data, applied before ``parse_config``
so every rule sees the result. A list item is named by its ``name`` (``endpoints.chat``,
``endpoints.llama3.components.base.adapters.news``) or its index; every step of the path
but the last must exist (a new last key is checked by the config's own shape)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .arns import split_s3_uri
from .text import shorten

#: Keys whose value is a bucket name rather than an ``s3://`` URI.
BUCKET_KEYS = ("existing_bucket",)


def _item(items: list, part: str) -> Any:
    """The item named ``part`` (its ``name``, or its index), else KeyError saying what is."""
    for item in items:
        if isinstance(item, dict) and item.get("name") == part:
            return item
    if part.isdigit() and int(part) < len(items):
        return items[int(part)]
    names = [str(i["name"]) for i in items if isinstance(i, dict) and "name" in i]
    raise KeyError(f"no item named {part!r} (names: {', '.join(names) or 'none'})")


def _step(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        if part not in node:
            raise KeyError(f"no key {part!r} here (keys: {', '.join(map(str, node))})")
        return node[part]
    if isinstance(node, list):
        return _item(node, part)
    raise KeyError(f"{part!r} is below a single value")


def apply_override(data: dict, path: str, value: Any) -> None:
    """Set ``path`` in ``data`` to ``value``; KeyError naming the step that does not exist."""
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        try:
            node = _step(node, part)
        except KeyError as exc:
            raise KeyError(f"at {'.'.join(parts[:i + 1])!r}: {exc.args[0]}") from None
    if not isinstance(node, dict):
        raise KeyError(f"{'.'.join(parts[:-1]) or '(top level)'!r} is not a mapping: "
                       "name a key of it")
    node[parts[-1]] = value


@dataclass(frozen=True)
class S3Location:
    """An S3 location named in a config: where (as errors print it, and as an override
    names it) and which bucket."""

    path: str      #: ``endpoints[0] (chat).source.s3``
    override: str  #: ``endpoints.chat.source.s3``
    bucket: str
    value: str


def s3_locations(node: Any, path: str = "", override: str = "") -> Iterator[S3Location]:
    """Every ``s3://`` URI and bucket name in a config's data."""
    if isinstance(node, dict):
        for key, value in node.items():
            key = str(key)
            sub, dotted = f"{path}.{key}" if path else key, f"{override}.{key}" if override else key
            if key in BUCKET_KEYS and isinstance(value, str):
                yield S3Location(sub, dotted, value, value)
            else:
                yield from s3_locations(value, sub, dotted)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            name = item.get("name") if isinstance(item, dict) else None
            label = f" ({shorten(name)})" if isinstance(name, str) else ""
            step = name if isinstance(name, str) else str(i)
            yield from s3_locations(item, f"{path}[{i}]{label}", f"{override}.{step}")
    elif isinstance(node, str) and node.startswith("s3://"):
        yield S3Location(path, override, split_s3_uri(node)[0], node)
