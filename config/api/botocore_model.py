"""The constraints AWS publishes for an API parameter, read from the pinned botocore's
service models: lengths, patterns, enums, ranges, list and map sizes, and the ranges the
shape's type itself gives (a Smithy ``integer`` is 32-bit; a template is JSON, which has no
infinity or NaN).

Patterns are matched against the whole value: botocore's models drop the anchors, and AWS
validates the full value (with search semantics every ``[...]*`` pattern, e.g. TagKey's,
would accept anything).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore

from config.text import shorten
from llm_constructs.botocore_data import service_model

#: The services whose parameters the config reaches, as their errors name them.
SERVICE_NAMES = {"sagemaker": "SageMaker", "application-autoscaling": "Application Auto Scaling",
                 "cloudwatch": "CloudWatch"}

#: Smithy's integer types and their bits.
INTEGER_BITS = {"integer": 32, "long": 64}

#: Java regex constructs of the models -> Python ``re`` (``\p{..}`` classes, surrogate
#: pairs). ``\w`` is letters, digits and ``_`` of any script: \p{L}\p{N} with ``_``.
_SEPARATORS = "\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_JAVA_TO_PYTHON = (
    ("\\p{L}\\p{Z}\\p{N}", "\\w" + _SEPARATORS),
    ("\\p{Print}", "[\\x20-\\x7e]"),
    ("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF"),
)


def source(service: str, operation: str) -> str:
    """``botocore 1.44.5 sagemaker CreateModel``: where a constraint was read."""
    return f"botocore {botocore.__version__} {service} {operation}"


def shape(service: str, name: str) -> dict[str, Any]:
    return service_model(service)["shapes"][name]


@functools.cache
def python_pattern(pattern: str) -> re.Pattern[str]:
    for java, python in _JAVA_TO_PYTHON:
        pattern = pattern.replace(java, python)
    if "\\p{" in pattern:
        raise ValueError(f"no Python translation for the Java class in {pattern!r}")
    return re.compile(pattern)


@dataclass(frozen=True)
class Parameter:
    """One input member of an API operation, by its dotted path from the operation's
    input (list members are stepped through: ``ProductionVariants.InstanceType``)."""

    service: str
    operation: str
    member: str

    @functools.cached_property
    def resolved(self) -> tuple[str, str]:
        """(the member's shape name, ``Structure.Member`` as errors name it)."""
        model = service_model(self.service)
        name = model["operations"][self.operation]["input"]["shape"]
        label = ""
        for step in self.member.split("."):
            while shape(self.service, name)["type"] == "list":
                name = shape(self.service, name)["member"]["shape"]
            structure = shape(self.service, name)
            if step not in structure.get("members", {}):
                raise KeyError(f"{self.service} {self.operation}: {name} has no member {step!r}")
            label, name = f"{name}.{step}", structure["members"][step]["shape"]
        return name, label

    @property
    def shape_name(self) -> str:
        return self.resolved[0]

    @property
    def where(self) -> str:
        """``SageMaker's ContainerDefinition.Environment``."""
        return f"{SERVICE_NAMES[self.service]}'s {self.resolved[1]}"

    @property
    def source(self) -> str:
        return source(self.service, self.operation)

    def violations(self, value: Any) -> Iterator[tuple[str, str]]:
        """(location below the value, what is wrong) for each constraint ``value`` breaks;
        the location is ``.KEY`` for a map entry, tag or dimension, ``[i]`` for a list item."""
        yield from _violations(self.service, self.shape_name, value, self.where)


def _violations(service: str, name: str, value: Any, label: str) -> Iterator[tuple[str, str]]:
    spec = shape(service, name)
    kind = spec["type"]
    if kind == "map":
        yield from (("", m) for m in _size(spec, len(value), "entries", label))
        for key, item in value.items():
            yield from ((f".{key}", m) for _, m in _violations(
                service, spec["key"]["shape"], key, f"{label} keys"))
            yield from ((f".{key}{at}", m) for at, m in _violations(
                service, spec["value"]["shape"], item, f"{label} values"))
    elif kind == "list":
        yield from (("", m) for m in _size(spec, len(value), "items", label))
        for i, item in enumerate(value):
            yield from ((f"{_item_label(i, item)}{at}", m) for at, m in _violations(
                service, spec["member"]["shape"], item, f"{label} items"))
    elif kind == "structure":
        for member, item in value.items():
            yield from _violations(service, spec["members"][member]["shape"], item,
                                   f"{SERVICE_NAMES[service]}'s {name}.{member}")
    else:
        yield from (("", m) for m in _scalar(spec, value, label))


def _item_label(index: int, item: Any) -> str:
    """A tag or dimension is named by its key, other list items by their index."""
    if isinstance(item, dict):
        key = item.get("Key", item.get("Name"))
        if isinstance(key, str):
            return f".{key}"
    return f"[{index}]"


def _takes(label: str) -> str:
    """``X takes`` or, for ``X values``/``keys``/``items``, ``X values take``."""
    return f"{label} take" if label.endswith(("values", "keys", "items")) else f"{label} takes"


def _size(spec: dict[str, Any], size: int, unit: str, label: str) -> Iterator[str]:
    if "max" in spec and size > spec["max"]:
        yield f"{size} {unit}; {_takes(label)} at most {spec['max']}"
    if "min" in spec and size < spec["min"]:
        yield f"{size} {unit}; {_takes(label)} at least {spec['min']}"


def _scalar(spec: dict[str, Any], value: Any, label: str) -> Iterator[str]:
    kind = spec["type"]
    if kind == "string":
        yield from _string(spec, str(value), label)
    elif kind in INTEGER_BITS or kind in ("float", "double"):
        yield from _number(spec, value, label)


def _string(spec: dict[str, Any], value: str, label: str) -> Iterator[str]:
    shown = _shown(value)
    if "enum" in spec and value not in spec["enum"]:
        listed = ", ".join(spec["enum"][:12]) + (", ..." if len(spec["enum"]) > 12 else "")
        yield f"{shown} is not one of the values {_takes(label)} ({listed})"
        return
    if "max" in spec and len(value) > spec["max"]:
        yield f"value is {len(value)} characters; {_takes(label)} at most {spec['max']}"
    if "min" in spec and len(value) < spec["min"]:
        yield f"value is {len(value)} characters; {_takes(label)} at least {spec['min']}"
    if "pattern" in spec and not python_pattern(spec["pattern"]).fullmatch(value):
        yield f"{shown} does not match the pattern of {label}, {spec['pattern']}"


def _number(spec: dict[str, Any], number: Any, label: str) -> Iterator[str]:
    kind, value = spec["type"], _shown(str(number), quote=False)
    if kind in INTEGER_BITS:
        bits = INTEGER_BITS[kind]
        low, high = -2**(bits - 1), 2**(bits - 1) - 1
        if not low <= number <= high:
            yield f"{value} does not fit {label}, a {bits}-bit integer ({low} to {high})"
            return
    elif not _finite(number):
        yield f"{value} is not a number {_takes(label)} (finite {kind}s only)"
        return
    if "max" in spec and number > spec["max"]:
        yield f"{value} is above the maximum {_takes(label)}, {spec['max']}"
    if "min" in spec and number < spec["min"]:
        yield f"{value} is below the minimum {_takes(label)}, {spec['min']}"


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond a double's range
        return False


def _shown(value: str, limit: int = 60, quote: bool = True) -> str:
    """``value`` for a message, cut at ``limit`` characters."""
    cut = shorten(value, limit)
    return repr(cut) if quote else cut
