"""The CDK Pipelines fleet (issue 17): the shipped pipeline.yaml synthesizes without
credentials (one synth for the module), its stages, steps, approvals and roles are what the
README says, cfn-lint and cdk-nag are clean; pipeline config errors are cheap parse calls."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import boto3
import pytest
import yaml
from aws_cdk import pipelines

from config import ConfigError
from config.pipeline import parse_pipeline
from stacks.pipeline import quota_check
from tests.helpers import ROOT, resources
from tests.test_lint_and_nag import lint
from tools.pipeline_listing import Action, actions, pipeline_resource, render
from tools.quota_needs import PER_ENDPOINT, load_for_region, needs_document

SHIPPED = yaml.safe_load((ROOT / "pipeline.yaml").read_text())
TOOLS, STAGING, PRODUCTION = "111111111111", "222222222222", "333333333333"
#: (account, region) of every stage-region of the shipped pipeline.
TARGETS = [(STAGING, "eu-central-1"), (PRODUCTION, "eu-central-1"), (PRODUCTION, "eu-west-1")]


class PipelineSynth:
    def __init__(self, outdir: Path):
        self.outdir = outdir
        self.template = self.read("llm-pipeline.template.json")
        self.actions = actions(self.template, outdir)

    def read(self, name: str) -> dict:
        return json.loads((self.outdir / name).read_text())

    def stage(self, name: str) -> list[Action]:
        return [a for a in self.actions if a.stage == name]

    def action(self, name: str) -> Action:
        (found,) = [a for a in self.actions if a.name == name]
        return found

    def environment(self, action: Action) -> dict[str, str]:
        """The environment variables of a CodeBuild action's project."""
        project = self.template["Resources"][action.project]["Properties"]
        return {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}

    def stage_stacks(self) -> dict[str, dict[str, str]]:
        """CDK Stage id -> {stack name: environment}, from the nested assemblies."""
        out = {}
        for folder in sorted(self.outdir.glob("assembly-llm-pipeline-*")):
            manifest = json.loads((folder / "manifest.json").read_text())
            out[folder.name.removeprefix("assembly-llm-pipeline-")] = {
                a["properties"]["stackName"]: a["environment"]
                for a in manifest["artifacts"].values()
                if a["type"] == "aws:cloudformation:stack"}
        return out


@pytest.fixture(scope="module")
def synth() -> PipelineSynth:
    """``cdk synth -c pipeline=pipeline.yaml`` as app.main() builds it, with cdk-nag and
    without CDK's built-in validation (cfn-lint below checks the templates): about 7 s of
    CPU (Python and its jsii child; an empty app takes 3 s)."""
    import app

    outdir = Path(tempfile.mkdtemp(prefix="pipeline-"))
    application = app.new_app(outdir=str(outdir), validation=False)
    app.populate_pipeline(application, "pipeline.yaml")
    application.synth()
    return PipelineSynth(outdir)


def test_the_pipeline_runs_source_synth_self_mutation_assets_then_the_waves(synth):
    stages = list(dict.fromkeys(a.stage for a in synth.actions))
    # A wave of one stage becomes a CodePipeline stage named after that stage (CDK Pipelines).
    assert stages == ["Source", "Build", "UpdatePipeline", "Assets", "staging-eu-central-1",
                      "production"]
    (source,) = synth.stage("Source")
    assert source.details == {"repository": "example-org/llm-endpoints@main",
                              "output": "CODEBUILD_CLONE_REF"}  # a git clone: history for the guard
    pipeline = pipeline_resource(synth.template)
    assert pipeline["Name"] == "llm-pipeline" and pipeline["PipelineType"] == "V2"
    assert pipeline["RestartExecutionOnUpdate"] is True  # self-mutation restarts the run


def test_synth_runs_the_readme_test_command_before_the_synth(synth):
    assert synth.action("Synth").commands == [
        "make synth-setup", "make test",
        "npx --no-install cdk synth --no-notices --quiet -c pipeline=pipeline.yaml"]
    project = synth.template["Resources"][synth.action("Synth").project]["Properties"]
    assert project["Environment"]["EnvironmentVariables"] == [{  # torch's CPU build
        "Name": "PIP_EXTRA_INDEX_URL", "Type": "PLAINTEXT",
        "Value": "https://download.pytorch.org/whl/cpu"}]
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert f"npm install -g aws-cdk@{pinned}" in synth.action("SelfMutate").commands


PUBLISHER = ROOT / "tools" / "asset-publisher"


