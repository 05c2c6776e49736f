"""Issue 16, item 5: capacity of the production variant. Routing (``RoutingConfig``),
fallback instance types (``InstancePools``, and per-type ``Specifications`` of components),
ML capacity reservations (``CapacityReservationConfig``), the provision timeout and the
scale-in policy of managed instance scaling: the config's checks (botocore 1.44.5's limits,
the rules), the drift of our enums against cfn-lint 1.58's schema, and the templates."""

from __future__ import annotations

import json
import typing
from functools import cache

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms

from config import load_config, parse_config
from config.shapes.capacity import RoutingStrategy, ScaleInStrategy
from llm_constructs import (ComponentEndpoint, LlmEndpoint, SageMakerExecutionRole,
                            VariantCapacity, VariantRouting)
from llm_constructs.variant_capacity import ROUTING_STRATEGIES, SCALE_IN_STRATEGIES
from stacks import translate
from tests.helpers import (changed, config_data, dev_with, one, problems, resources,
                           synthesize)
from tests.test_lint_and_nag import lint

EP = "endpoints[0] (chat)"
IC = "endpoints[0] (llama3)"
PLAN = "arn:aws:sagemaker:us-east-1:111122223333:training-plan/llm-eval"
SOURCE = "(botocore 1.44.5 sagemaker CreateEndpointConfig)"


def seed_with(**changes) -> dict:
    return changed(config_data("seed-components"), **changes)


def dev_problems(**changes) -> dict[str, str]:
    return problems(dev_with(**{f"endpoints.0.{k}": v for k, v in changes.items()}))


# -- the facts against their sources ------------------------------------------------------
@cache
def _cfn_definitions() -> dict:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(
        "us-east-1", "AWS::SageMaker::EndpointConfig").schema
    return dict(schema["definitions"])


def _botocore_enum(shape: str) -> set[str]:
    from llm_constructs.botocore_data import service_model

    return set(service_model("sagemaker")["shapes"][shape]["enum"])


def test_strategies_are_the_ones_cloudformation_takes_and_sagemaker_knows():
    """cfn-lint's schema is what CloudFormation accepts (it lacks botocore's KV_AWARE)."""
    cfn = _cfn_definitions()
    routing = {s.upper() for s in typing.get_args(RoutingStrategy)}
    assert routing == set(cfn["RoutingConfig"]["properties"]["RoutingStrategy"]["enum"]) \
        == set(ROUTING_STRATEGIES)
    assert routing < _botocore_enum("RoutingStrategy")
    scale_in = {s.upper() for s in typing.get_args(ScaleInStrategy)}
    assert scale_in == set(cfn["ScaleInPolicy"]["properties"]["Strategy"]["enum"]) \
        == set(SCALE_IN_STRATEGIES) == _botocore_enum("ManagedInstanceScalingScaleInStrategy")
    preference = cfn["CapacityReservationConfig"]["properties"]["CapacityReservationPreference"]
    assert preference["pattern"] == "capacity-reservations-only"
    assert _botocore_enum("CapacityReservationPreference") == {"capacity-reservations-only"}


def test_what_a_capacity_change_replaces():
    """cfn-lint's createOnlyProperties: every capacity setting sits in ProductionVariants, so a
    change makes a new EndpointConfig and updates the Endpoint in place (blue/green); an
    InferenceComponent has no create-only property, so moving from Specification to
    per-type Specifications updates it in place. Nothing for the deploy-risk guard to add."""
    from tests.helpers import create_only_properties

    assert "ProductionVariants" in create_only_properties("AWS::SageMaker::EndpointConfig")
    assert create_only_properties("AWS::SageMaker::Endpoint") == {"EndpointName"}
    assert create_only_properties("AWS::SageMaker::InferenceComponent") == set()


# -- the shipped configs ------------------------------------------------------------------
def test_prod_routes_to_the_least_busy_instance_and_waits_for_capacity():
    chat = load_config("prod").endpoints[0]
    assert chat.routing is not None and chat.routing.api_strategy == "LEAST_OUTSTANDING_REQUESTS"
    assert chat.instance_provision_timeout_seconds == 1800


def test_seed_components_releases_idle_instances():
    for ep in load_config("seed-components").endpoints:  # the merged model's, the LoRA one's
        scale_in = ep.instance_scaling.scale_in if ep.instance_scaling else None
        assert scale_in is not None and scale_in.api_strategy == "IDLE_RELEASE", ep.name


