"""Config values as they reach the API: what a field becomes once the app has transformed
it (the endpoint name ``<project>-<name>``, the container's whole environment, the tags
with ``project``, a scaling target by mode, a latency in microseconds...). Each function
takes the field's ``Site`` and value and returns the API value, an ``At`` when the value
is better named by another field, or None when this config does not send it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llm_constructs import images

if TYPE_CHECKING:
    from config.shapes import AppConfig, Endpoint, ModelSpec


@dataclass(frozen=True)
class Site:
    """Where a config model instance sits: the config, its endpoint and container (an
    endpoint, or a component on the endpoint's instance type), and its path."""

    cfg: AppConfig
    endpoint: Endpoint | None
    spec: ModelSpec | None
    path: str


@dataclass(frozen=True)
class At:
    """An API value the error names by ``field`` (of the same site), with a ``note`` on
    how the value was made."""

    value: Any
    field: str
    note: str = ""


#: (site, the field's value) -> the API value, an ``At``, or None: not sent.
ValueOf = Callable[[Site, Any], Any]


def as_given(site: Site, value: Any) -> Any:
    return value


# -- which resources a config has -------------------------------------------------------------

def _endpoint(site: Site) -> Endpoint:
    assert site.endpoint is not None, "a field of an endpoint"
    return site.endpoint


def on_instances(value_of: ValueOf = as_given) -> ValueOf:
    """Sent in a production variant with instances (not serverless, not components)."""
    def value(site: Site, v: Any) -> Any:
        ep = _endpoint(site)
        return None if ep.is_serverless or ep.is_components else value_of(site, v)
    return value


def on_variant(site: Site, value: Any) -> Any:
    """Sent in any production variant with instances (components' too)."""
    return None if _endpoint(site).is_serverless else value


def host_ami(site: Site, value: Any) -> Any:
    """The variant's InferenceAmiVersion: the config's, else the one its DLCs need."""
    return on_variant(site, _endpoint(site).host_ami)


def when(condition: Callable[[Endpoint], bool], value_of: ValueOf = as_given) -> ValueOf:
    def value(site: Site, v: Any) -> Any:
        return value_of(site, v) if condition(_endpoint(site)) else None
    return value


def has_alarms(ep: Endpoint) -> bool:
    """``EndpointMonitoring``: real-time, async and serverless endpoints with alarms."""
    return ep.alarms.enabled and not ep.is_components


def realtime_alarms(ep: Endpoint) -> bool:
    return has_alarms(ep) and not ep.is_async


def async_alarms(ep: Endpoint) -> bool:
    return has_alarms(ep) and ep.is_async


def from_zero(ep: Endpoint) -> bool:
    """Async with min 0: the step policy and alarm that bring the first instance back."""
    return ep.is_async and ep.autoscaling is not None and ep.autoscaling.min_capacity == 0


# -- names --------------------------------------------------------------------------------

def endpoint_name(site: Site, value: Any) -> At:
    """The EndpointName: ``endpoint_name``, else ``<project>-<name>``."""
    ep = _endpoint(site)
    full = site.cfg.endpoint_name_of(ep)
    if ep.endpoint_name is not None:
        return At(full, "endpoint_name")
    return At(full, "name", f"the endpoint name {full!r} is <project>-<name>: ")


def component_name(site: Site, value: Any) -> At:
    """An InferenceComponentName: ``<endpoint name>-<component name>``."""
    full = f"{site.cfg.endpoint_name_of(_endpoint(site))}-{value}"
    return At(full, "name", f"the component name {full!r} is <endpoint name>-<name>: ")


def endpoint_dimension(site: Site, value: Any) -> Any:
    """The alarms' ``EndpointName`` dimension."""
    found = endpoint_name(site, value)
    if not has_alarms(_endpoint(site)):
        return None
    return At([{"Name": "EndpointName", "Value": found.value}], found.field, found.note)


def variant_resource(site: Site, value: Any) -> Any:
    """The scalable target of the variant: ``endpoint/<name>/variant/AllTraffic``."""
    found = endpoint_name(site, value)
    if _endpoint(site).autoscaling is None:
        return None
    return At(f"endpoint/{found.value}/variant/AllTraffic", found.field, found.note)


def components_endpoint(site: Site, value: Any) -> Any:
    return endpoint_name(site, value) if _endpoint(site).is_components else None


# -- the container ------------------------------------------------------------------------

def environment(site: Site, value: Any) -> Any:
    """The container's whole environment: what the config derives, then the user's.
    Unresolved values (the Hub token's Secrets Manager reference) are left out: CloudFormation
    resolves them at deploy."""
    import aws_cdk as cdk

    from stacks.translate import container_environment

    spec, ep = site.spec, site.endpoint
    if spec is None or spec.is_model_package or (ep is spec and ep.is_components):
        return None  # a components endpoint has no container of its own
    env = container_environment(spec)
    return {k: v for k, v in env.items() if not cdk.Token.is_unresolved(v)}


def environment_field(site: Site, variable: str) -> str:
    """The field that set ``variable``: ``environment.<variable>`` when it is the user's,
    else the serving, source or TGI field whose value it carries."""
    spec = site.spec
    assert spec is not None
    if variable in spec.environment:
        return f"environment.{variable}"
    value = environment(site, None)[variable]
    for block in ("serving", "tgi_settings", "source"):
        settings = getattr(spec, block)
        for name, given in (settings.model_dump() if settings is not None else {}).items():
            if given is not None and str(given) == value:
                return f"{block}.{name}"
    return f"environment (the derived {variable})"


def image_uris(site: Site, value: Any) -> Any:
    """The DLC's URI in the config's region, else the longest of the regions its version
    has (an environment-agnostic stack maps them all)."""
    spec = site.spec
    dlc = spec.dlc_image() if spec is not None else None
    if dlc is None:
        return None
    region = site.cfg.deployment.region
    try:
        uris = [dlc.uri_for(r) for r in ([region] if region else sorted(dlc.registries))]
    except images.ImageResolutionError:  # reported by the image rules
        return None
    return max(uris, key=len)


def unless_code(site: Site, value: Any) -> Any:
    """S3 artifacts, unless a PyTorch handler's archive replaces them."""
    from config.shapes import PytorchImage

    spec = site.spec
    if spec is not None and isinstance(spec.image, PytorchImage) and spec.image.code:
        return None
    return value


def compressed(site: Site, value: Any) -> Any:
    return unless_code(site, value) if not value.endswith("/") else None


def uncompressed(site: Site, value: Any) -> Any:
    return unless_code(site, value) if value.endswith("/") else None


def listed_zones(site: Site, value: Any) -> Any:
    """One model subnet per listed zone (stand-in IDs of the longest form)."""
    return _subnets(site, len(value)) if value else None


def counted_zones(site: Site, value: Any) -> Any:
    """One model subnet per zone, ``max_azs`` of them when no zones are listed."""
    return None if site.cfg.deployment.availability_zones else _subnets(site, value)


def _subnets(site: Site, zones: int) -> list[str] | None:
    """What reaches VpcConfig.Subnets of the models that run in the VPC (serverless ones
    do not)."""
    in_vpc = any(not ep.is_serverless for ep in site.cfg.endpoints)
    return [f"subnet-{'0' * 17}"] * zones if in_vpc else None


# -- async output ---------------------------------------------------------------------------

def s3_location(field: str) -> ValueOf:
    """``s3://<bucket>/<prefix>`` of an async path: the config's URI, or the prefix in
    ``existing_bucket``, or in the bucket the stack creates (counted at 63 characters, the
    longest bucket name)."""
    def value(site: Site, path: Any) -> Any:
        ep = _endpoint(site)
        if not ep.is_async:
            return None
        if path.startswith("s3://"):
            return path
        bucket = ep.async_settings.existing_bucket
        if bucket is None:
            return At(f"s3://{'b' * 63}/{path}", field,
                      "counting the bucket the stack creates at 63 characters: ")
        return f"s3://{bucket}/{path}"
    return value


def async_output(site: Site, value: Any) -> Any:
    return value if _endpoint(site).is_async else None


# -- tags -----------------------------------------------------------------------------------

def tag_list(site: Site, value: Any) -> Any:
    """Every resource's tags: ``deployment.tags``, ``project`` (the app adds it last) and, in
    an endpoint's stack, the endpoint's ``tags``."""
    return [{"Key": k, "Value": v} for k, v in _tags(site).items()]


def tag_map(site: Site, value: Any) -> Any:
    """RegisterScalableTarget's tags (a map): CloudFormation's ScalableTarget of a
    component with autoscaling."""
    ep = _endpoint(site) if site.endpoint is not None else None
    scaled = any(c.autoscaling is not None for c in (ep.components or [])) if ep else False
    return _tags(site) if scaled else None


def endpoint_tags(value_of: ValueOf) -> ValueOf:
    """An endpoint's own tags, checked with the global ones only when it has some (the
    global ones alone are checked at ``deployment.tags``)."""
    def value(site: Site, v: Any) -> Any:
        return value_of(site, v) if _endpoint(site).tags else None
    return value


def _tags(site: Site) -> dict[str, str]:
    """As the templates carry them (CDK sorts them by key): the endpoint's stack tags
    override the app's."""
    own = site.endpoint.tags if site.endpoint is not None else {}
    return {**site.cfg.deployment.tags, "project": site.cfg.project, **own}


# -- scaling and alarms ---------------------------------------------------------------------

def target_value(ep_mode: str) -> ValueOf:
    """A target-tracking value: the field's, else its default, in the mode that uses it."""
    def value(site: Site, v: Any) -> Any:
        sc = _endpoint(site).autoscaling
        if sc is None or (_endpoint(site).is_async != (ep_mode == "async")):
            return None
        return sc.backlog_target if ep_mode == "async" else sc.invocations_target
    return value


def microseconds(site: Site, value: Any) -> Any:
    """The p90 model latency threshold: SageMaker reports ModelLatency in microseconds."""
    return At(value * 1000, "model_latency_p90_ms", "the threshold is in microseconds "
                                                    "(ms x 1000): ")


def topic_actions(site: Site, value: Any) -> Any:
    return [value] if value is not None else None


def strategy(site: Site, value: Any) -> Any:
    return str(value).upper()


def accelerators(site: Site, value: Any) -> Any:
    return value or None  # 0: none reserved, the member is left out


def initial_count(site: Site, value: Any) -> Any:
    """Components: the variant starts with at least ``min_instances`` and one instance."""
    ep = _endpoint(site)
    if ep.is_serverless:
        return None
    if ep.is_components:
        return max(value, ep.managed_scaling.min_instances, 1)
    return value


def environment_location(site: Site, at: str) -> str:
    """The field a problem of the environment names: the whole ``environment`` for its
    size, else the field of the variable (``at`` is ``.<variable>``)."""
    if not at:
        return "environment"
    return environment_field(site, at[1:].split(".")[0])