def test_the_assets_stage_installs_the_publisher_the_assembly_carries(synth):
    (assets,) = synth.stage("Assets")
    assert assets.name == "FileAssets"  # no container image assets: only files are published
    # No docker_credentials: with them cdk-assets-lib would call a credential helper
    # (docker-credential-cdk-assets) the publisher does not ship.
    assert not any("cdk-docker-creds" in p.read_text()
                   for p in synth.outdir.glob("buildspec-*")) and \
        "cdk-docker-creds" not in json.dumps(synth.template)
    assert assets.commands[:2] == [
        "npm ci --prefix asset-publisher --no-audit --no-fund --loglevel=error",  # as locked
        "npm install -g cdk-assets@file:asset-publisher"]
    assert all(c.startswith("cdk-assets --path ") for c in assets.commands[2:])
    carried = synth.outdir / "asset-publisher"
    assert sorted(p.name for p in carried.iterdir()) == [
        "cdk-assets.js", "package-lock.json", "package.json"]  # never node_modules
    for name in ("cdk-assets.js", "package-lock.json", "package.json"):
        assert (carried / name).read_bytes() == (PUBLISHER / name).read_bytes()


def test_the_publisher_reads_the_cloud_assembly_schema_the_app_writes(synth):
    """The schema our asset manifests carry, against the schema package-lock.json installs
    beside cdk-assets-lib (cdk-assets refuses a manifest of a newer major version)."""
    lock = json.loads((PUBLISHER / "package-lock.json").read_text())["packages"]
    installed = lock["node_modules/@aws-cdk/cloud-assembly-schema"]["version"]
    written = {json.loads(m.read_text())["version"]
               for m in synth.outdir.glob("assembly-*/*.assets.json")}
    assert written == {"55.0.0"}
    assert max(int(v.split(".")[0]) for v in written) <= int(installed.split(".")[0])
    package = json.loads((PUBLISHER / "package.json").read_text())["dependencies"]
    assert lock["node_modules/@aws-cdk/cdk-assets-lib"]["version"] == \
        package["@aws-cdk/cdk-assets-lib"]
    assert "node_modules/@aws-cdk/cdk-assets-lib/node_modules/@aws-cdk/cloud-assembly-schema" \
        not in lock  # one schema: the library reads with the pinned one


def test_dependabot_keeps_every_npm_lock_current():
    """The publisher's lock is where a newer cloud assembly schema arrives."""
    updates = yaml.safe_load((ROOT / ".github/dependabot.yml").read_text())["updates"]
    watched = {u["directory"] for u in updates if u["package-ecosystem"] == "npm"}
    tracked = subprocess.run(["git", "ls-files", "*package-lock.json"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
    locks = {"/" + str(Path(p).parent).removeprefix(".") for p in tracked}
    assert watched == locks == {"/", "/tools/asset-publisher"}


def test_the_generated_commands_publish_each_asset_as_its_target_accounts_role(
        synth, tmp_path):
    """The Assets stage as CDK Pipelines generated it, against moto's S3 and STS: the
    generated install command gives a ``cdk-assets``, and two generated commands (two
    accounts, two regions) assume the target's file-publishing role and upload the zip."""
    from moto.server import ThreadedMotoServer
    from moto.sts.models import sts_backends

    assert (PUBLISHER / "node_modules").is_dir(), \
        "install the publisher first: make test (npm ci --prefix tools/asset-publisher)"
    assembly = tmp_path / "assembly"  # the step's input; the shared synth stays as it was
    shutil.copytree(synth.outdir, assembly)
    (assembly / "asset-publisher" / "node_modules").symlink_to(
        PUBLISHER / "node_modules")  # the step's `npm ci`, offline
    (assets,) = synth.stage("Assets")
    env = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path),
           "npm_config_prefix": str(tmp_path), "npm_config_offline": "true"}
    subprocess.run(assets.commands[1], shell=True, cwd=assembly, env=env, check=True,
                   capture_output=True)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env |= {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}
        for command in (assets.commands[2], assets.commands[-1]):
            publish_one(assembly, command, env)
        assumed = {r.role_arn for regions in sts_backends.values()
                   for backend in regions.values() for r in backend.assumed_roles}
        assert {f"arn:aws:iam::{account}:role/"
                f"{bootstrap_role('FilePublishingRole', account, region)}"
                for account, region in ((STAGING, "eu-central-1"), (PRODUCTION, "eu-west-1"))
                } <= assumed
    finally:
        server.stop()


