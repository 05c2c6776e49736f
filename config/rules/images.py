"""The image: published in the region, and settings only the images that read them get."""

from __future__ import annotations

from config import facts
from config.backends import Problem
from config.shapes import Deployment, Endpoint, ModelPackageImage, ModelSpec, UriImage
from llm_constructs import images, inference_ami, instances


def image_problems(p: str, ep: ModelSpec, dep: Deployment) -> list[Problem]:
    errors = _region_problems(p, ep, dep)
    if ep.backend is None:  # a backend's own rules are serving rules (rules/serving.py)
        errors += _other_image_problems(p, ep, dep)
    return errors


def _region_problems(p: str, ep: ModelSpec, dep: Deployment) -> list[Problem]:
    """A DLC must be published (the build it needs, in a fixed region)."""
    try:
        dlc = ep.dlc_image()
        if dlc is not None and dep.region is not None:
            dlc.account_for(dep.region)
    except images.ImageResolutionError as exc:
        kind = ep.backend.key if ep.backend else "pytorch"
        return [(f"{p}.image.{kind}", str(exc))]
    return []


def _other_image_problems(p: str, ep: ModelSpec, dep: Deployment) -> list[Problem]:
    """PyTorch, your image, a build or a model package: no backend settings."""
    errors: list[Problem] = []
    if ep.sm_num_gpus is not None:
        errors.append((f"{p}.sm_num_gpus", "only TGI images read SM_NUM_GPUS; set what your "
                                           "image reads in environment"))
    if ep.tgi_settings is not None:
        errors.append((f"{p}.tgi_settings", "only for TGI images (image: {tgi: <version>})"))
    if isinstance(ep.image, UriImage):
        region = ep.image.parts["region"]
        if dep.region is not None and region != dep.region:
            errors.append((f"{p}.image.uri",
                           f"the image is in {region}, the endpoint in {dep.region}: SageMaker "
                           "pulls from the endpoint's region; replicate the repository"))
    elif isinstance(ep.image, ModelPackageImage):
        errors += _model_package_problems(p, ep)
    return errors


def _model_package_problems(p: str, ep: ModelSpec) -> list[Problem]:
    errors: list[Problem] = []
    if ep.environment:
        errors.append((f"{p}.environment", "a model package takes no environment"))
    if "network_isolation" in ep.model_fields_set and not ep.network_isolation:
        errors.append((f"{p}.network_isolation",
                       "SageMaker requires network isolation for model packages; "
                       "remove the key or set it to true"))
    return errors


def ami_problems(p: str, ep: Endpoint) -> list[Problem]:
    """The host AMI: one the endpoint's images run on, and none for serverless."""
    chosen, needed = ep.inference_ami_version, facts.amis_needed(ep)
    if ep.is_serverless:
        return [(f"{p}.inference_ami_version", "serverless endpoints run on SageMaker-managed "
                                               "hosts; remove it")] if chosen else []
    if len(needed) > 1:
        return [(f"{p}.components", "the components' images need different host AMIs ("
                 + "; ".join(f"{image}: {ami}" for ami, image in needed.items())
                 + "); put them on separate endpoints")]
    if chosen and (problem := _host_problem(chosen, ep.instance_type)):
        return [(f"{p}.inference_ami_version", problem)]
    wrong = [(ami, image) for ami, image in needed.items() if chosen and chosen != ami]
    return [(f"{p}.inference_ami_version",
             f"{chosen!r} does not run {image}: its CUDA version needs {ami} "
             "(llm_constructs/data/inference_ami.json); remove the key or set that")
            for ami, image in wrong]


def _host_problem(ami: str, instance_type: str) -> str | None:
    """An AMI for the accelerator the instance has (botocore documents each AMI's)."""
    kind = instances.facts(instance_type).get("kind")
    wants = inference_ami.accelerators().get(ami)
    if wants is None or kind == wants:
        return None
    has = {"cpu": "no accelerator", "gpu": "GPUs", "neuron": "Neuron accelerators"}.get(
        str(kind), str(kind))
    fitting = [a for a, k in inference_ami.accelerators().items() if k == kind]
    return (f"{ami!r} is an AMI for {'Neuron' if wants == 'neuron' else 'GPU'} hosts and "
            f"{instance_type} has {has}; "
            + (f"allowed: {', '.join(fitting)}" if fitting else "remove the key"))
