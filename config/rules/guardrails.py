"""Deployment guardrails: real-time endpoints only, the step their strategy needs, and the
alarms auto-rollback watches."""

from __future__ import annotations

from config.backends import Problem
from config.shapes import Endpoint, Guardrails

_STEP_OF = {"canary": "canary_size_percent", "linear": "linear_step_percent"}


def guardrail_problems(p: str, ep: Endpoint) -> list[Problem]:
    g = ep.guardrails
    if g is None:
        return []
    errors: list[Problem] = []
    unsupported = _unsupported(ep)
    if unsupported:
        errors.append((f"{p}.guardrails", f"not available for {unsupported}; remove guardrails"))
    errors += _step_problems(p, g)
    if g.auto_rollback and not ep.alarms.enabled:
        errors.append((f"{p}.guardrails.auto_rollback",
                       "rolls back on the stack's 5XX and latency alarms: set alarms.enabled: "
                       "true, or auto_rollback: false"))
    return errors


def _unsupported(ep: Endpoint) -> str | None:
    if ep.is_model_package:
        return "Marketplace model packages (SageMaker supports no guardrails for them)"
    if ep.is_async:
        return "async (this project supports guardrails on real-time endpoints only)"
    if ep.is_components:
        return "components (inference components have their own rolling updates)"
    return None


def _step_problems(p: str, g: Guardrails) -> list[Problem]:
    errors = [(f"{p}.guardrails.{key}", f"required for strategy: {strategy}")
              for strategy, key in _STEP_OF.items()
              if g.strategy == strategy and getattr(g, key) is None]
    errors += [(f"{p}.guardrails.{key}", f"only for strategy: {strategy}")
               for strategy, key in _STEP_OF.items()
               if getattr(g, key) is not None and g.strategy != strategy]
    return errors