def publish_one(assembly: Path, command: str, env: dict[str, str]) -> None:
    """Run one generated ``cdk-assets ... publish "<asset>:<destination>"`` into a bucket
    made for it; the object uploaded is the zip of the asset's folder."""
    manifest_path, selector = re.fullmatch(
        r'cdk-assets --path "([^"]+)" --verbose publish "([^"]+)"', command).groups()
    asset, destination = selector.split(":")
    entry = json.loads((assembly / manifest_path).read_text())["files"][asset]
    target = entry["destinations"][destination]
    region = target["region"]
    s3 = boto3.client("s3", region_name=region, endpoint_url=env["AWS_ENDPOINT_URL"],
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=target["bucketName"],
                     CreateBucketConfiguration={"LocationConstraint": region})
    done = subprocess.run(command, shell=True, cwd=assembly, env=env | {"AWS_REGION": region},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    body = s3.get_object(Bucket=target["bucketName"], Key=target["objectKey"])["Body"].read()
    folder = (assembly / manifest_path).parent / entry["source"]["path"]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert sorted(archive.namelist()) == sorted(
            str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_the_pull_request_workflow_installs_torch_from_the_pipelines_cpu_index(synth):
    """Both run ``make test`` on Linux; without the index, pip fetches torch's CUDA build."""
    workflow = yaml.safe_load((ROOT / ".github/workflows/pull-request.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["tests"]["steps"] if s.get("run") == "make test"]
    assert step["env"]["PIP_EXTRA_INDEX_URL"] == \
        synth.environment(synth.action("Synth"))["PIP_EXTRA_INDEX_URL"]


def test_the_guard_runs_first_against_the_commit_recorded_after_the_last_wave(synth):
    staging = synth.stage("staging-eu-central-1")
    assert [a.name for a in staging if a.run_order == 1] == ["DeployRisk"]
    assert min(a.run_order for a in staging if a.provider == "CloudFormation") > 1
    assert synth.action("DeployRisk").commands == ["make risk-setup",
                                                   "bash tools/pipeline_guard.sh"]
    assert synth.environment(synth.action("DeployRisk")) == {
        "DEPLOYED_COMMIT_PARAMETER": "/llm-pipeline/deployed-commit",
        "PIPELINE_FILE": "pipeline.yaml"}  # the guard compares this pipeline's stages
    production = synth.stage("production")
    record = synth.action("RecordDeployedCommit")
    assert record is production[-1]
    assert record.run_order > max(a.run_order for a in production if a.provider != "CodeBuild")
    assert record.commands == ['aws ssm put-parameter --name "$DEPLOYED_COMMIT_PARAMETER" '
                               '--value "$COMMIT_ID" --type String --overwrite']
    # the commit the source action fetched (the run's), not whatever the branch holds now
    (raw,) = [a for s in pipeline_resource(synth.template)["Stages"] for a in s["Actions"]
              if a["Name"] == "RecordDeployedCommit"]
    assert json.loads(raw["Configuration"]["EnvironmentVariables"]) == [
        {"name": "COMMIT_ID", "type": "PLAINTEXT",
         "value": "#{Source@example-org_llm-endpoints.CommitId}"}]


def test_production_waits_for_its_quota_checks_then_one_approval(synth):
    production = synth.stage("production")
    quotas = [a for a in production if ".Quotas-" in a.name]
    (approval,) = [a for a in production if a.provider == "Manual"]
    deploys = [a for a in production if a.provider == "CloudFormation"]
    assert {a.run_order for a in quotas} == {1} and len(quotas) == 2
    assert approval.run_order == 2
    assert approval.details == {"comment": "Deploy prod to 333333333333 in eu-central-1, eu-west-1"}
    assert min(a.run_order for a in deploys) == 3
    assert not [a for a in synth.stage("staging-eu-central-1") if a.provider == "Manual"]


def test_each_stage_region_deploys_what_cdk_deploy_deploys_there(synth):
    dev = ("llm-dev-network", "llm-dev-endpoint-chat", "llm-dev-endpoint-batch")
    prod = ("llm-prod-network", "llm-prod-endpoint-chat")
    assert synth.stage_stacks() == {
        "staging-eu-central-1": dict.fromkeys(dev, f"aws://{STAGING}/eu-central-1"),
        "production-eu-central-1": dict.fromkeys(prod, f"aws://{PRODUCTION}/eu-central-1"),
        "production-eu-west-1": dict.fromkeys(prod, f"aws://{PRODUCTION}/eu-west-1")}
    deployed = {(a.details["stack"], a.details["in"]) for a in synth.actions
                if a.provider == "CloudFormation"}
    assert deployed == {(stack, env.removeprefix("aws://"))
                        for stacks in synth.stage_stacks().values()
                        for stack, env in stacks.items()}


def test_each_production_region_reads_its_model_from_a_bucket_of_that_region(synth):
    """pipeline.yaml overrides the chat model's S3 location in eu-west-1."""
    import re

    buckets = {}
    for region in ("eu-central-1", "eu-west-1"):
        (template,) = (synth.outdir / f"assembly-llm-pipeline-production-{region}").glob(
            "*endpointchat*.template.json")
        buckets[region] = set(re.findall(r"s3://(example-llm-artifacts[^/\"]*)/",
                                         template.read_text()))
    assert buckets == {"eu-central-1": {"example-llm-artifacts-111122223333"},
                       "eu-west-1": {"example-llm-artifacts-111122223333-eu-west-1"}}


def bootstrap_role(resource: str, account: str, region: str) -> str:
    """The name of a role ``cdk bootstrap`` creates, from the pinned CLI's own bootstrap
    template (the roles the pipeline may assume are those, whatever CDK Pipelines says)."""
    template = yaml.safe_load((ROOT / "node_modules/aws-cdk/lib/api/bootstrap/"
                               "bootstrap-template.yaml").read_text())
    name = template["Resources"][resource]["Properties"]["RoleName"]["Fn::Sub"]
    values = {"Qualifier": template["Parameters"]["Qualifier"]["Default"],
              "AWS::AccountId": account, "AWS::Region": region}
    for key, value in values.items():
        name = name.replace(f"${{{key}}}", value)
    assert "$" not in name, name
    return name


def test_deployments_go_through_the_target_accounts_bootstrap_roles(synth):
    for action in (a for a in synth.actions if a.provider == "CloudFormation"):
        assert action.details["as"] == "deploy-role", action.name
        if action.details["mode"] == "CHANGE_SET_REPLACE":
            assert action.details["executed by"] == "cfn-exec-role", action.name
    cross_account = {render(r) for s in assume_statements(synth.template, "PipelineRole")
                     for r in as_list(s["Resource"]) if "Fn::GetAtt" not in json.dumps(r)}
    assert cross_account == {
        f"arn:${{AWS::Partition}}:iam::{account}:role/"
        f"{bootstrap_role('DeploymentActionRole', account, region)}"
        for account, region in TARGETS}


def test_quota_checks_run_the_agreed_command_and_may_assume_only_the_lookup_role(synth):
    lookup_roles = set()
    for account, region in TARGETS:
        stage, env = ("staging", "dev") if account == STAGING else ("production", "prod")
        (check,) = [a for a in synth.actions if a.name.endswith(f"Quotas-{stage}-{region}")]
        role = f"arn:aws:iam::{account}:role/{bootstrap_role('LookupRole', account, region)}"
        assert check.commands == [
            "python -m venv .venv", ".venv/bin/pip install --quiet "  # as this venv has them
            f"boto3=={version('boto3')} botocore=={version('botocore')}",
            '.venv/bin/python -m tools.quota_check --needs-json "$QUOTA_NEEDS" '
            f"--region {region} --assume-role-arn {role}"]
        # the needs of the config as the stage deploys it; the CLI's --config form agrees
        assert synth.environment(check)["QUOTA_NEEDS"] == needs_document(
            load_for_region(ROOT / f"config/{env}.yaml", region))
        sts = [(action, render(resource)) for st in project_statements(synth.template, check)
               for action in as_list(st["Action"]) if action.startswith("sts:")
               for resource in as_list(st["Resource"])]
        assert sts == [("sts:AssumeRole", role)]
        lookup_roles.add(role)
    # ...and nothing else may assume a lookup role
    anywhere = {render(r) for _, st in policy_statements(synth.template)
                for r in as_list(st["Resource"]) if "lookup-role" in render(r)}
    assert anywhere == lookup_roles


def test_needs_too_long_for_the_quota_steps_variable_are_a_synth_error(monkeypatch):
    import config.pipeline

    sizes = [len(needs_document(t.config))
             for t in parse_pipeline(copy.deepcopy(SHIPPED), "pipeline.yaml").targets]
    assert max(sizes) < config.pipeline.MAX_ENVIRONMENT_VALUE
    monkeypatch.setattr(config.pipeline, "MAX_ENVIRONMENT_VALUE", min(sizes) - 1)
    with pytest.raises(ConfigError) as info:
        parse_pipeline(copy.deepcopy(SHIPPED), "pipeline.yaml")
    assert info.value.problems[0] == (
        "waves[0] (staging).stages[0] (staging).regions[0] (eu-central-1)",
        f"the quota step's needs take {sizes[0]} characters, above CodeBuild's "
        f"{min(sizes) - 1} for one variable: split the config's endpoints over two configs "
        "(stages)")
    assert len(info.value.problems) == 3


def test_a_regions_override_changes_the_needs_its_quota_step_checks():
    """A region's overrides change what it deploys, so what its quota step asks for."""
    data = copy.deepcopy(SHIPPED)
    west(data)["overrides"]["endpoints.chat.autoscaling.max_capacity"] = 9
    pipeline = parse_pipeline(data, "pipeline.yaml")
    source = pipelines.CodePipelineSource.connection(
        "o/r", "main", connection_arn=SHIPPED["repository"]["connection_arn"])
    per_endpoint = {}
    for target in pipeline.targets:
        needs = json.loads(quota_check(target, source).env["QUOTA_NEEDS"])["needs"]
        per_endpoint[target.id] = [n["needed"] for n in needs
                                   if n["quota_name"] == PER_ENDPOINT]
    assert per_endpoint == {"staging-eu-central-1": [2], "production-eu-central-1": [6],
                            "production-eu-west-1": [9]}


def project_statements(template: dict, action: Action) -> list[dict]:
    """The IAM statements of the role a CodeBuild action's project runs as."""
    project = template["Resources"][action.project]["Properties"]
    role = project["ServiceRole"]["Fn::GetAtt"][0]
    return [st for res in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role} in res["Properties"]["Roles"]
            for st in res["Properties"]["PolicyDocument"]["Statement"]]


def test_only_the_guard_reads_and_only_the_last_step_writes_the_deployed_commit(synth):
    arn = f"arn:aws:ssm:eu-central-1:{TOOLS}:parameter/llm-pipeline/deployed-commit"
    ssm = {(action.name, verb, render(st["Resource"]))
           for action in synth.actions if action.project
           for st in project_statements(synth.template, action)
           for verb in as_list(st["Action"]) if verb.startswith("ssm:")}
    assert ssm == {("DeployRisk", "ssm:GetParameter", arn),
                   ("RecordDeployedCommit", "ssm:PutParameter", arn)}
    everyone = {v for _, st in policy_statements(synth.template)
                for v in as_list(st["Action"]) if v.startswith("ssm:")}
    assert everyone == {"ssm:GetParameter", "ssm:PutParameter"}


def test_every_role_using_the_connection_may_use_it_by_its_arns_service(synth):
    """AWS ("Connections rename"): the action's service prefix must match the resource's;
    CDK grants codestar-connections:UseConnection on a codeconnections ARN too."""
    arn = SHIPPED["repository"]["connection_arn"]
    grants = [st for _, st in policy_statements(synth.template) if st["Resource"] == arn]
    assert len(grants) == 7  # the source action, Synth, DeployRisk, 3 quota checks, Record
    for statement in grants:
        assert "codeconnections:UseConnection" in as_list(statement["Action"]), statement


@pytest.mark.parametrize("service", ["codeconnections", "codestar-connections"])
def test_the_connection_action_is_the_arns_own_service(service):
    from stacks.pipeline import use_connection_action

    arn = f"arn:aws:{service}:eu-central-1:{TOOLS}:connection/x"
    assert use_connection_action(arn) == f"{service}:UseConnection"


def test_the_pipelines_guard_compares_each_stage_as_placed_and_only_stages_in_both(
        synth, tmp_path):
    """tools/synth_all.py --pipeline, with the module's synth standing in for the tree's
    (``app`` replaced): one folder per stage, the stacks deploy_risk reads from it."""
    from tools.deploy_risk import templates
    from tools.synth_all import synth_pipeline

    class FakeApp:
        def new_app(self, outdir, validation):
            self.outdir = outdir
            return self

        def populate_pipeline(self, application, path, nag):
            assert (path, nag) == ("pipeline.yaml", False)

        def synth(self):
            shutil.copytree(synth.outdir, self.outdir, dirs_exist_ok=True)

    synth_pipeline(FakeApp(), "pipeline.yaml", tmp_path / "head", None)
    assert sorted(templates(tmp_path / "head")) == sorted(
        f"{stage}/{stack}" for stage, stacks in synth.stage_stacks().items() for stack in stacks)
    shutil.rmtree(tmp_path / "head" / "production-eu-west-1")  # taken out of the pipeline
    synth_pipeline(FakeApp(), "pipeline.yaml", tmp_path / "base", tmp_path / "head")
    assert sorted(p.name for p in (tmp_path / "base").iterdir()) == [
        "production-eu-central-1", "staging-eu-central-1"]


def test_cfn_lint_is_clean_on_the_pipeline_and_its_support_stack(synth):
    for name in ("llm-pipeline.template.json",
                 "cross-region-stack-111111111111_eu-west-1.template.json"):
        matches = [m for m in lint((synth.outdir / name).read_text())
                   if not cdk_pipelines_own(m)]
        assert not matches, f"{name}: " + "\n".join(str(m) for m in matches)


def cdk_pipelines_own(match) -> bool:
    """What cfn-lint 1.58.0 says about every CDK Pipelines template, not about ours:
    W3005, the DependsOn CDK adds from the pipeline to its role (with the role's policy,
    which no GetAtt expresses; as our Model's); and E3703 passing on I1022 ("prefer
    Fn::Sub", informational) for the CloudFormation actions' RoleArn, which CDK writes as
    Fn::Join: E3703 re-validates RoleArn and labels every finding of that pass as its own
    (its validate() sets ``err.rule = self``)."""
    return match.rule.id == "W3005" or (
        match.rule.id == "E3703"
        and match.message == "Prefer using Fn::Sub over Fn::Join with an empty delimiter")


def test_cdk_nag_is_clean_with_reasoned_acknowledgements(synth):
    (report,) = json.loads((synth.outdir / "validation-report.json").read_text())["pluginReports"]
    assert report["conclusion"] == "success" and report["violations"] == []
    paths = {c["constructPath"].split("/")[1] for ack in report["suppressedViolations"]
             for c in ack["violatingConstructs"]}
    assert {"Pipeline", "staging-eu-central-1", "production-eu-west-1"} <= paths  # stages too
    for ack in report["suppressedViolations"]:
        assert len(ack["reason"]) > 40, ack
        assert "[" in ack["acknowledgedId"] or "IAM5" not in ack["ruleName"], ack


def policy_statements(template: dict) -> list[tuple[str, dict]]:
    return [(lid, st) for lid, res in resources(template, "AWS::IAM::Policy").items()
            for st in res["Properties"]["PolicyDocument"]["Statement"]]


def assume_statements(template: dict, prefix: str) -> list[dict]:
    return [st for lid, st in policy_statements(template)
            if lid.startswith(prefix) and "sts:AssumeRole" in as_list(st["Action"])]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


# Config errors: parse calls, no synth.

def parse(changes) -> str:
    data = copy.deepcopy(SHIPPED)
    changes(data)
    with pytest.raises(ConfigError) as info:
        parse_pipeline(data, "pipeline.yaml")
    return str(info.value)


def staging(data) -> dict:
    return data["waves"][0]["stages"][0]


def production(data) -> dict:
    return data["waves"][1]["stages"][0]


def test_the_shipped_pipeline_is_valid():
    pipeline = parse_pipeline(copy.deepcopy(SHIPPED), "pipeline.yaml")
    assert [(t.id, t.config.deployment.account, t.config.deployment.region)
            for t in pipeline.targets] == [
        ("staging-eu-central-1", STAGING, "eu-central-1"),
        ("production-eu-central-1", PRODUCTION, "eu-central-1"),
        ("production-eu-west-1", PRODUCTION, "eu-west-1")]
    assert pipeline.targets[2].config.deployment.availability_zones == [
        "eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert [t.config.endpoints[0].source.s3 for t in pipeline.targets[1:]] == [
        "s3://example-llm-artifacts-111122223333/qwen2.5-32b-instruct/",
        "s3://example-llm-artifacts-111122223333-eu-west-1/qwen2.5-32b-instruct/"]


@pytest.mark.parametrize("change,expected", [
    (lambda d: d["repository"].update(connection_arn="arn:aws:s3:::bucket"),
     "repository.connection_arn: 'arn:aws:s3:::bucket' is not an ARN"),
    (lambda d: d["repository"].update(
        connection_arn="arn:aws:codeconnections:eu-central-1:1111:connection/x"),
     "repository.connection_arn: 'arn:aws:codeconnections:eu-central-1:1111:connection/x': the "
     "account must be 12 digits"),
    (lambda d: d["repository"].update(name="llm-endpoints"),
     "repository.name: 'llm-endpoints' is not owner/name"),
    (lambda d: d["repository"].update(branch="-x"),
     "repository.branch: '-x' is not a branch name"),
    (lambda d: d["tools"].update(region="eu-centrall-1"),
     "tools.region: 'eu-centrall-1' is not an AWS region (did you mean eu-central-1"),
    (lambda d: staging(d).update(account="2222"),
     "waves[0] (staging).stages[0] (staging).account: String should match pattern"),
    (lambda d: staging(d).update(env="nope"),
     "waves[0] (staging).stages[0] (staging).env: 'nope': no config/nope.yaml; available: "
     "backends, dev, prod,"),
    (lambda d: staging(d)["regions"][0].update(availability_zones=["eu-central-1a"]),
     "waves[0] (staging).stages[0] (staging).regions[0].availability_zones: List should have "
     "at least 2 items"),
    (lambda d: staging(d).update(regions=[]),
     "waves[0] (staging).stages[0] (staging).regions: List should have at least 1 item"),
    (lambda d: production(d).update(name="staging"),
     "waves[1] (production).stages[0] (staging).name: 'staging' is used by another stage"),
    (lambda d: production(d)["regions"].append(production(d)["regions"][0]),
     "waves[1] (production).stages[0] (production).regions: 'eu-central-1' is listed twice"),
    (lambda d: d["waves"][1].update(name="staging"),
     "waves[1] (staging).name: 'staging' is used by another wave"),
    (lambda d: d["repository"].update(
        connection_arn="arn:aws:codeconnections:eu-central-1:999999999999:connection/x"),
     "repository.connection_arn: the connection is in 999999999999/eu-central-1, but the "
     "pipeline runs in 111111111111/eu-central-1 (tools): create the connection in the tools "
     "account and region"),
    (lambda d: d["tools"].update(region="eu-west-1"),
     "repository.connection_arn: the connection is in 111111111111/eu-central-1, but the "
     "pipeline runs in 111111111111/eu-west-1"),
    (lambda d: staging(d)["regions"][0].update(
        availability_zones=["eu-central-1a", "eu-central-1b", "eu-central-1a"]),
     "waves[0] (staging).stages[0] (staging).regions[0].availability_zones: 'eu-central-1a' "
     "is listed twice"),
    (lambda d: staging(d)["regions"][0].update(
        availability_zones=["eu-central-1a", "eu-central-1x"]),
     "waves[0] (staging).stages[0] (staging).regions[0] (eu-central-1).availability_zones: "
     "'eu-central-1x' is not a zone of eu-central-1 (its zones: eu-central-1a, eu-central-1b, "
     "eu-central-1c)"),
    (lambda d: production(d)["regions"][0].update(
        availability_zones=["eu-central-1a", "eu-central-1b"]),
     "waves[1] (production).stages[0] (production).regions[0] (eu-central-1)."
     "availability_zones: 2 zone(s) listed, but config/prod.yaml asks for network.max_azs: 3 "
     "(the listed zones would win): list 3 zones of eu-central-1"),
])
def test_a_bad_pipeline_is_one_line_naming_the_field(change, expected):
    assert expected in parse(change)


def test_a_stage_config_problem_names_the_stage_and_region_then_the_configs_own_line():
    """An override the config's own rules refuse, run for that stage and region; a value the
    stage itself set (its zones) is named by the stage's field."""
    def change(d):
        west(d)["overrides"]["endpoints.chat.autoscaling.max_capacity"] = 1
    assert (f"  - {WEST}: config/prod.yaml deployed there: endpoints[0] (chat).autoscaling."
            "min_capacity: 2 is above max_capacity 1") in parse(change)

    def zones(d):
        west(d)["availability_zones"] = ["eu-west-1a", "eu-north-1b"]
    assert parse(zones).splitlines()[1:] == [
        f"  - {WEST}.availability_zones: 'eu-north-1b' is not a zone of eu-west-1"]


WEST = "waves[1] (production).stages[0] (production).regions[1] (eu-west-1)"


def west(data) -> dict:
    return production(data)["regions"][1]


def test_one_bucket_in_two_regions_is_refused_naming_the_field_and_the_fix():
    message = parse(lambda d: west(d).pop("overrides"))
    assert (f"{WEST}: config/prod.yaml deployed there: endpoints[0] (chat).source.s3: bucket "
            "'example-llm-artifacts-111122223333' is used in eu-central-1 too (stage "
            "'production'), and an endpoint reaches S3 in its own region only: give this "
            "region a bucket of its own (overrides: {endpoints.chat.source.s3: <a location in "
            "eu-west-1>}), e.g. a replica (S3 replication)") in message
    assert message.count("\n  - ") == 1  # eu-central-1, where it is used first, is fine


@pytest.mark.parametrize("path,value,expected", [
    ("endpoints.chta.source.s3", "s3://b-eu-west-1/m/",
     f"{WEST}.overrides: 'endpoints.chta.source.s3': at 'endpoints.chta': no item named "
     "'chta' (names: chat)"),
    ("endpoints.chat.sauce.s3", "s3://b-eu-west-1/m/",
     f"{WEST}.overrides: 'endpoints.chat.sauce.s3': at 'endpoints.chat.sauce': no key "
     "'sauce' here (keys: name,"),
    # a new last key is the config's own rule to judge
    ("endpoints.chat.source.s4", "s3://b-eu-west-1/m/",
     f"{WEST}: config/prod.yaml deployed there: endpoints[0] (chat).source.s4: unknown key"),
    ("endpoints..source", "x",
     f"{WEST.split(' (eu-west-1)')[0]}.overrides: 'endpoints..source' is not a dotted path"),
])
def test_a_bad_override_is_one_line_naming_it(path, value, expected):
    assert expected in parse(lambda d: west(d).update(overrides={path: value}))


def test_s3_locations_finds_uris_and_bucket_names_with_their_override_paths():
    from config.overrides import s3_locations

    data = {"endpoints": [{"name": "a", "async_inference": {
        "existing_bucket": "in-eu", "output_path": "s3://out-eu/o/", "input_path": "in/"}},
        {"components": [{"name": "c", "adapters": [{"artifact": "s3://ad/x.tar.gz"}]}]}]}
    assert [(x.path, x.override, x.bucket) for x in s3_locations(data)] == [
        ("endpoints[0] (a).async_inference.existing_bucket",
         "endpoints.a.async_inference.existing_bucket", "in-eu"),
        ("endpoints[0] (a).async_inference.output_path",
         "endpoints.a.async_inference.output_path", "out-eu"),
        ("endpoints[1].components[0] (c).adapters[0].artifact",
         "endpoints.1.components.c.adapters.0.artifact", "ad")]


def test_a_region_without_the_image_is_an_error_naming_the_stage_and_region():
    from config.shapes.deployment import all_regions
    from llm_constructs.images import tgi_image

    missing = sorted(r for r in set(all_regions()) - set(tgi_image("3.3.6").registries)
                     if not r.endswith("-global"))[0]  # CDK lists partitions' global "regions"
    def change(d):
        staging(d)["regions"][0] = {"region": missing,
                                    "availability_zones": [f"{missing}a", f"{missing}b"]}
    message = parse(change)
    assert (f"waves[0] (staging).stages[0] (staging).regions[0] ({missing}): config/dev.yaml "
            "deployed there: endpoints[0] (chat).image") in message
    assert f"not published in region '{missing}'" in message


def test_a_config_that_fixes_another_region_cannot_be_a_stage(tmp_path):
    for name in ("dev", "prod"):
        (tmp_path / f"{name}.yaml").write_text((ROOT / "config" / f"{name}.yaml").read_text())
    fixed = yaml.safe_load((tmp_path / "dev.yaml").read_text())
    fixed["deployment"] = {"region": "us-east-1"}
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(fixed))
    with pytest.raises(ConfigError) as info:
        parse_pipeline(copy.deepcopy(SHIPPED), "pipeline.yaml", config_dir=tmp_path)
    assert ("regions[0] (eu-central-1): config/dev.yaml deployed there: deployment.region: "
            "'us-east-1' is fixed here, but the stage sets 'eu-central-1': leave it out of the "
            "config") in str(info.value)


def test_two_stages_may_not_deploy_one_project_into_one_account_and_region():
    def change(d):
        production(d).update(env="dev", account=STAGING)
    assert ("stages (production): 'llm-dev' goes to 222222222222/eu-central-1 in stage "
            "'staging' already") in parse(change)


def test_cdk_synth_with_a_bad_pipeline_is_one_line(tmp_path, monkeypatch, capsys):
    import app

    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({**SHIPPED, "waves": []}))
    flags = app.feature_flags()
    monkeypatch.setattr(app, "feature_flags", lambda: flags | {"pipeline": str(path)})
    assert app.main() == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: {path}: 1 problem(s):",
        "  - waves: List should have at least 1 item after validation, not 0 (got [])"]


