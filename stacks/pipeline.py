"""The CDK Pipelines fleet: one self-mutating pipeline in the tools account that tests and
synthesizes the app, runs the deploy-risk guard against the commit last deployed, then
deploys each stage's config into its account and regions, wave by wave.

Cross-account deployment uses the target accounts' CDK bootstrap roles (``cdk bootstrap
--trust <tools account>``): the pipeline assumes their deploy roles; the quota pre-check
assumes their read-only lookup roles and nothing else."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from config.pipeline import Pipeline, Target
from config.shapes.pipeline import Stage, parse_connection_arn
from llm_constructs.nag import acknowledge
from llm_constructs.partitions import partition_of

from .stage import ConfigStage

ROOT = Path(__file__).resolve().parents[1]
#: The CDK bootstrap's qualifier (the default of ``cdk bootstrap``).
QUALIFIER = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
#: The CodeBuild image and the runtimes the README asks for (Python 3.11+, Node 22 or 24).
RUNTIMES = {"python": "3.11", "nodejs": "22"}
#: What the README's two commands are, run where the pipeline builds.
TEST_COMMAND = "make test"
SETUP_SYNTH = "make synth-setup"
SETUP_RISK = "make risk-setup"
#: ``make test`` installs ``torch==2.13.0`` (requirements-dev.txt): from PyPI alone, Linux
#: gets the CUDA build and its nvidia-* wheels (several GB, every run). With PyTorch's CPU
#: index beside PyPI, pip takes ``2.13.0+cpu`` (a local version sorts above ``2.13.0``).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: The guard as the pipeline runs it: reads the deployed commit, then ``make risk``.
GUARD_COMMAND = "bash tools/pipeline_guard.sh"
#: The Assets stage runs ``npm install -g cdk-assets@<cdk_assets_cli_version>``; no release of
#: cdk-assets reads the cloud assembly schema aws-cdk-lib 2.275 writes (4.7.3, the newest,
#: reads 54; ours is 55). So it installs ours (tools/asset-publisher: cdk-assets' own library
#: with the schema pinned beside it), which the pipeline's assembly carries under this folder.
ASSET_PUBLISHER = ROOT / "tools" / "asset-publisher"
ASSET_PUBLISHER_DIR = "asset-publisher"
ASSET_PUBLISHER_FILES = ("cdk-assets.js", "package.json", "package-lock.json")


def pinned_cli_version() -> str:
    """The CDK CLI package.json pins (npm's latest cannot read this app's assemblies): the
    self-mutation step installs the same one."""
    package = ROOT / "package.json"
    return str(json.loads(package.read_text(encoding="utf-8"))["devDependencies"]["aws-cdk"])


def synth_command(pipeline_file: str) -> str:
    return f"npx --no-install cdk synth --no-notices --quiet -c pipeline={pipeline_file}"


def deployed_commit_parameter(pipeline_name: str) -> str:
    """The SSM parameter (tools account, pipeline region) holding the commit the last
    complete run deployed to every stage; the guard compares with it."""
    return f"/{pipeline_name}/deployed-commit"


def lookup_role_arn(account: str, region: str) -> str:
    """The read-only role ``cdk bootstrap`` creates in each account and region."""
    partition = partition_of(region).name
    return (f"arn:{partition}:iam::{account}:role/cdk-{QUALIFIER}-lookup-role-"
            f"{account}-{region}")


class FleetPipelineStack(cdk.Stack):
    """The pipeline of ``pipeline`` (``pipeline.yaml``), in its tools account and region."""

    def __init__(self, scope: Construct, id: str, *, pipeline: Pipeline, pipeline_file: str,
                 **kwargs: Any) -> None:
        cfg = pipeline.config
        super().__init__(scope, id, env=cdk.Environment(account=cfg.tools.account,
                                                        region=cfg.tools.region),
                         description=f"{cfg.name}: CDK Pipelines fleet of the LLM endpoints",
                         **kwargs)
        self.source = pipelines.CodePipelineSource.connection(
            cfg.repository.name, cfg.repository.branch,
            connection_arn=cfg.repository.connection_arn,
            code_build_clone_output=True)  # a git clone: the guard needs the history
        self.parameter = deployed_commit_parameter(cfg.name)
        self.parameter_arn = self.format_arn(service="ssm", resource="parameter",
                                             resource_name=self.parameter.lstrip("/"))
        self.pipeline = pipelines.CodePipeline(
            self, "Pipeline", pipeline_name=cfg.name, synth=self._synth(pipeline_file),
            cross_account_keys=True, enable_key_rotation=True, self_mutation=True,
            publish_assets_in_parallel=False, docker_enabled_for_synth=False,
            cli_version=pinned_cli_version(),
            cdk_assets_cli_version=f"file:{ASSET_PUBLISHER_DIR}",
            asset_publishing_code_build_defaults=asset_publishing_defaults(),
            pipeline_type=codepipeline.PipelineType.V2,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=codebuild.LinuxBuildImage.STANDARD_7_0),
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": RUNTIMES}}})))
        waves = cfg.waves
        for i, wave in enumerate(waves):
            deployment = self.pipeline.add_wave(
                wave.name, pre=[self._guard(pipeline_file)] if i == 0 else None,
                post=[self._record()] if i == len(waves) - 1 else None)
            for stage in wave.stages:
                self._add_stage(deployment, pipeline, stage)
        self.pipeline.build_pipeline()
        bundle_asset_publisher(assembly_folder(self))
        grant_use_connection(self.pipeline, cfg.repository.connection_arn)
        acknowledge_pipeline(self.pipeline, account=cfg.tools.account, region=cfg.tools.region)

    def _synth(self, pipeline_file: str) -> pipelines.CodeBuildStep:
        """The README's test command, then the synth of the whole fleet (no credentials)."""
        return pipelines.CodeBuildStep(
            "Synth", input=self.source, install_commands=[SETUP_SYNTH],
            commands=[TEST_COMMAND, synth_command(pipeline_file)],
            env={"PIP_EXTRA_INDEX_URL": TORCH_CPU_INDEX},
            primary_output_directory="cdk.out",
            build_environment=codebuild.BuildEnvironment(
                compute_type=codebuild.ComputeType.LARGE))

    def _guard(self, pipeline_file: str) -> pipelines.CodeBuildStep:
        """The deploy-risk guard between the commit last deployed everywhere and this one
        (``tools/pipeline_guard.sh``), on the stages of ``pipeline_file`` as they deploy.
        Rules are accepted by ``Accept-Risk: <rule>`` trailers in the commits between them
        (reviewed with the change, as the pull request's ``accept-risk:`` labels are)."""
        return pipelines.CodeBuildStep(
            "DeployRisk", input=self.source, install_commands=[SETUP_RISK],
            env={"DEPLOYED_COMMIT_PARAMETER": self.parameter, "PIPELINE_FILE": pipeline_file},
            commands=[GUARD_COMMAND],
            role_policy_statements=[iam.PolicyStatement(
                actions=["ssm:GetParameter"], resources=[self.parameter_arn])])

    def _record(self) -> pipelines.CodeBuildStep:
        """After the last wave: every stage runs this commit now."""
        return pipelines.CodeBuildStep(
            "RecordDeployedCommit",
            env={"DEPLOYED_COMMIT_PARAMETER": self.parameter,
                 "COMMIT_ID": self.source.source_attribute("CommitId")},
            commands=['aws ssm put-parameter --name "$DEPLOYED_COMMIT_PARAMETER" '
                      '--value "$COMMIT_ID" --type String --overwrite'],
            role_policy_statements=[iam.PolicyStatement(
                actions=["ssm:PutParameter"], resources=[self.parameter_arn])])

    def _add_stage(self, wave: pipelines.Wave, pipeline: Pipeline, stage: Stage) -> None:
        """One CDK Stage per region; each region's quota check first, then one approval
        (when asked) for all the stage's regions."""
        targets = pipeline.targets_of(stage)
        checks = {t.id: quota_check(t, self.source) for t in targets}
        approval = None
        if stage.manual_approval:
            approval = pipelines.ManualApprovalStep(
                f"Approve-{stage.name}",
                comment=f"Deploy {stage.env} to {stage.account} in "
                        f"{', '.join(r.region for r in stage.regions)}")
            for check in checks.values():
                approval.add_step_dependency(check)
        for target in targets:
            pre: list[pipelines.Step] = [checks[target.id]]
            if approval is not None:
                pre.append(approval)
            wave.add_stage(ConfigStage(self, target.id, config=target.config), pre=pre)