# -- routing ------------------------------------------------------------------------------
def test_prefix_aware_needs_both_of_its_settings():
    found = dev_problems(routing={"strategy": "prefix_aware"})
    assert found == {f"{EP}.routing.prefix_length": "required for strategy: prefix_aware",
                     f"{EP}.routing.concurrency_threshold": "required for strategy: prefix_aware"}


def test_prefix_settings_belong_to_prefix_aware_only():
    found = dev_problems(routing={"strategy": "random", "prefix_length": 4096})
    assert found == {f"{EP}.routing.prefix_length":
                     "only for strategy: prefix_aware (strategy is random): remove it"}


def test_prefix_aware_needs_two_instances_to_choose_from():
    found = dev_problems(routing={"strategy": "prefix_aware", "prefix_length": 4096,
                                  "concurrency_threshold": 8}, autoscaling=None)
    assert "this endpoint has at most 1" in found[f"{EP}.routing.strategy"]


@pytest.mark.parametrize("routing", [
    {"strategy": "prefix_aware", "prefix_length": 4096, "concurrency_threshold": 8},
    {"strategy": "least_outstanding_requests"}])
def test_routing_is_for_requests_as_they_arrive_not_for_async(routing):
    data = changed(config_data("seed-async"), **{"endpoints.0.routing": routing})
    assert problems(data) == {"endpoints[0] (flan-t5-xxl).routing": (
        "an async endpoint takes requests from its own queue; SageMaker documents routing "
        "(RoutingConfig) for requests it routes as they arrive, not for queued ones: remove "
        "routing")}


def test_an_unknown_strategy_lists_the_allowed_ones():
    found = dev_problems(routing={"strategy": "kv_aware"})
    assert "'least_outstanding_requests', 'prefix_aware' or 'random'" in \
        found[f"{EP}.routing.strategy"]


def test_botocore_limits_the_numbers():
    found = dev_problems(routing={"strategy": "prefix_aware", "prefix_length": 100,
                                  "concurrency_threshold": 2000},
                         instance_provision_timeout_seconds=60)
    assert found == {
        f"{EP}.routing.prefix_length": "100 is below the minimum SageMaker's "
        f"PrefixAwareRoutingConfig.PrefixLength takes, 1024 {SOURCE}",
        f"{EP}.routing.concurrency_threshold": "2000 is above the maximum SageMaker's "
        f"PrefixAwareRoutingConfig.ConcurrencyThreshold takes, 1024 {SOURCE}",
        f"{EP}.instance_provision_timeout_seconds": "60 is below the minimum SageMaker's "
        f"ProductionVariant.VariantInstanceProvisionTimeoutInSeconds takes, 300 {SOURCE}"}


# -- capacity reservations -----------------------------------------------------------------
def test_a_reservation_on_a_reservable_type_is_valid():
    cfg = parse_config(dev_with(**{"endpoints.0.instance_type": "ml.p5.48xlarge",
                                   "endpoints.0.capacity_reservation": {"arn": PLAN},
                                   "deployment.region": "us-east-1"}))
    reservation = cfg.endpoints[0].capacity_reservation
    assert reservation is not None and reservation.preference == "capacity-reservations-only"


def test_only_reservable_types_can_be_reserved():
    found = dev_problems(capacity_reservation={"arn": PLAN})
    assert found[f"{EP}.instance_type"].startswith(
        "ml.g5.2xlarge cannot be reserved: ML capacity reservations hold ml.p4d.24xlarge, ")
    assert "(botocore ReservedCapacityInstanceType)" in found[f"{EP}.instance_type"]


@pytest.mark.parametrize(("arn", "says"), [
    ("arn:aws:kms:us-east-1:111122223333:key/abc", "is not an ARN of sagemaker"),
    ("arn:aws:sagemaker:us-east-1:111122223333:endpoint/chat",
     "must start with ml-reservation/ or training-plan/"),
    ("arn:aws:sagemaker:us-east-1:1234:training-plan/x", "the account must be 12 digits"),
])
def test_a_reservation_arn_is_a_sagemaker_reservation(arn, says):
    found = dev_problems(instance_type="ml.p5.48xlarge", capacity_reservation={"arn": arn})
    assert says in found[f"{EP}.capacity_reservation.arn"]


def test_a_reservation_of_another_region_is_refused():
    found = problems(dev_with(**{
        "endpoints.0.instance_type": "ml.p5.48xlarge", "deployment.region": "eu-west-1",
        "endpoints.0.capacity_reservation": {"arn": PLAN}}))
    assert found == {f"{EP}.capacity_reservation.arn":
                     f"{PLAN} is in us-east-1; the stack deploys to eu-west-1, and the endpoint "
                     "uses resources of its own region: give one in eu-west-1"}


