"""Update-safe Application Auto Scaling for SageMaker endpoint variants.

``VariantAutoScaling`` registers the variant through the scaling-guard custom resources
(their code in ``runtime/``) instead of ``AWS::ApplicationAutoScaling::*`` resources, so a
change of the variant's instance type deploys in one ``cdk deploy``: the guard
deregisters the target before CloudFormation updates the endpoint and registers it again
after; the release before the endpoint also registers the declared scaling whenever the
endpoint already runs the declared type, which is what a rollback restores, and a rule on
the stack's completed rollbacks covers the one rollback no resource hears of. After any
outcome the variant is registered with exactly what the deployed template declares,
scheduled actions included (deregistering a target deletes them with its policies).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct, IValidation

from ..nag import acknowledge

#: The guard's Lambda code: exactly the asset's files (no ``__init__.py``; caches excluded).
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"


class ScalingGuardFunction(Construct):
    """The guard's Lambda function and the Provider that serves it to CloudFormation:
    one per stack (``ScalingGuardFunction.of(scope)``); ``service_token`` for resources."""

    ID = "ScalingGuard"

    @classmethod
    def of(cls, scope: Construct) -> ScalingGuardFunction:
        stack = cdk.Stack.of(scope)
        found = stack.node.try_find_child(cls.ID)
        return found if isinstance(found, cls) else cls(stack, cls.ID)

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.THREE_MONTHS,
                                       removal_policy=cdk.RemovalPolicy.DESTROY)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description="Scaling guard: (de)registers endpoint variant scaling")
        self.policy = iam.Policy(self, "Policy", roles=[self.role], statements=[
            iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                resources=[f"{self.log_group.log_group_arn}:*"]),
            iam.PolicyStatement(
                actions=["application-autoscaling:RegisterScalableTarget",
                         "application-autoscaling:DeregisterScalableTarget",
                         "application-autoscaling:DescribeScalableTargets",
                         "application-autoscaling:PutScalingPolicy",
                         "application-autoscaling:DeleteScalingPolicy",
                         "application-autoscaling:DescribeScalingPolicies",
                         "application-autoscaling:PutScheduledAction",
                         "application-autoscaling:DeleteScheduledAction",
                         "application-autoscaling:DescribeScheduledActions",
                         # read-only; target tracking checks the caller may see alarms
                         "cloudwatch:DescribeAlarms"],
                resources=["*"]),
            # after a rollback: is the stack settled (no operation under way)?
            iam.PolicyStatement(actions=["cloudformation:DescribeStacks"],
                                resources=[stack.stack_id]),
            iam.PolicyStatement(
                actions=["iam:CreateServiceLinkedRole"],
                resources=[f"arn:{stack.partition}:iam::{stack.account}:role/aws-service-role/"
                           "sagemaker.application-autoscaling.amazonaws.com/"
                           "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"],
                conditions={"StringLike": {"iam:AWSServiceName":
                                           "sagemaker.application-autoscaling.amazonaws.com"}}),
        ])
        acknowledge(self.policy, "AwsSolutions-IAM5",
                    "the function's own log group's streams, created by Lambda at run time",
                    resource=f"{self.log_group.log_group_arn}:*")
        acknowledge(self.policy, "AwsSolutions-IAM5",
                    "Application Auto Scaling identifies scalable targets, policies and "
                    "scheduled actions by "
                    "generated IDs that do not exist before the guard creates them; "
                    "cloudwatch:DescribeAlarms is read-only",
                    resource="*")
        self.function = lambda_.Function(
            self, "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,  # the latest (cdk-nag L1)
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=["__pycache__", "*.pyc"]),
            role=self.role,
            # waits out an endpoint that is Updating or SystemUpdating before deciding;
            # under the framework's 15 minutes, so the framework hears our own error
            timeout=cdk.Duration.minutes(10),
            memory_size=256,
            log_group=self.log_group,
            description="CloudFormation custom resource: update-safe endpoint autoscaling",
        )
        self.function.node.add_dependency(self.policy)
        self.provider = self._provider()
        self.service_token = self.provider.service_token

    def _provider(self) -> cr.Provider:
        """CDK's framework answers CloudFormation for the guard, also when the guard raises,
        crashes or times out, so no stack waits an hour on a guard that died."""
        log_group = logs.LogGroup(self, "ProviderLogs", retention=logs.RetentionDays.THREE_MONTHS,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        # our own role: the default one carries the AWSLambdaBasicExecutionRole managed policy
        role = iam.Role(self, "ProviderRole",
                        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="Scaling guard's provider framework: invokes the guard")
        role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{log_group.log_group_arn}:*"]))
        acknowledge(role, "AwsSolutions-IAM5",
                    "the framework function's own log group's streams, created by Lambda at "
                    "run time", resource=f"{log_group.log_group_arn}:*")
        acknowledge(role, "AwsSolutions-IAM5",
                    "the Provider's grant to invoke the guard function (CDK's grantInvoke "
                    "adds the function's versions and aliases, ':*'); nothing else",
                    resource=f"{self.function.function_arn}:*")
        return cr.Provider(self, "Provider", on_event_handler=self.function,
                           framework_on_event_role=role,
                           log_group=log_group,
                           framework_lambda_logging_level=lambda_.ApplicationLogLevel.ERROR)

    def allow_rule(self, rule_name: str) -> None:
        """Let the guard read the targets of this after-rollback rule (their input holds
        the variant's declaration as the stack's current template has it)."""
        stack = cdk.Stack.of(self)
        self.policy.add_statements(iam.PolicyStatement(
            actions=["events:ListTargetsByRule"],
            resources=[f"arn:{stack.partition}:events:{stack.region}:{stack.account}:rule/"
                       f"{rule_name}"]))

    def allow_endpoint(self, endpoint_name: str) -> None:
        """Let the guard (and Application Auto Scaling on its behalf) manage this endpoint."""
        stack = cdk.Stack.of(self)
        sm = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
        cw = f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}"
        alarms = f"{cw}:alarm:TargetTracking-endpoint/{endpoint_name}/*"
        configs = f"{sm}:endpoint-config/*"
        self.policy.add_statements(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig",
                         "sagemaker:UpdateEndpointWeightsAndCapacities"],
                resources=[f"{sm}:endpoint/{endpoint_name.lower()}", configs]),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"],
                resources=[alarms]))
        acknowledge(self.policy, "AwsSolutions-IAM5",
                    "target tracking alarms are named by Application Auto Scaling with a "
                    "generated suffix; scoped to this endpoint's prefix", resource=alarms)
        acknowledge(self.policy, "AwsSolutions-IAM5",
                    "Application Auto Scaling reads the endpoint's current config, whose "
                    "name CloudFormation generates (read-only)", resource=configs)


class VariantAutoScaling(Construct):
    """Autoscaling of one endpoint variant, safe across instance-type changes.

    ``endpoint`` is the ``CfnEndpoint``; ``endpoint_name`` must be a literal (it names the
    scaling resource and the guard's permissions). Add policies with
    ``scale_on_target_tracking`` and ``scale_on_step``, scheduled actions with
    ``scale_on_schedule``. Resources: ``release`` (before the
    endpoint), ``target`` (after it, with the policies' ARNs), ``after_rollback`` (the rule).
    """

    def __init__(self, scope: Construct, id: str, *, endpoint: cdk.CfnResource,
                 endpoint_name: str, variant_name: str, instance_type: str,
                 min_capacity: int, max_capacity: int) -> None:
        super().__init__(scope, id)
        if cdk.Token.is_unresolved(endpoint_name):
            raise ValueError("VariantAutoScaling needs a literal endpoint name")
        if not 0 <= min_capacity <= max_capacity:
            raise ValueError(f"need 0 <= min_capacity ({min_capacity}) <= max_capacity "
                             f"({max_capacity})")
        guard = ScalingGuardFunction.of(self)
        guard.allow_endpoint(endpoint_name)
        self.resource_id = f"endpoint/{endpoint_name}/variant/{variant_name}"
        self.min_capacity, self.max_capacity = min_capacity, max_capacity
        self._policies: list[dict[str, Any]] = []
        self._schedules: list[dict[str, Any]] = []
        stack = cdk.Stack.of(self)
        key = {"ServiceNamespace": "sagemaker", "ResourceId": self.resource_id,
               "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}

        declaration = {**key, "Fingerprint": instance_type,
                       "MinCapacity": min_capacity, "MaxCapacity": max_capacity,
                       "Policies": cdk.Lazy.string(_JsonOf(stack, self._policies)),
                       # omitted while there are none: templates without schedules unchanged
                       "ScheduledActions": cdk.Lazy.any(
                           _JsonOf(stack, self._schedules, omit_empty=True))}
        # The ids are new with the Provider: CloudFormation refuses to change the
        # ServiceToken of an existing custom resource (the handler retires the old ones).
        #: Runs before the endpoint update: deregisters when the endpoint runs another
        #: instance type than declared, registers the declared scaling when it runs this one.
        self.release = cdk.CustomResource(
            self, "ScalingRelease", service_token=guard.service_token,
            resource_type="Custom::ScalingRelease", properties=declaration)
        endpoint.node.add_dependency(self.release)
        #: Runs after the endpoint: owns the registration and the policies.
        self.target = cdk.CustomResource(
            self, "ScalableVariant", service_token=guard.service_token,
            resource_type="Custom::ScalableVariant", properties=declaration)
        self.target.node.add_dependency(endpoint)
        self.target.node.add_dependency(guard.policy)
        self.release.node.add_dependency(guard.policy)
        #: Once a rollback completes: registers the declared scaling when the endpoint
        #: runs the declared type (the Target gets no rollback event if its turn never came).
        self.after_rollback = self._after_rollback(guard, declaration)
        self.node.add_validation(_RuleInputFits(self))

    def _after_rollback(self, guard: ScalingGuardFunction,
                        declaration: dict[str, Any]) -> events.Rule:
        stack = cdk.Stack.of(self)
        # a literal name: the guard reads the rule's current target input (the
        # declaration of the template the stack rolled back to), and the rule's ARN scopes
        # the guard's permission without a reference from its policy back to the rule
        name = cdk.Names.unique_resource_name(self, max_length=64, separator="-")
        rule = events.Rule(
            self, "AfterRollback", rule_name=name,
            description=f"Scaling guard: registers {self.resource_id} as declared once a "
                        "rollback of this stack completes",
            event_pattern=events.EventPattern(
                source=["aws.cloudformation"],
                detail_type=["CloudFormation Stack Status Change"],
                detail={"stack-id": [stack.stack_id],
                        "status-details": {"status": ["UPDATE_ROLLBACK_COMPLETE"]}}))
        rule.add_target(targets.LambdaFunction(
            guard.function, event=events.RuleTargetInput.from_object(
                {"SettledStack": {**declaration, "Rule": name, "StackId": stack.stack_id}})))
        guard.allow_rule(name)
        return rule

    def scale_on_target_tracking(self, name: str, *, target_value: float,
                                 predefined_metric_type: str | None = None,
                                 customized_metric: dict[str, Any] | None = None,
                                 scale_in_cooldown: cdk.Duration = cdk.Duration.minutes(5),
                                 scale_out_cooldown: cdk.Duration = cdk.Duration.minutes(1)
                                 ) -> str:
        """Target tracking on a predefined or a customized metric; returns the policy ARN."""
        if (predefined_metric_type is None) == (customized_metric is None):
            raise ValueError("give exactly one of predefined_metric_type, customized_metric")
        config: dict[str, Any] = {"TargetValue": target_value,
                                  "ScaleInCooldown": int(scale_in_cooldown.to_seconds()),
                                  "ScaleOutCooldown": int(scale_out_cooldown.to_seconds())}
        if predefined_metric_type:
            config["PredefinedMetricSpecification"] = {
                "PredefinedMetricType": predefined_metric_type}
        else:
            config["CustomizedMetricSpecification"] = customized_metric
        return self._add({"PolicyName": name, "PolicyType": "TargetTrackingScaling",
                          "TargetTrackingScalingPolicyConfiguration": config})

    def scale_on_step(self, name: str, *, adjustment: int = 1,
                      cooldown: cdk.Duration = cdk.Duration.minutes(2)) -> str:
        """A one-step policy (+``adjustment`` instances whenever its alarm fires);
        returns the policy ARN for the alarm's action."""
        return self._add({"PolicyName": name, "PolicyType": "StepScaling",
                          "StepScalingPolicyConfiguration": {
                              "AdjustmentType": "ChangeInCapacity",
                              "MetricAggregationType": "Average",
                              "Cooldown": int(cooldown.to_seconds()),
                              "StepAdjustments": [{"MetricIntervalLowerBound": 0,
                                                   "ScalingAdjustment": adjustment}]}})

    def scale_on_schedule(self, name: str, *, schedule: appscaling.Schedule,
                          time_zone: str | None = None, min_capacity: int | None = None,
                          max_capacity: int | None = None) -> None:
        """A scheduled action: from each time ``schedule`` fires (in ``time_zone``, an IANA
        name; UTC by default) the variant scales between these bounds (an omitted bound
        stays as it is). Both lie within the variant's own range: a deployment that
        changes the scaling registers that range, and the schedule's next firing sets its
        bounds again."""
        if any(s["ScheduledActionName"] == name for s in self._schedules):
            raise ValueError(f"scheduled action {name!r} exists already")
        bounds = {k: v for k, v in (("MinCapacity", min_capacity),
                                    ("MaxCapacity", max_capacity)) if v is not None}
        if not bounds:
            raise ValueError(f"scheduled action {name!r}: give min_capacity, max_capacity "
                             "or both")
        low, high = bounds.get("MinCapacity", self.min_capacity), bounds.get(
            "MaxCapacity", self.max_capacity)
        if not self.min_capacity <= low <= high <= self.max_capacity:
            raise ValueError(f"scheduled action {name!r}: need {self.min_capacity} <= "
                             f"min_capacity ({low}) <= max_capacity ({high}) <= "
                             f"{self.max_capacity}")
        action: dict[str, Any] = {"ScheduledActionName": name,
                                  "Schedule": schedule.expression_string,
                                  "ScalableTargetAction": bounds}
        if time_zone is not None:
            action["Timezone"] = time_zone
        self._schedules.append(action)

    @property
    def scheduled_actions(self) -> list[dict[str, Any]]:
        return list(self._schedules)

    def _add(self, policy: dict[str, Any]) -> str:
        if any(p["PolicyName"] == policy["PolicyName"] for p in self._policies):
            raise ValueError(f"policy {policy['PolicyName']!r} exists already")
        self._policies.append(policy)
        return self.target.get_att_string(f"{policy['PolicyName']}Arn")

    @property
    def policies(self) -> list[dict[str, Any]]:
        return list(self._policies)


#: EventBridge's limit on a target's Input (botocore 1.44, events: TargetInput max 8192).
RULE_INPUT_MAX = 8192


@jsii.implements(IValidation)
class _RuleInputFits:
    """The after-rollback rule's input holds the whole declaration: it must fit."""

    def __init__(self, scaling: VariantAutoScaling) -> None:
        self._scaling = scaling

    def validate(self) -> list[str]:
        scaling = self._scaling
        rule = scaling.after_rollback.node.default_child
        assert isinstance(rule, events.CfnRule)
        (target,) = cdk.Stack.of(scaling).resolve(rule.targets)
        parts = target["input"]["Fn::Join"][1]
        # the stack id, a reference here, is an ARN of at most about 130 characters
        size = sum(len(p) if isinstance(p, str) else 130 for p in parts)
        if size <= RULE_INPUT_MAX:
            return []
        return [f"{scaling.resource_id}: the scaling declaration takes about {size} "
                f"characters, above EventBridge's {RULE_INPUT_MAX} for the after-rollback "
                "rule's input: declare fewer or shorter scheduled actions or policies"]


@jsii.implements(cdk.IStableStringProducer)
@jsii.implements(cdk.IStableAnyProducer)
class _JsonOf:
    """Renders a list as JSON at synth time, after every policy was added; with
    ``omit_empty``, an empty list as nothing (the property is left out)."""

    def __init__(self, stack: cdk.Stack, value: list[dict[str, Any]], *,
                 omit_empty: bool = False) -> None:
        self._stack, self._value, self._omit_empty = stack, value, omit_empty

    def produce(self) -> str | None:
        if self._omit_empty and not self._value:
            return None
        return self._stack.to_json_string(self._value)