def asset_publishing_defaults() -> pipelines.CodeBuildOptions:
    """Before the Assets stage's ``npm install -g cdk-assets@file:asset-publisher`` (CDK
    Pipelines merges these commands first): the publisher's dependencies, exactly as locked."""
    return pipelines.CodeBuildOptions(partial_build_spec=codebuild.BuildSpec.from_object(
        {"phases": {"install": {"commands": [
            f"npm ci --prefix {ASSET_PUBLISHER_DIR} --no-audit --no-fund --loglevel=error"]}}}))


def assembly_folder(scope: Construct) -> Path:
    """Where ``scope``'s cloud assembly is written (``cdk.out`` under ``cdk synth``)."""
    stage = cdk.Stage.of(scope)
    if stage is None:  # only a construct outside any App has none
        raise ValueError(f"{scope.node.path} is not in a CDK App")
    return Path(stage.outdir)


def bundle_asset_publisher(outdir: Path) -> None:
    """Copy the publisher (its files, not its node_modules) into the assembly: the Assets
    stage's only input is the assembly, so it travels with every synth of the pipeline."""
    target = outdir / ASSET_PUBLISHER_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name in ASSET_PUBLISHER_FILES:
        shutil.copy2(ASSET_PUBLISHER / name, target / name)


def use_connection_action(connection_arn: str) -> str:
    """``<service>:UseConnection`` of the connection's own service: "the service prefix needs
    to match that of the resource" (AWS, "Connections rename",
    docs.aws.amazon.com/dtconsole/latest/userguide/rename.html)."""
    return f"{parse_connection_arn(connection_arn).service}:UseConnection"