def test_a_reservation_leaves_no_room_for_fallback_types():
    found = dev_problems(instance_type="ml.p5.48xlarge", capacity_reservation={"arn": PLAN},
                         fallback_instance_types=["ml.p5e.48xlarge"], autoscaling=None)
    assert "could never launch" in found[f"{EP}.capacity_reservation"]


# -- fallback instance types ---------------------------------------------------------------
def test_a_fallback_type_is_a_hosting_type():
    found = dev_problems(fallback_instance_types=["ml.g5.3xlarge"], autoscaling=None)
    assert "'ml.g5.3xlarge' is not a SageMaker hosting instance type (did you mean" in \
        found[f"{EP}.fallback_instance_types"]


def test_a_fallback_type_is_given_once():
    found = dev_problems(fallback_instance_types=["ml.g5.2xlarge"], autoscaling=None)
    assert found == {f"{EP}.fallback_instance_types[0]":
                     "ml.g5.2xlarge is listed already (instance_type is priority 1): give each "
                     "type once"}


def test_a_fallback_type_has_as_many_gpus():
    """SM_NUM_GPUS is derived from instance_type: a 4-GPU fallback would run 1 shard."""
    found = dev_problems(fallback_instance_types=["ml.g6.2xlarge", "ml.g5.12xlarge"],
                         autoscaling=None)
    assert found == {f"{EP}.fallback_instance_types[1]":
                     "ml.g5.12xlarge has 4 GPU(s) and ml.g5.2xlarge 1; the container's settings "
                     "(SM_NUM_GPUS, tensor parallelism) are derived from ml.g5.2xlarge's, one "
                     "for every type: pick a type with 1"}


def test_a_fallback_type_must_fit_the_weights():
    """prod's 32.8B in bf16 needs ~73 GiB: 4x T4 (16 GiB each) is too small."""
    data = changed(config_data("prod"), **{"endpoints.0.fallback_instance_types":
                                           ["ml.g4dn.12xlarge"], "endpoints.0.autoscaling": None})
    message = problems(data)[f"{EP}.fallback_instance_types[0]"]
    assert message.startswith("32.8B parameters in bf16 need ~73 GiB of GPU memory")
    assert "ml.g4dn.12xlarge gives" in message


def test_a_volume_size_refuses_a_fallback_type_with_nvme_storage():
    found = dev_problems(instance_type="ml.p3.2xlarge", volume_size_gb=100, autoscaling=None,
                         fallback_instance_types=["ml.g5.2xlarge"],
                         model_size={"parameters_billions": 1.5})
    assert found == {f"{EP}.fallback_instance_types[0]":
                     "ml.g5.2xlarge has local NVMe storage and SageMaker rejects "
                     "VolumeSizeInGB for it: remove volume_size_gb, or this type"}


def test_too_many_fallback_types_are_counted_with_instance_type():
    found = dev_problems(fallback_instance_types=["ml.g6.2xlarge", "ml.g6e.2xlarge",
                                                  "ml.g5.4xlarge", "ml.g5.8xlarge",
                                                  "ml.g5.16xlarge"], autoscaling=None)
    assert found == {f"{EP}.fallback_instance_types":
                     "5 types; with instance_type that makes 6 instance pools, and SageMaker "
                     "takes at most 5 (botocore InstancePoolList): give at most 4"}


def test_fallback_types_with_autoscaling_are_accepted():
    """dev's chat endpoint scales on invocations: with a fallback type, its scaling guard
    tells an instance-type change by the pools' types (tests/test_scaling_guard.py)."""
    from config import parse_config

    data = dev_with(**{"endpoints.0.fallback_instance_types": ["ml.g6.2xlarge"]})
    (ep,) = parse_config(data).endpoints
    assert ep.autoscaling is not None and ep.instance_types == ["ml.g5.2xlarge",
                                                                "ml.g6.2xlarge"]


def test_a_component_copy_must_fit_each_fallback_type():
    found = problems(seed_with(**{"endpoints.0.fallback_instance_types": ["ml.g6.2xlarge"]}))
    assert found == {f"{IC}.fallback_instance_types[0]":
                     "components 'naver-news' reserves 4 accelerators per copy; ml.g6.2xlarge "
                     "has 1"}


