"""Reusable L3 constructs for hosting LLMs on Amazon SageMaker."""

from .execution_role import SageMakerExecutionRole
from .model_endpoint import LlmEndpoint, ModelData
from .network import ModelNetwork

__all__ = ["LlmEndpoint", "ModelData", "ModelNetwork", "SageMakerExecutionRole"]