#: What CDK (aws-cdk-lib 2.275) grants on the connection, whatever the ARN's service.
CDK_USE_CONNECTION = "codestar-connections:UseConnection"


def grant_use_connection(scope: Construct, connection_arn: str) -> None:
    """Every policy CDK gave ``codestar-connections:UseConnection`` on the connection (the
    source action's role, each CodeBuild step that clones) also gets the action of the
    ARN's own service: CDK's alone is denied on a ``codeconnections`` ARN."""
    action = use_connection_action(connection_arn)
    if action == CDK_USE_CONNECTION:
        return
    for policy in scope.node.find_all():
        if isinstance(policy, iam.Policy) and CDK_USE_CONNECTION in json.dumps(
                policy.document.to_json(), default=str):  # actions are plain strings
            policy.add_statements(iam.PolicyStatement(actions=[action],
                                                      resources=[connection_arn]))


#: What the quota step installs: ``tools.quota_check --needs-json`` imports boto3 alone.
QUOTA_CHECK_REQUIREMENTS = ("boto3", "botocore")


def pinned_requirements(*names: str) -> list[str]:
    """``name==version`` of each of ``names`` as requirements.txt pins them (comments and
    anything after the version dropped: these go on a shell command line)."""
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pins = {}
    for line in lines:
        found = re.match(r"^\s*([A-Za-z0-9._-]+)\s*==\s*([A-Za-z0-9.+!-]+)", line)
        if found:
            pins[found[1].lower()] = f"{found[1]}=={found[2]}"
    return [pins[name] for name in names]


def quota_check(target: Target, source: pipelines.IFileSetProducer) -> pipelines.CodeBuildStep:
    """Service Quotas against what the stage's endpoints need (``tools/quota_check.py``),
    read in the target account through its bootstrap lookup role, and nothing else. The
    needs are computed here, from the config this stage-region deploys (overrides applied),
    so the step installs boto3, not the CDK app."""
    account, region = target.stage.account, target.region.region
    role = lookup_role_arn(account, region)
    return pipelines.CodeBuildStep(
        f"Quotas-{target.id}", input=source,
        env={"QUOTA_NEEDS": target.quota_needs},  # its size is checked in config/pipeline.py
        install_commands=["python -m venv .venv", ".venv/bin/pip install --quiet "
                          + " ".join(pinned_requirements(*QUOTA_CHECK_REQUIREMENTS))],
        commands=['.venv/bin/python -m tools.quota_check --needs-json "$QUOTA_NEEDS" '
                  f"--region {region} --assume-role-arn {role}"],
        role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"],
                                                    resources=[role])])


