"""The ARNs a config names belong to the stack's partition and, for regional services, its
region: SageMaker reads model packages, KMS keys and artifacts of the endpoint's own region,
and CloudWatch alarms notify topics of their own region. With a fixed ``deployment.region``
this is checked here; an environment-agnostic stack gets a ``CfnRule`` per ARN instead
(``stacks/translate.py``)."""

from __future__ import annotations

from config.arns import Arn, parse_arn, parse_kms_key_arn
from config.backends import Problem
from config.shapes import Deployment, Endpoint, ModelPackageImage, S3Source
from config.shapes.capacity import parse_reservation_arn
from llm_constructs.partitions import partition_of


def arns_of(ep: Endpoint) -> list[tuple[str, Arn]]:
    """(field, ARN) of every ARN the endpoint names (validated already)."""
    found = [(f"invoke_principals[{i}]", parse_arn(a, service="iam", resource="role/",
                                                    regional=False))
             for i, a in enumerate(ep.invoke_principals)]
    if ep.alarms.topic_arn:
        found.append(("alarms.topic_arn", parse_arn(ep.alarms.topic_arn, service="sns",
                                                    resource="")))
    if ep.capacity_reservation is not None:
        found.append(("capacity_reservation.arn",
                      parse_reservation_arn(ep.capacity_reservation.arn)))
    if ep.data_capture is not None and ep.data_capture.kms_key_arn:
        found.append(("data_capture.kms_key_arn",
                      parse_kms_key_arn(ep.data_capture.kms_key_arn)))
    models = ([(f"components[{i}] ({c.name}).", c) for i, c in enumerate(ep.components or [])]
              if ep.is_components else [("", ep)])
    for prefix, spec in models:
        if isinstance(spec.image, ModelPackageImage) and spec.image.model_package.startswith(
                "arn:"):
            found.append((f"{prefix}image.model_package", parse_arn(
                spec.image.model_package, service="sagemaker", resource="model-package/")))
        if isinstance(spec.source, S3Source) and spec.source.kms_key_arn:
            found.append((f"{prefix}source.kms_key_arn",
                          parse_kms_key_arn(spec.source.kms_key_arn)))
        found += [(f"{prefix}adapters[{k}] ({a.name}).kms_key_arn",
                   parse_kms_key_arn(a.kms_key_arn))
                  for k, a in enumerate(getattr(spec, "adapters", [])) if a.kms_key_arn]
    return found


def arn_problems(p: str, ep: Endpoint, dep: Deployment) -> list[Problem]:
    if dep.region is None:
        return []
    partition = partition_of(dep.region).name
    errors: list[Problem] = []
    for field, arn in arns_of(ep):
        if arn.region and arn.region != dep.region:
            errors.append((f"{p}.{field}", f"{arn} is in {arn.region}; the stack deploys to "
                                           f"{dep.region}, and the endpoint uses resources of "
                                           "its own region: give one in "
                                           f"{dep.region}"))
        elif arn.partition != partition:
            errors.append((f"{p}.{field}", f"{arn} is in partition {arn.partition}; "
                                           f"{dep.region} is in {partition}"))
    return errors
