"""Update-safe variant autoscaling: the constructs (``infrastructure.py``) and the scaling
guard's Lambda code (``runtime/handler.py``, standard library + boto3), which the guard
function deploys as its asset."""

from .infrastructure import RUNTIME_DIR, ScalingGuardFunction, VariantAutoScaling

__all__ = ["RUNTIME_DIR", "ScalingGuardFunction", "VariantAutoScaling"]