#: CDK's grants on the pipeline's artifact bucket and key (``grantReadWrite``, ``grantRead``):
#: the wildcards name groups of object and key operations, on that bucket and key only.
GRANT_ACTIONS = ("s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*",
                 "kms:GenerateDataKey*", "kms:ReEncrypt*")


def acknowledge_pipeline(fleet: pipelines.CodePipeline, *, account: str, region: str) -> None:
    """cdk-nag's findings on what CDK Pipelines builds, each with its reason. None is on a
    resource this project wrote: they are the pipeline's own, documented design."""
    pipeline = fleet.pipeline
    partition = partition_of(region).name
    acknowledge(pipeline.artifact_bucket, "AwsSolutions-S1",
                "Pipeline artifacts only (KMS-encrypted with the pipeline's key, SSL-only, "
                "readable by the pipeline's roles); CodePipeline and CloudTrail record who "
                "ran what; an access-log bucket per region would log only the pipeline.")
    for action in GRANT_ACTIONS:
        acknowledge(fleet, f"AwsSolutions-IAM5[Action::{action}]",
                    "CDK's grants on the pipeline's own artifact bucket and KMS key: the "
                    "wildcard names a group of object or key operations on them only.")
    acknowledge(fleet, "AwsSolutions-IAM5", resource=f"{pipeline.artifact_bucket.bucket_arn}/*",
                reason="Every action reads or writes artifacts of any execution, under "
                       "keys CodePipeline chooses, in the pipeline's own artifact bucket.")
    for support in pipeline.cross_region_support.values():
        acknowledge(support.replication_bucket, "AwsSolutions-S1",
                    "CodePipeline's replication bucket of a target region: pipeline "
                    "artifacts only, KMS-encrypted, written and read by the pipeline's roles.")
        acknowledge(fleet, "AwsSolutions-IAM5",
                    resource=f"{support.replication_bucket.bucket_arn}/*",
                    reason="The pipeline copies artifacts of any execution, under keys "
                           "CodePipeline chooses, into its own replication bucket there.")
    acknowledge(fleet, "AwsSolutions-IAM5", resource="*",
                reason="CDK Pipelines: the pipeline role uses the replication keys by alias "
                       "(their key policies admit it only); self-mutation's DescribeStacks and "
                       "ListBucket (what `cdk deploy` checks first); the asset role starts its "
                       "own CodeBuild builds, whose names it learns at run time.")
    acknowledge(fleet, "AwsSolutions-IAM5",
                resource=f"arn:*:iam::{account}:role/*",
                reason="Self-mutation assumes the tools account's CDK bootstrap roles, "
                       "restricted by the condition on their aws-cdk:bootstrap-role tag.")
    logs = f"arn:{partition}:logs:{region}:{account}:log-group:/aws/codebuild/"
    reports = f"arn:{partition}:codebuild:{region}:{account}:report-group/"
    acknowledge(fleet, "AwsSolutions-IAM5", resource=f"{logs}*",
                reason="The asset-publishing builds write their own CodeBuild logs; the "
                       "project is created by CDK Pipelines with a name it chooses.")
    acknowledge(fleet, "AwsSolutions-IAM5", resource=f"{reports}*",
                reason="The asset-publishing builds' own CodeBuild test reports.")
    for project in fleet.node.find_all():
        if isinstance(project, codebuild.Project):
            acknowledge(fleet, "AwsSolutions-IAM5", resource=f"{logs}{project.project_name}:*",
                        reason="The build's own log streams, in its own log group.")
            acknowledge(fleet, "AwsSolutions-IAM5",
                        resource=f"{reports}{project.project_name}-*",
                        reason="The build's own test reports, in report groups named after it.")
