"""LoRA adapters on a base component: the base's image serves them, the engine's LoRA switch
stays on, and each adapter's InferenceComponentName is unique on the endpoint and valid.
(That the base is a component of the same endpoint is structural: adapters are listed
under it.)"""

from __future__ import annotations

from config.backends import Problem
from config.backends.record import version_problem
from config.shapes import ENDPOINT_NAME_RE, Component, Endpoint
from config.shapes.adapters import (LORA_SWITCH, adapter_backends, lora_environment,
                                    serves_adapters)


def adapter_problems(pc: str, ep: Endpoint, c: Component, full_name: str) -> list[Problem]:
    """The adapters of component ``c`` (at path ``pc``) of endpoint ``ep``."""
    if not c.adapters or c.image is None:
        return []
    if ep.fallback_instance_types:
        return [(f"{pc}.adapters", f"adapters on an endpoint with fallback_instance_types "
                                   f"{ep.fallback_instance_types}: the base would get one "
                                   "Specification per instance type, and an adapter takes only "
                                   "the singular Specification (cfn-lint 1.58) of a base on one "
                                   "type; put the base and its adapters on an endpoint without "
                                   "fallback types")]
    return _base_problems(pc, c) + _name_problems(pc, ep, c, full_name)


def _base_problems(pc: str, c: Component) -> list[Problem]:
    backend, version = c.backend, c.backend_version
    if backend is None or version is None or not serves_adapters(backend):
        served = f"{backend.name} {version}" if backend and version else "its image"
        return [(f"{pc}.adapters", f"{c.name!r} runs {served}, which does not load adapter "
                                   "inference components; list adapters under a component "
                                   f"with one of these images: {adapter_backends()}")]
    problem = version_problem(backend, version, "enable_lora", True, LORA_SWITCH[backend.key])
    if problem is not None:
        return [(f"{pc}.image.{backend.key}", f"the adapters need LoRA: {problem}")]
    return [(f"{pc}.environment.{key}", f"{c.environment[key]!r} would override {value!r}, "
                                        "which the adapters need (LoRA on); remove it")
            for key, value in lora_environment(c).items()
            if key in c.environment and c.environment[key] != value]


def _name_problems(pc: str, ep: Endpoint, c: Component, full_name: str) -> list[Problem]:
    """Adapters share the InferenceComponentName space with the components."""
    taken = {other.name for other in ep.components or []}
    for other in ep.components or []:
        if other is c:
            break
        taken |= {a.name for a in other.adapters}
    errors: list[Problem] = []
    for k, adapter in enumerate(c.adapters):
        pa = f"{pc}.adapters[{k}] ({adapter.name})"
        if adapter.name in taken:
            errors.append((f"{pa}.name", f"{adapter.name!r} is used by another component or "
                                         "adapter of this endpoint"))
        name = f"{full_name}-{adapter.name}"
        if not ENDPOINT_NAME_RE.match(name):
            errors.append((f"{pa}.name", f"the component name {name!r} is longer than 63 "
                                         "characters; shorten it or endpoint_name"))
        taken.add(adapter.name)
    return errors
