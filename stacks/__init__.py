"""Deployable units: one network stack, one stack per model endpoint. ``translate`` turns
the config into the constructs' arguments; the stacks compose. ``app_stacks.build_stacks``
builds a config's stacks for ``cdk deploy`` and for a pipeline stage (``stage``);
``pipeline`` is the CDK Pipelines fleet (imported only by ``-c pipeline=...``)."""

from .endpoint import ModelEndpointStack
from .network import NetworkStack

__all__ = ["ModelEndpointStack", "NetworkStack"]