# The guard script, with `aws` and `make` replaced by recorders and a git repository of
# three commits: what it compares with, and which rules it accepts.

#: What the AWS CLI (exit 254) prints when get-parameter fails, by the service's error code.
CLI_ERRORS = {
    "ParameterNotFound": "An error occurred (ParameterNotFound) when calling the GetParameter "
                         "operation: Parameter /llm-pipeline/deployed-commit not found.",
    "AccessDeniedException": "An error occurred (AccessDeniedException) when calling the "
                             "GetParameter operation: User: arn:aws:sts::111111111111:"
                             "assumed-role/x/y is not authorized to perform: ssm:GetParameter",
}


def run_guard(tmp_path: Path, deployed: str, trailers: tuple[str, ...] = (
        "endpoint-replaced", "bucket-deleted")) -> tuple[int, str, str]:
    """(exit code, output, the arguments `make` got); ``deployed`` is what the parameter
    holds: ``"base"`` (the first commit), a commit id, or a key of CLI_ERRORS (get-parameter
    fails so). ``trailers``: one commit after the base per ``Accept-Risk:`` value."""
    import os
    import subprocess

    bin_dir, repo = tmp_path / "bin", tmp_path / "repo"
    bin_dir.mkdir()
    repo.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "DEPLOYED_COMMIT_PARAMETER": "/llm-pipeline/deployed-commit",
           "PIPELINE_FILE": "pipeline.yaml",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()
    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "deployed")
    base = git("rev-parse", "HEAD")
    for rule in trailers:
        git("commit", "-q", "--allow-empty", "-m", f"change\n\nAccept-Risk: {rule}")
    value = base if deployed == "base" else deployed
    answer = (f"echo '{CLI_ERRORS[value]}' >&2; exit 254" if value in CLI_ERRORS
              else f"echo {value}")
    tools = {"aws": answer, "make": f'echo "$@" > {tmp_path}/make-args'}
    for name, body in tools.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    proc = subprocess.run(["bash", str(ROOT / "tools" / "pipeline_guard.sh")], cwd=repo,
                          env=env, capture_output=True, text=True)
    made = tmp_path / "make-args"
    return proc.returncode, proc.stdout + proc.stderr, made.read_text() if made.exists() else ""


