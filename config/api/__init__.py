"""The APIs' own constraints on a config: every value that reaches a SageMaker, Application
Auto Scaling or CloudWatch parameter is checked at synth against the constraints botocore's
service model publishes for it (``botocore_model``), as the app sends it (``values``), and a
problem names the config field (``fields`` says which parameter each field reaches).

One mechanism for every field: walk the validated config, look each leaf up in the table,
make the value the API gets, check it against the parameter's shape."""

from __future__ import annotations

import typing
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel

from config.backends import Problem

from . import values
from .botocore_model import Parameter
from .fields import NOT_SENT, SENT, Sent
from .values import At, Site

if typing.TYPE_CHECKING:
    from config.shapes import AppConfig

__all__ = ["NOT_SENT", "SENT", "Parameter", "Sent", "api_problems", "decision", "field_paths"]

#: What a field reaches: its ``Sent`` entries, or why it reaches none of these APIs.
Decision = tuple[Sent, ...] | str


def api_problems(cfg: AppConfig, known: Sequence[Problem] = ()) -> list[Problem]:
    """One problem per API constraint a config value breaks, except at the paths ``known``
    already reports (the rules say it better there)."""
    reported = {path for path, _ in known}
    problems: list[Problem] = []
    checked: set[tuple[str, ...]] = set()
    for site, obj, field, value in leaves(cfg):
        found = decision(type(obj), field)
        for sent in found if isinstance(found, tuple) else ():
            if sent.part_of is not None:
                continue
            try:
                problems += check(site, field, value, sent, checked)
            except Exception:  # noqa: BLE001 - see below
                # A config the rules found wrong may not make an API value (an engine
                # version without data, a union the rules refuse): they say why. A valid
                # config that cannot is a bug, and raises.
                if not reported:
                    raise
    unique = dict.fromkeys(p for p in problems if p[0] not in reported)
    return list(unique)


def check(site: Site, field: str, value: Any, sent: Sent,
          checked: set[tuple[str, ...]]) -> list[Problem]:
    """The problems of one field's value at one parameter (none when it is not sent, or
    when the same value was checked against the same shape: the tags of every resource)."""
    api = sent.value(site, value)
    if api is None:
        return []
    name, note = field, ""
    if isinstance(api, At):
        name, note, api = api.field, api.note, api.value
    parameter = sent.parameter
    key = (site.path, name, parameter.service, parameter.shape_name, repr(api))
    if key in checked:
        return []
    checked.add(key)
    out = []
    for at, message in parameter.violations(api):
        where = (values.environment_location(site, at) if sent.value is values.environment
                 else f"{name}{at}")
        out.append((_join(site.path, where), f"{note}{message} ({parameter.source})"))
    return out


def decision(cls: type, field: str) -> Decision | None:
    """The table's entry for ``field`` of ``cls``: the first class of its MRO with one."""
    for owner in cls.__mro__:
        for key in ((owner.__name__, field), (owner.__name__, "*")):
            if key in SENT:
                return SENT[key]
            if key in NOT_SENT:
                return NOT_SENT[key]
    return None


# -- walking the config ------------------------------------------------------------------------

def leaves(cfg: AppConfig) -> Iterator[tuple[Site, BaseModel, str, Any]]:
    """(site, model instance, field, value) of every leaf field of a validated config."""
    yield from _leaves(cfg, Site(cfg, None, None, ""))


def _leaves(obj: BaseModel, site: Site) -> Iterator[tuple[Site, BaseModel, str, Any]]:
    for name, info in type(obj).model_fields.items():
        value = getattr(obj, name)
        if not model_types(info.annotation):
            yield site, obj, name, value
            continue
        items = value if isinstance(value, list) else [value]
        for i, child in enumerate(items):
            if isinstance(child, BaseModel):
                label = f"[{i}] ({getattr(child, 'name', i)})" if isinstance(value, list) else ""
                yield from _leaves(child, _child_site(site, _join(site.path, name) + label, child))


def _child_site(site: Site, path: str, child: BaseModel) -> Site:
    from config.shapes import Component, Endpoint

    if isinstance(child, Endpoint):
        return Site(site.cfg, child, child, path)
    if isinstance(child, Component) and site.endpoint is not None:
        return Site(site.cfg, site.endpoint, site.endpoint.component_view(child), path)
    return Site(site.cfg, site.endpoint, site.spec, path)


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def model_types(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation holds (directly, in a list, a union or
    an ``Annotated``), in order."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += [m for m in model_types(arg) if m not in found]
    return found


def field_paths(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type, str]]:
    """(config path, model class, field) of every leaf field the config models have, one
    per class a union offers: ``endpoints[].image.tgi``, ``endpoints[].components[].name``."""
    for name, info in model.model_fields.items():
        path = _join(prefix, name)
        children = model_types(info.annotation)
        if not children:
            yield path, model, name
        for child in children:
            yield from field_paths(child, path + ("[]" if _is_list(info.annotation) else ""))


def _is_list(annotation: Any) -> bool:
    """Whether a field holds a list (``list[X] | None`` too)."""
    return typing.get_origin(annotation) is list or any(
        _is_list(arg) for arg in typing.get_args(annotation))