# -- scale-in policy -----------------------------------------------------------------------
def test_step_size_and_cooldown_are_for_consolidation():
    found = problems(seed_with(**{"endpoints.0.instance_scaling.scale_in": {
        "strategy": "idle_release", "max_step_size": 2}}))
    assert found == {f"{IC}.instance_scaling.scale_in.max_step_size":
                     "only for strategy: consolidation (strategy is idle_release): remove it"}


def test_botocore_limits_consolidation():
    found = problems(seed_with(**{"endpoints.0.instance_scaling.scale_in": {
        "strategy": "consolidation", "max_step_size": 101, "cooldown_minutes": 4}}))
    policy = "ProductionVariantManagedInstanceScalingScaleInPolicy"
    assert found == {
        f"{IC}.instance_scaling.scale_in.max_step_size":
            f"101 is above the maximum SageMaker's {policy}.MaximumStepSize takes, 100 {SOURCE}",
        f"{IC}.instance_scaling.scale_in.cooldown_minutes":
            f"4 is below the minimum SageMaker's {policy}.CooldownInMinutes takes, 5 {SOURCE}"}


# -- serverless ----------------------------------------------------------------------------
def test_serverless_refuses_every_capacity_setting():
    data = config_data("seed-containers")
    index = next(i for i, ep in enumerate(data["endpoints"]) if ep.get("mode") == "serverless")
    data = changed(data, **{f"endpoints.{index}.{key}": value for key, value in {
        "routing": {"strategy": "random"}, "fallback_instance_types": ["ml.m5.xlarge"],
        "capacity_reservation": {"arn": PLAN}, "instance_provision_timeout_seconds": 600}.items()})
    name = data["endpoints"][index]["name"]
    found = problems(data)
    keys = ("routing", "fallback_instance_types", "capacity_reservation",
            "instance_provision_timeout_seconds")
    assert {k: v for k, v in found.items() if k.startswith(f"endpoints[{index}]")} == {
        f"endpoints[{index}] ({name}).{key}": "serverless endpoints have no instances (SageMaker "
        "sizes them from serverless.memory_size_mb): remove it" for key in keys}


