"""Issue 12: the config's shapes document themselves (every field has a description, the
JSON Schema builds). Alarms on components: tests/test_component_monitoring.py."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from config import AppConfig


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    """Every model reachable from ``model`` through its fields."""
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for arg in _types(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                _models(arg, seen)


def _types(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", None) or getattr(annotation, "__origin__", None)
    if args is None:
        return [annotation]
    if not isinstance(args, tuple):
        args = (args,)
    return [annotation] + [t for a in args for t in _types(a)]


def test_every_config_field_has_a_description():
    seen: set[type[BaseModel]] = set()
    _models(AppConfig, seen)
    names = {m.__name__ for m in seen}
    assert {"AppConfig", "Endpoint", "Component", "TgiImage", "VllmImage", "HubSource",
            "AsyncInference", "Guardrails", "Serving", "TgiSettings"} <= names
    missing = [f"{m.__name__}.{name}" for m in seen for name, f in m.model_fields.items()
               if not f.description]
    assert missing == []


def test_the_json_schema_builds_and_carries_the_descriptions():
    schema = AppConfig.model_json_schema()
    assert schema["required"] == ["project", "endpoints"]
    endpoint = schema["$defs"]["Endpoint"]["properties"]
    assert endpoint["mode"]["enum"] == ["realtime", "async", "components", "serverless"]
    assert "SageMaker endpoint name" in endpoint["endpoint_name"]["description"]
    image_kinds = {ref["$ref"].rsplit("/", 1)[1] for ref in endpoint["image"]["anyOf"][0]["oneOf"]}
    assert image_kinds == {"TgiImage", "VllmImage", "SglangImage", "LmiImage", "PytorchImage",
                           "UriImage", "BuildImage", "ModelPackageImage"}
