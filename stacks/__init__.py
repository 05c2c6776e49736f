"""Deployable units: one network stack, one stack per model endpoint."""

from .endpoint import ModelEndpointStack
from .network import NetworkStack

__all__ = ["ModelEndpointStack", "NetworkStack"]
