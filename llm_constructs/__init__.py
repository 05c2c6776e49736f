"""Reusable L3 constructs for hosting LLMs on Amazon SageMaker."""

from .async_inference import AsyncInferenceStorage
from .execution_role import SageMakerExecutionRole
from .model_endpoint import AsyncOutput, LlmEndpoint, ModelData
from .monitoring import EndpointMonitoring
from .network import ModelNetwork
from .scaling import ScalingGuardFunction, VariantAutoScaling

__all__ = ["AsyncInferenceStorage", "AsyncOutput", "EndpointMonitoring", "LlmEndpoint",
           "ModelData", "ModelNetwork", "SageMakerExecutionRole", "ScalingGuardFunction",
           "VariantAutoScaling"]
