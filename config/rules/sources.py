"""Where the weights come from: a source the image needs, and a path to reach it; and the
secrets a container reads, which must not compete with the Hub token's."""

from __future__ import annotations

from config.backends import Problem
from config.shapes import HubSource, ModelSpec, Network, PytorchImage, S3Source
from config.shapes.secrets import HUB_TOKEN_KEYS


def source_problems(p: str, ep: ModelSpec, net: Network) -> list[Problem]:
    errors = secret_problems(p, ep)
    if ep.is_model_package:
        if ep.source is not None:
            errors.append((f"{p}.source", "a model package brings its own weights; remove "
                                          "source"))
        return errors
    if ep.source is None:
        return errors + _missing_source(p, ep)
    errors += _handler_with_s3(p, ep)
    if isinstance(ep.source, HubSource):
        errors += _hub_problems(p, ep, ep.source, net)
    return errors


def secret_problems(p: str, ep: ModelSpec) -> list[Problem]:
    """``secrets``: a model package takes no environment; a Hub source has its token in
    ``source.token_secret``, which sets the variables each image reads."""
    if ep.secrets and ep.is_model_package:
        return [(f"{p}.secrets", "a model package takes no environment, so no secrets")]
    if not isinstance(ep.source, HubSource):
        return []
    return [(f"{p}.secrets", f"{key}: the Hub token of a hub: source is source.token_secret "
                             "(it sets HF_TOKEN and what else the image reads); move the "
                             "secret there")
            for key in ep.secrets if key in HUB_TOKEN_KEYS]


def _missing_source(p: str, ep: ModelSpec) -> list[Problem]:
    errors: list[Problem] = []
    if ep.is_tgi:
        errors.append((f"{p}.source", "required key is missing: hub: <model id> or "
                                      "s3: s3://bucket/prefix/"))
    if isinstance(ep.image, PytorchImage) and ep.image.code is None:
        errors.append((f"{p}.source", "required key is missing: give source (hub: <model "
                                      "id> or s3: <uri>), or image.code with an "
                                      "inference.py whose model_fn loads the model"))
    return errors


def _handler_with_s3(p: str, ep: ModelSpec) -> list[Problem]:
    if (isinstance(ep.image, PytorchImage) and ep.image.code is not None
            and isinstance(ep.source, S3Source)):
        return [(f"{p}.image.code",
                 f"SageMaker reads one model location, and {ep.source.s3!r} is yours: "
                 "put the handler into it as code/inference.py (in the archive, or "
                 "under the prefix) and remove image.code; image.code is packed for "
                 "hub: sources and handlers that load their own model")]
    return []


def _hub_problems(p: str, ep: ModelSpec, source: HubSource, net: Network) -> list[Problem]:
    errors: list[Problem] = []
    # A serverless endpoint runs outside the VPC, with SageMaker's internet access.
    if net.egress != "nat" and not getattr(ep, "is_serverless", False):
        errors.append((f"{p}.source.hub",
                       f"{source.hub!r} is downloaded from the Hugging Face Hub, which "
                       "needs internet egress: set network.egress: nat, or put the "
                       "model in S3 (source: {s3: s3://bucket/prefix/})"))
    if ep.network_isolation:
        errors.append((f"{p}.network_isolation",
                       "a Hub model cannot load with network isolation on; "
                       "use an S3 source or set network_isolation: false"))
    if source.token_secret_key and not source.token_secret:
        errors.append((f"{p}.source.token_secret_key", "set token_secret too"))
    return errors