def test_the_guard_compares_with_the_deployed_commit_accepting_the_trailers_since(tmp_path):
    code, output, make_args = run_guard(tmp_path, "base")
    assert code == 0, output
    base = make_args.split()[1].removeprefix("BASE=")
    assert len(base) == 40
    assert make_args.split() == ["risk", f"BASE={base}",
                                 "ACCEPT=bucket-deleted,endpoint-replaced",
                                 "RISK_PIPELINE=pipeline.yaml"]


@pytest.mark.parametrize("deployed,code,message", [
    ("ParameterNotFound", 0, "Nothing deployed by this pipeline yet"),
    # the CLI's exit code is 254 for both: only the error code tells a first run
    ("AccessDeniedException", 2, "error: cannot read /llm-pipeline/deployed-commit, so the "
                                 "guard cannot judge: An error occurred (AccessDeniedException)"),
    ("0" * 40, 2, f"error: the deployed commit {'0' * 40} is not in this clone: the guard "
                  "cannot judge"),
])
def test_the_guard_before_the_first_deployment_and_with_an_unknown_commit(
        tmp_path, deployed, code, message):
    exit_code, output, make_args = run_guard(tmp_path, deployed)
    assert (exit_code, make_args) == (code, "")  # `make risk` never ran
    assert message in output


def test_the_guard_drops_a_trailer_naming_no_rule_with_a_warning(tmp_path):
    """A mistyped trailer cannot be fixed in history: an error would block every run."""
    code, output, make_args = run_guard(tmp_path, "base",
                                        ("endpoint-replace", "bucket-deleted"))
    assert code == 0, output
    assert make_args.split()[2] == "ACCEPT=bucket-deleted"
    assert ("warning: ignoring 'Accept-Risk: endpoint-replace': not a rule (known: "
            "endpoint-replaced, scaled-instance-type,") in output
