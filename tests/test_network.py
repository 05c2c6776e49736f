"""The network stack: private model subnets, S3 gateway endpoint on their route tables,
flow logs, NAT only with egress, interface endpoints from config, no context lookups."""

from __future__ import annotations

import json

import pytest

from tests.helpers import one, output_ref, resources


def model_subnet_ids(synth) -> list[str]:
    """Logical IDs (in the network stack) of the subnets the Models' VpcConfig use; the
    same for every endpoint of the app."""
    found = set()
    for template in synth.endpoints.values():
        if template["Outputs"]["Mode"]["Value"] == "serverless":
            continue  # SageMaker takes no VpcConfig for serverless endpoints
        for model in resources(template, "AWS::SageMaker::Model").values():
            refs = model["Properties"]["VpcConfig"]["Subnets"]
            found.add(tuple(output_ref(synth.network, ref)["Ref"] for ref in refs))
    assert len(found) == 1, found
    return list(found.pop())


def route_tables_of(network: dict, subnet_ids: list[str]) -> set[str]:
    tables = set()
    for assoc in resources(network, "AWS::EC2::SubnetRouteTableAssociation").values():
        if assoc["Properties"]["SubnetId"]["Ref"] in subnet_ids:
            tables.add(assoc["Properties"]["RouteTableId"]["Ref"])
    return tables


def test_s3_gateway_endpoint_is_on_the_model_subnets_route_tables(shipped):
    subnets = model_subnet_ids(shipped)
    assert len(subnets) >= 2
    gateways = [r for r in resources(shipped.network, "AWS::EC2::VPCEndpoint").values()
                if r["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"]
    assert len(gateways) == 1
    gw = gateways[0]["Properties"]
    assert "s3" in json.dumps(gw["ServiceName"])
    attached = {t["Ref"] for t in gw["RouteTableIds"]}
    assert route_tables_of(shipped.network, subnets) == attached


def test_model_subnets_are_private_and_span_azs(shipped):
    subnets = resources(shipped.network, "AWS::EC2::Subnet")
    for sid in model_subnet_ids(shipped):
        assert subnets[sid]["Properties"]["MapPublicIpOnLaunch"] is False
    zones = {json.dumps(subnets[s]["Properties"]["AvailabilityZone"])
             for s in model_subnet_ids(shipped)}
    assert len(zones) == len(model_subnet_ids(shipped))


def test_dev_has_one_nat_gateway_and_models_route_through_it(dev):
    nats = resources(dev.network, "AWS::EC2::NatGateway")
    assert len(nats) == 1
    tables = route_tables_of(dev.network, model_subnet_ids(dev))
    default_routes = [r["Properties"] for r in resources(dev.network, "AWS::EC2::Route").values()
                      if r["Properties"]["RouteTableId"]["Ref"] in tables
                      and r["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert len(default_routes) == len(tables)
    assert all("NatGatewayId" in r for r in default_routes)


def test_prod_has_no_internet_path(prod):
    for type_ in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        assert not resources(prod.network, type_), type_
    assert not [r for r in resources(prod.network, "AWS::EC2::Route").values()
                if r["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert len(model_subnet_ids(prod)) == 3  # max_azs: 3


def test_prod_interface_endpoints_from_config(prod):
    interface = [r["Properties"] for r in resources(prod.network, "AWS::EC2::VPCEndpoint").values()
                 if r["Properties"].get("VpcEndpointType") == "Interface"]
    services = sorted(_service_suffix(p["ServiceName"]) for p in interface)
    assert services == ["logs", "sagemaker.runtime", "sts"]
    assert all(p["PrivateDnsEnabled"] for p in interface)
    (sg_id,) = {g["Fn::GetAtt"][0] for p in interface for g in p["SecurityGroupIds"]}
    sg = prod.network["Resources"][sg_id]["Properties"]
    assert sg["SecurityGroupIngress"] == [{
        "CidrIp": "10.30.0.0/16", "Description": "HTTPS from the VPC",
        "FromPort": 443, "IpProtocol": "tcp", "ToPort": 443}]


def _service_suffix(name) -> str:
    """com.amazonaws.<region>.sagemaker.runtime -> sagemaker.runtime."""
    if isinstance(name, str):
        return name.split(".", 3)[3]
    parts = name["Fn::Join"][1]
    return parts[-1].lstrip(".")


def test_dev_has_no_interface_endpoints(dev):
    assert not [r for r in resources(dev.network, "AWS::EC2::VPCEndpoint").values()
                if r["Properties"].get("VpcEndpointType") == "Interface"]


@pytest.mark.parametrize("name,days,encrypted", [("dev", 30, False), ("prod", 365, True)])
def test_flow_logs(name, days, encrypted, request):
    synth = request.getfixturevalue(name)
    _, flow = one(synth.network, "AWS::EC2::FlowLog")
    assert flow["Properties"]["TrafficType"] == "ALL"
    assert flow["Properties"]["ResourceType"] == "VPC"
    group_id = flow["Properties"]["LogGroupName"]["Ref"]
    group = synth.network["Resources"][group_id]
    assert group["Properties"]["RetentionInDays"] == days
    assert ("KmsKeyId" in group["Properties"]) is encrypted


def test_prod_key_rotates_is_retained_and_admits_cloudwatch_logs(prod):
    key_id, key = one(prod.network, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain" and key["UpdateReplacePolicy"] == "Retain"
    logs_stmt = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                 if s.get("Sid") == "CloudWatchLogs"]
    assert len(logs_stmt) == 1 and "kms:EncryptionContext:aws:logs:arn" in json.dumps(logs_stmt)
    _, flow = one(prod.network, "AWS::EC2::FlowLog")
    group = prod.network["Resources"][flow["Properties"]["LogGroupName"]["Ref"]]
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert group["DeletionPolicy"] == "Retain"


def test_dev_log_group_is_destroyed_with_the_stack(dev):
    _, flow = one(dev.network, "AWS::EC2::FlowLog")
    assert dev.network["Resources"][flow["Properties"]["LogGroupName"]["Ref"]][
        "DeletionPolicy"] == "Delete"
    assert not resources(dev.network, "AWS::KMS::Key")


def test_endpoint_security_group_has_no_ingress_and_https_egress_only(endpoint_template):
    if endpoint_template["Outputs"]["Mode"]["Value"] == "serverless":
        assert not resources(endpoint_template, "AWS::EC2::SecurityGroup")
        return
    _, sg = one(endpoint_template, "AWS::EC2::SecurityGroup")
    props = sg["Properties"]
    assert "SecurityGroupIngress" not in props
    assert not resources(endpoint_template, "AWS::EC2::SecurityGroupIngress")
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in props["SecurityGroupEgress"]] \
        == [("tcp", 443, 443)]


def test_no_context_lookups_and_env_agnostic(shipped):
    manifest = json.loads((shipped.outdir / "manifest.json").read_text())
    assert not manifest.get("missing"), manifest.get("missing")
    for art in manifest["artifacts"].values():
        if art["type"] == "aws:cloudformation:stack":
            assert art["environment"] == "aws://unknown-account/unknown-region"


def test_default_security_group_is_restricted(shipped):
    assert resources(shipped.network, "Custom::VpcRestrictDefaultSG")
