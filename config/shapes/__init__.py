"""The config's shapes: pydantic models and the checks of single fields. Rules that join
fields are in ``config/rules/``; facts derived from a model in ``config/facts.py``."""

from .base import ENDPOINT_NAME_RE, NAME_RE, S3_URI_RE, Strict, close, project_path, s3_parts
from .capture import DataCapture
from .deployment import (INTERFACE_ENDPOINTS, LOG_RETENTION_DAYS, Deployment, Encryption, FlowLogs,
                         Network)
from .endpoint import AppConfig, Component, ComponentAutoscaling, Endpoint, InstanceScaling
from .images import (BackendImage, BuildImage, Image, ModelPackageImage, PytorchImage, UriImage,
                     image_union)
from .model import ModelSize, ModelSpec, Serving, TgiSettings
from .operations import Alarms, AsyncInference, Autoscaling, Guardrails, Serverless
from .sources import HubSource, S3Source, Source

__all__ = [
    "ENDPOINT_NAME_RE", "INTERFACE_ENDPOINTS", "LOG_RETENTION_DAYS", "NAME_RE", "S3_URI_RE",
    "Alarms", "AppConfig", "AsyncInference", "Autoscaling", "BackendImage", "BuildImage",
    "Component", "ComponentAutoscaling", "DataCapture", "Deployment", "Encryption", "Endpoint",
    "FlowLogs",
    "Guardrails", "HubSource", "Image", "InstanceScaling", "ModelPackageImage", "ModelSize",
    "ModelSpec", "Network", "PytorchImage", "S3Source", "Serverless", "Serving", "Source",
    "Strict", "TgiSettings", "UriImage", "close", "image_union", "project_path", "s3_parts",
]
