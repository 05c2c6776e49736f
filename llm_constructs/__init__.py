"""Reusable L3 constructs for hosting LLMs on Amazon SageMaker."""

from .async_inference import AsyncInferenceStorage
from .async_runtime import AsyncJobRuntime
from .data_capture import DataCapture, DataCaptureBucket
from .execution_role import SageMakerExecutionRole
from .inference_code import InferenceCode
from .inference_components import ComponentEndpoint, InferenceComponent
from .model_endpoint import (AsyncOutput, BlueGreenDeployment, ImportedLlmEndpoint, LlmEndpoint,
                             ModelData, ServerlessCompute)
from .monitoring import EndpointMonitoring
from .network import ModelNetwork
from .scaling import ScalingGuardFunction, VariantAutoScaling
from .variant_capacity import ScaleInPolicy, VariantCapacity, VariantRouting

__all__ = ["AsyncInferenceStorage", "AsyncJobRuntime", "AsyncOutput", "BlueGreenDeployment",
           "ComponentEndpoint", "DataCapture", "DataCaptureBucket", "EndpointMonitoring",
           "ImportedLlmEndpoint", "InferenceCode", "InferenceComponent", "LlmEndpoint",
           "ModelData", "ModelNetwork",
           "SageMakerExecutionRole", "ScaleInPolicy", "ScalingGuardFunction",
           "ServerlessCompute", "VariantAutoScaling", "VariantCapacity", "VariantRouting"]
