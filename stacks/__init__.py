"""Deployable units: one network stack, one stack per model endpoint. ``translate`` turns
the config into the constructs' arguments; the stacks compose."""

from .endpoint import ModelEndpointStack
from .network import NetworkStack

__all__ = ["ModelEndpointStack", "NetworkStack"]
