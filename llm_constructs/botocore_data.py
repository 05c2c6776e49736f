"""botocore's bundled data, loaded once per process: a service model costs about 0.12 s of
CPU to read, and the instance types, the inference AMIs and the config's API constraints all
read SageMaker's."""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.loaders import Loader


@cache
def service_model(service: str) -> dict[str, Any]:
    """The raw ``service-2`` model of ``service`` (``sagemaker``, ``cloudwatch``...)."""
    return dict(Loader().load_service_model(service, "service-2"))


@cache
def partitions() -> tuple[dict[str, Any], ...]:
    """botocore's ``partitions.json``: each partition, its regions and DNS suffix."""
    return tuple(Loader().load_data("partitions")["partitions"])