# -- templates ----------------------------------------------------------------------------
def test_backends_vllm_falls_back_to_l40s_then_l4():
    """The one app synth: config -> stack -> variant."""
    template = synthesize("backends").endpoint("vllm")
    _, config = one(template, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["Properties"]["ProductionVariants"]
    assert "InstanceType" not in variant
    assert variant["InstancePools"] == [{"InstanceType": "ml.g5.12xlarge", "Priority": 1},
                                        {"InstanceType": "ml.g6e.12xlarge", "Priority": 2},
                                        {"InstanceType": "ml.g6.12xlarge", "Priority": 3}]
    assert variant["VariantInstanceProvisionTimeoutInSeconds"] == 1200
    assert "RoutingConfig" not in variant and "CapacityReservationConfig" not in variant
    # the scaling guard tells a change of types by the pools' types in priority order
    fingerprints = {r["Properties"]["Fingerprint"] for r in template["Resources"].values()
                    if r["Type"] in ("Custom::ScalingRelease", "Custom::ScalableVariant")}
    assert fingerprints == {"ml.g5.12xlarge, ml.g6e.12xlarge, ml.g6.12xlarge"}


@cache
def _template() -> dict:
    """Every capacity setting on the constructs, in one stack built alone (no app synth):
    a real-time endpoint with pools and prefix-aware routing, one on a reservation, and
    seed-components with a fallback type through the stack's translation."""
    app = cdk.App()
    stack = cdk.Stack(app, "Capacity", env=cdk.Environment(region="us-east-1"))
    role = SageMakerExecutionRole(stack, "Role", description="test")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/llm:1"
    LlmEndpoint(stack, "Llm", execution_role=role, instance_type="ml.g5.12xlarge",
                image_uri=image, endpoint_name="capacity",
                capacity=VariantCapacity(
                    routing=VariantRouting(strategy="PREFIX_AWARE", prefix_length=4096,
                                    concurrency_threshold=16),
                    fallback_instance_types=("ml.g6e.12xlarge",),
                    provision_timeout=cdk.Duration.minutes(20)))
    LlmEndpoint(stack, "Cpu", execution_role=role, instance_type="ml.m5.xlarge",
                image_uri=image, endpoint_name="cpu", volume_kms_key=kms.Key(stack, "Key"),
                capacity=VariantCapacity(fallback_instance_types=("ml.m5d.xlarge",)))
    LlmEndpoint(stack, "Reserved", execution_role=role, instance_type="ml.p5.48xlarge",
                image_uri=image, endpoint_name="reserved",
                capacity=VariantCapacity(reservation_arn=PLAN))
    ep = parse_config(seed_with(**{
        "endpoints.0.fallback_instance_types": ["ml.g6.12xlarge"]})).endpoints[0]
    components = ComponentEndpoint(
        stack, "Components", execution_role=role, instance_type=ep.instance_type,
        endpoint_name="components", min_instances=0,
        capacity=translate.variant_capacity(ep), scale_in=translate.scale_in(ep))
    components.add_component("C", component_name="components-c", image_uri=image,
                             memory_mb=1024, accelerators=4)
    return app.synth().get_stack_by_name("Capacity").template


def _variants() -> dict[str, dict]:
    return {lid: config["Properties"]["ProductionVariants"][0] for lid, config in
            resources(_template(), "AWS::SageMaker::EndpointConfig").items()}


def _variant(prefix: str) -> dict:
    (variant,) = [v for lid, v in _variants().items() if lid.startswith(prefix)]
    return variant


def test_realtime_variant_takes_pools_prefix_aware_routing_and_timeout():
    variant = _variant("Llm")
    assert "InstanceType" not in variant
    assert variant["InstancePools"] == [{"InstanceType": "ml.g5.12xlarge", "Priority": 1},
                                        {"InstanceType": "ml.g6e.12xlarge", "Priority": 2}]
    assert variant["RoutingConfig"] == {
        "RoutingStrategy": "PREFIX_AWARE",
        "PrefixAwareRoutingConfig": {"PrefixLength": 4096, "ConcurrencyThreshold": 16}}
    assert variant["VariantInstanceProvisionTimeoutInSeconds"] == 1200


def test_no_volume_key_when_any_type_has_nvme_storage():
    """SageMaker refuses a KmsKeyId for instance-store types: ml.m5d.xlarge may launch."""
    (config,) = [c["Properties"] for lid, c in resources(
        _template(), "AWS::SageMaker::EndpointConfig").items() if lid.startswith("Cpu")]
    assert "KmsKeyId" not in config
    assert [p["InstanceType"] for p in config["ProductionVariants"][0]["InstancePools"]] == [
        "ml.m5.xlarge", "ml.m5d.xlarge"]


def test_reserved_variant_launches_only_into_its_reservation():
    variant = _variant("Reserved")
    assert variant["InstanceType"] == "ml.p5.48xlarge"
    assert variant["CapacityReservationConfig"] == {
        "MlReservationArn": PLAN, "CapacityReservationPreference": "capacity-reservations-only"}


def test_components_variant_has_pools_scale_in_and_per_type_specifications():
    variant = _variant("Components")
    assert "InstanceType" not in variant
    assert variant["InstancePools"] == [{"InstanceType": "ml.g5.12xlarge", "Priority": 1},
                                        {"InstanceType": "ml.g6.12xlarge", "Priority": 2}]
    assert variant["ManagedInstanceScaling"]["ScaleInPolicy"] == {"Strategy": "IDLE_RELEASE"}
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    _, component = one(_template(), "AWS::SageMaker::InferenceComponent")
    props = component["Properties"]
    assert "Specification" not in props
    assert [s["InstanceType"] for s in props["Specifications"]] == ["ml.g5.12xlarge",
                                                                     "ml.g6.12xlarge"]
    assert [s["ComputeResourceRequirements"] for s in props["Specifications"]] == [
        {"MinMemoryRequiredInMb": 1024, "NumberOfAcceleratorDevicesRequired": 4}] * 2


def test_the_capacity_template_is_cfn_lint_clean():
    matches = lint(json.dumps(_template()))
    assert [str(m) for m in matches if m.rule.id.startswith(("E", "W"))
            and m.rule.id != "W3005"] == []


@pytest.mark.parametrize(("make", "says"), [
    (lambda: VariantRouting(strategy="PREFIX_AWARE"), "both for PREFIX_AWARE"),
    (lambda: VariantRouting(strategy="KV_AWARE"), "one of LEAST_OUTSTANDING_REQUESTS"),
    (lambda: VariantCapacity(reservation_arn=PLAN, fallback_instance_types=("ml.p5e.48xlarge",)),
     "no fallbacks"),
])
def test_the_construct_refuses_contradictions(make, says):
    with pytest.raises(ValueError, match=says):
        make()
