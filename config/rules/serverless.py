"""Serverless endpoints: CPU capacity SageMaker manages, outside the VPC."""

from __future__ import annotations

from config.backends import Problem
from config.shapes import Endpoint, Network, Serverless

#: Keys a serverless endpoint has no use for, and why.
_NOT_SERVERLESS = (("async_inference", "serverless endpoints are synchronous"),
                   ("volume_size_gb", "serverless endpoints have no volume to size"),
                   ("guardrails", "SageMaker has no deployment guardrails for serverless "
                                  "endpoints"))


def serverless_problems(p: str, ep: Endpoint, net: Network) -> list[Problem]:
    if not ep.is_serverless:
        return [(f"{p}.serverless", "only for mode: serverless")] if ep.serverless else []
    errors = _image_problems(p, ep)
    if net.egress == "none":
        errors.append((f"{p}.mode", "network.egress: none promises models no internet path, "
                                    "but serverless endpoints run outside your VPC (SageMaker "
                                    "takes no VpcConfig for them); use a real-time endpoint"))
    return errors + _instance_problems(p, ep) + _concurrency_problems(p, ep)


def _instance_problems(p: str, ep: Endpoint) -> list[Problem]:
    """Settings of instances and VPC placement, which a serverless endpoint has not."""
    errors: list[Problem] = []
    if ep.network_isolation:
        errors.append((f"{p}.network_isolation", "not supported on serverless endpoints"))
    errors += [(f"{p}.{key}", why) for key, why in _NOT_SERVERLESS
               if getattr(ep, key) is not None]
    if "initial_instance_count" in ep.model_fields_set:
        errors.append((f"{p}.initial_instance_count", "serverless endpoints have no instances"))
    return errors


def _concurrency_problems(p: str, ep: Endpoint) -> list[Problem]:
    errors: list[Problem] = []
    sv = ep.serverless or Serverless()
    if sv.provisioned_concurrency is not None and sv.provisioned_concurrency > sv.max_concurrency:
        errors.append((f"{p}.serverless.provisioned_concurrency",
                       f"{sv.provisioned_concurrency} is above max_concurrency "
                       f"{sv.max_concurrency}"))
    return errors


def _image_problems(p: str, ep: Endpoint) -> list[Problem]:
    """No instance type, so no GPU: the images that need one cannot run."""
    errors: list[Problem] = []
    if "instance_type" in ep.model_fields_set:
        errors.append((f"{p}.instance_type",
                       "serverless endpoints have no instance type and no GPU: SageMaker "
                       "sizes CPU compute from serverless.memory_size_mb; remove it"))
    if ep.is_tgi:
        errors.append((f"{p}.image.tgi", "TGI needs a GPU and serverless endpoints have none; "
                                         "use pytorch: <version> (CPU build) or a real-time "
                                         "endpoint"))
    if ep.is_model_package:
        errors.append((f"{p}.image.model_package", "SageMaker does not serve model packages "
                                                   "on serverless endpoints"))
    return errors
