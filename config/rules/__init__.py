"""Rules that join several fields, by concern; ``semantic_errors`` runs them all. Each
returns ``(path, message)`` pairs naming the field, the bad value and what is allowed."""

from __future__ import annotations

from config.api import api_problems
from config.backends import BACKENDS, Problem
from config.shapes import AppConfig, Deployment, Endpoint, ModelSpec, Network
from config.shapes.images import image_choices
from llm_constructs import instances

from .accelerators import accelerator_problems
from .arns import arn_problems
from .asynchronous import async_problems
from .capacity import capacity_problems
from .capture import capture_problems
from .components import components_problems
from .deployment import name_problems, network_problems, zone_problems
from .guardrails import guardrail_problems
from .images import ami_problems, image_problems
from .scaling import scaling_problems
from .serverless import serverless_problems
from .serving import serving_problems
from .sizing import sizing_problems
from .sources import source_problems

__all__ = ["model_problems", "semantic_errors"]


def semantic_errors(cfg: AppConfig) -> list[Problem]:
    """Rules that join several fields. Returns ``(path, message)`` pairs."""
    errors = zone_problems(cfg.deployment) + network_problems(cfg.network)
    seen: dict[str, str] = {}
    for i, ep in enumerate(cfg.endpoints):
        p = f"endpoints[{i}] ({ep.name})"
        full = cfg.endpoint_name_of(ep)
        errors += name_problems(p, ep, full, seen)
        errors += endpoint_problems(p, ep, full, cfg.network, cfg.deployment)
    return errors + api_problems(cfg, known=errors)


def endpoint_problems(p: str, ep: Endpoint, full: str, net: Network,
                      dep: Deployment) -> list[Problem]:
    """The rules of one endpoint, after its mode."""
    if ep.is_components:
        errors = components_problems(
            p, ep, full, lambda pc, c: model_problems(pc, c, net, dep))
    elif ep.image is None:
        errors = [(f"{p}.image", f"required key is missing: {image_choices(BACKENDS)}")]
    else:
        errors = model_problems(p, ep, net, dep)
        errors += [(f"{p}.{key}", "only for mode: components")
                   for key in ("components", "instance_scaling") if getattr(ep, key) is not None]
    errors += serverless_problems(p, ep, net) + guardrail_problems(p, ep) + ami_problems(p, ep)
    if ep.volume_size_gb is not None and instances.has_instance_store(ep.instance_type):
        errors.append((f"{p}.volume_size_gb",
                       f"{ep.instance_type} has local NVMe storage and SageMaker rejects "
                       "VolumeSizeInGB for it; remove volume_size_gb"))
    return (errors + scaling_problems(p, ep) + async_problems(p, ep)
            + arn_problems(p, ep, dep) + capture_problems(p, ep) + capacity_problems(p, ep))


def model_problems(p: str, ep: ModelSpec, net: Network, dep: Deployment) -> list[Problem]:
    """The rules of one container: source, image, serving backend, sizing."""
    errors = source_problems(p, ep, net) + image_problems(p, ep, dep) + serving_problems(p, ep)
    if ep.backend or (ep.is_pytorch and ep.uses_gpu):
        errors += sizing_problems(p, ep)
    accelerators = accelerator_problems(p, ep)
    if accelerators:  # says why the type does not fit, instead of "has no GPU" beside it
        errors = [e for e in errors if e[0] != f"{p}.instance_type"]
    return errors + accelerators
