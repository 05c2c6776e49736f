"""The runtime around an asynchronous endpoint: drop-a-file submission and a job ledger."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..async_inference import AsyncInferenceStorage
from ..botocore_data import service_model
from ..model_endpoint import LlmEndpoint
from ..nag import acknowledge, acknowledge_grant

#: The functions' code, one asset folder each: exactly the deployed files (no
#: ``__init__.py``; caches excluded from the asset).
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
INVOKER_CODE = RUNTIME_DIR / "invoker"
RECORDER_CODE = RUNTIME_DIR / "recorder"
#: Messages per invoker run, and its timeout: the handler's worst case for one message
#: (every AWS call timing out on every attempt, every retry sleeping its longest: 85 s,
#: ``Limits.message``) times the batch, plus sending untried messages back (12 s), fits;
#: tests/test_invoker_faults.py computes it from the synthesized template. The requests
#: queue's visibility timeout is 6x this (AWS's advice for SQS event sources), which is also
#: when a failed message is tried again.
INVOKER_BATCH_SIZE = 5
INVOKER_TIMEOUT = cdk.Duration.seconds(450)


class AsyncJobRuntime(Construct):
    """S3 upload -> SQS -> invoker Lambda -> ``InvokeEndpointAsync``; success/error topics
    -> SQS -> result Lambda -> job ledger (DynamoDB) and a ``failed/`` copy of failed
    requests. Both queues have dead-letter queues with alarms; nothing is dropped.

    ``request_ttl`` and ``invocation_timeout`` go with every ``InvokeEndpointAsync``
    (defaults: SageMaker's own, 6 hours and 15 minutes): together they bound when an
    accepted request has its result, which is how long the invoker waits before it submits
    again a request whose submission it could not confirm.

    Attributes: ``table``, ``requests_queue``, ``requests_dlq``, ``results_queue``,
    ``results_dlq``, ``invoker``, ``recorder`` (functions), ``dlq_alarms``.
    Grants: ``grant_read_jobs`` (ledger), ``grant_wait`` (what ``llm_client`` needs to wait
    on the notification path: a temporary queue subscribed to the topics).
    """

    def __init__(self, scope: Construct, id: str, *, endpoint: LlmEndpoint,
                 storage: AsyncInferenceStorage, failed_prefix: str = "failed/",
                 max_receive_count: int = 5, invoker_max_concurrency: int = 5,
                 request_ttl: cdk.Duration = cdk.Duration.hours(6),
                 invocation_timeout: cdk.Duration = cdk.Duration.minutes(15),
                 ledger_ttl: cdk.Duration | None = None, table_key: kms.IKey | None = None,
                 alarm_topic: sns.ITopic | None = None,
                 removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN) -> None:
        super().__init__(scope, id)
        if not storage.owned:
            raise ValueError("the runtime adds S3 event notifications to the bucket, which "
                             "replaces a bucket's notification configuration: it needs the "
                             "bucket the storage construct owns")
        if storage.success_topic is None or storage.error_topic is None:
            raise ValueError("the runtime learns results from the success and error topics")
        self.storage, self.endpoint = storage, endpoint
        self.failed_prefix = failed_prefix
        storage.add_expiry(failed_prefix)  # kept for replay as long as the requests are
        self.endpoint_name = endpoint.endpoint_name

        self.table = dynamodb.Table(
            self, "Jobs", partition_key=dynamodb.Attribute(
                name="inference_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED if table_key
            else dynamodb.TableEncryption.AWS_MANAGED,
            encryption_key=table_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute="expires_at", removal_policy=removal_policy)

        self.requests_dlq, self.requests_queue = self._queues(
            "Requests", max_receive_count, visibility=cdk.Duration.seconds(
                INVOKER_TIMEOUT.to_seconds() * 6))
        self.results_dlq, self.results_queue = self._queues(
            "Results", max_receive_count, visibility=cdk.Duration.minutes(3))
        storage.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.SqsDestination(self.requests_queue),
            s3.NotificationKeyFilter(prefix=storage.input_prefix))
        handler = cdk.Stack.of(self).node.try_find_child(
            "BucketNotificationsHandler050a0587b7544547bf325f094a3db834")
        if handler is not None:  # CDK's own custom resource that sets bucket notifications
            acknowledge(handler, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:"
                                 "policy/service-role/AWSLambdaBasicExecutionRole]",
                        "CDK's BucketNotificationsHandler (runs only during deployment, to "
                        "put this bucket's notification configuration) logs with the managed "
                        "basic execution policy; CDK offers no way to replace it")
        for topic in storage.topics:
            topic.add_subscription(subs.SqsSubscription(self.results_queue,
                                                        raw_message_delivery=True))

        ttl_days = str(int(ledger_ttl.to_days())) if ledger_ttl else ""
        self.invoker = self._function(
            "Invoker", INVOKER_CODE, INVOKER_TIMEOUT,
            "Submits uploaded requests to the async endpoint", {
                "ENDPOINT_NAME": endpoint.endpoint_name, "TABLE_NAME": self.table.table_name,
                "INPUT_PREFIX": storage.input_prefix, "LEDGER_TTL_DAYS": ttl_days,
                "REQUESTS_QUEUE_URL": self.requests_queue.queue_url,
                **_invoke_limits(request_ttl, invocation_timeout),
                # a claim older than the function's timeout has lost its claimer
                "CLAIM_TIMEOUT_SECONDS": str(int(INVOKER_TIMEOUT.to_seconds()))})
        self.invoker.add_event_source(sources.SqsEventSource(
            self.requests_queue, batch_size=INVOKER_BATCH_SIZE, report_batch_item_failures=True,
            max_concurrency=invoker_max_concurrency))
        endpoint.grant_invoke(self.invoker)
        self._grant_table(self.invoker, ["dynamodb:PutItem", "dynamodb:UpdateItem",
                                         "dynamodb:DeleteItem"])
        # re-checks of unconfirmed jobs, deferred ledger writes, messages it had no time for
        iam.Grant.add_to_principal(grantee=self.invoker, actions=["sqs:SendMessage"],
                                   resource_arns=[self.requests_queue.queue_arn])
        self._grant_objects(self.invoker, ["s3:GetObject"], storage.input_prefix,
                            "read the content type and current version of each request")
        # A request deleted before it is submitted must read as 404, not 403 (S3 answers
        # 403 for a missing key to a caller who may not list): list the input prefix only.
        iam.Grant.add_to_principal(
            grantee=self.invoker, actions=["s3:ListBucket"],
            resource_arns=[storage.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": f"{storage.input_prefix}*"}})

        self.recorder = self._function(
            "Recorder", RECORDER_CODE, cdk.Duration.seconds(30),
            "Records async results in the job ledger", {
                "TABLE_NAME": self.table.table_name, "FAILED_PREFIX": failed_prefix})
        self.recorder.add_event_source(sources.SqsEventSource(
            self.results_queue, batch_size=10, report_batch_item_failures=True))
        self._grant_table(self.recorder, ["dynamodb:GetItem", "dynamodb:UpdateItem"])
        self._grant_objects(self.recorder, ["s3:GetObjectVersion"], storage.input_prefix,
                            "copy a failed request, the version submitted (source)")
        self._grant_objects(self.recorder, ["s3:PutObject"], failed_prefix,
                            "keep a failed request for replay (target)")
        storage.key.grant(self.recorder, "kms:Decrypt", "kms:GenerateDataKey")

        self.dlq_alarms = [self._dlq_alarm(name, q, alarm_topic) for name, q in
                           (("Requests", self.requests_dlq), ("Results", self.results_dlq))]

    # -- parts ---------------------------------------------------------------------------
    def _queues(self, name: str, max_receive_count: int,
                visibility: cdk.Duration) -> tuple[sqs.Queue, sqs.Queue]:
        dlq = sqs.Queue(self, f"{name}Dlq", encryption=sqs.QueueEncryption.SQS_MANAGED,
                        enforce_ssl=True, retention_period=cdk.Duration.days(14))
        acknowledge(dlq, "AwsSolutions-SQS3", "this queue is itself a dead-letter queue "
                                              "(alarmed when it holds a message)")
        queue = sqs.Queue(self, name, encryption=sqs.QueueEncryption.SQS_MANAGED,
                          enforce_ssl=True, visibility_timeout=visibility,
                          retention_period=cdk.Duration.days(4),
                          dead_letter_queue=sqs.DeadLetterQueue(
                              queue=dlq, max_receive_count=max_receive_count))
        return dlq, queue

    def _function(self, id: str, code: Path, timeout: cdk.Duration, description: str,
                  environment: dict[str, str]) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{id}Logs", retention=logs.RetentionDays.THREE_MONTHS,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        role = iam.Role(self, f"{id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"{description} ({self.endpoint_name})")
        role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{log_group.log_group_arn}:*"]))
        acknowledge(role, "AwsSolutions-IAM5", "the function's own log group's streams, "
                    "created by Lambda at run time", resource=f"{log_group.log_group_arn}:*")
        return lambda_.Function(
            self, id, runtime=lambda_.Runtime.PYTHON_3_14, architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler", timeout=timeout, memory_size=256, role=role,
            code=lambda_.Code.from_asset(str(code),
                                         exclude=["__pycache__", "*.pyc"]),
            log_group=log_group, environment=environment,
            description=f"{description} ({self.endpoint_name})")

    def _grant_table(self, fn: lambda_.Function, actions: list[str]) -> None:
        iam.Grant.add_to_principal(grantee=fn, actions=actions,
                                   resource_arns=[self.table.table_arn])
        if self.table.encryption_key is not None:
            self.table.encryption_key.grant_encrypt_decrypt(fn)

    def _grant_objects(self, fn: lambda_.Function, actions: list[str], prefix: str,
                       why: str) -> None:
        resource = self.storage.bucket.arn_for_objects(f"{prefix}*")
        iam.Grant.add_to_principal(grantee=fn, actions=actions, resource_arns=[resource])
        acknowledge_grant(fn, resource, f"objects under one prefix of the endpoint's async "
                          f"bucket, to {why}; keys are per request")

    def _dlq_alarm(self, name: str, dlq: sqs.Queue,
                   topic: sns.ITopic | None) -> cloudwatch.Alarm:
        alarm = dlq.metric_approximate_number_of_messages_visible(
            period=cdk.Duration.minutes(1), statistic="Maximum").create_alarm(
            self, f"{name}DlqAlarm", threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{self.endpoint_name}: {name.lower()} gave up after retries and "
                              "wait in the dead-letter queue; inspect and redrive them")
        if topic is not None:
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
        return alarm

    # -- grants --------------------------------------------------------------------------
    def grant_read_jobs(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the job ledger (``llm_client`` status, replay, wait; a batch's wait reads
        up to 100 jobs per ``BatchGetItem``)."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["dynamodb:GetItem", "dynamodb:BatchGetItem"],
            resource_arns=[self.table.table_arn])
        if self.table.encryption_key is not None:
            grant = grant.combine(self.table.encryption_key.grant_decrypt(grantee))
        return grant

    def grant_replay(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the kept copies of failed requests (``llm_client … replay`` copies one back
        under the input prefix; submitting is ``AsyncInferenceStorage.grant_submit``)."""
        resource = self.storage.bucket.arn_for_objects(f"{self.failed_prefix}*")
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["s3:GetObject"],
                                           resource_arns=[resource])
        acknowledge_grant(grantee, resource, "the kept copies of failed requests, one "
                          "folder per job under one prefix of the endpoint's async bucket")
        return grant.combine(self.storage.key.grant_decrypt(grantee))

    @property
    def wait_queue_arn_pattern(self) -> str:
        """The ARNs of the temporary queues ``llm_client`` creates to wait on a job:
        ``<first 40 characters of the endpoint name>-wait-<id>`` (the client's naming)."""
        if cdk.Token.is_unresolved(self.endpoint_name):
            raise ValueError("grant_wait needs the endpoint's name as a literal (the client "
                             "names its queue after it)")
        stack = cdk.Stack.of(self)
        return (f"arn:{stack.partition}:sqs:{stack.region}:{stack.account}:"
                f"{self.endpoint_name[:40]}-wait-*")

    def grant_wait(self, grantee: iam.IGrantable) -> iam.Grant:
        """What ``Job.result`` needs: a temporary SQS queue named ``<endpoint>-wait-*``
        subscribed to the two topics, and removing that subscription afterwards."""
        pattern = self.wait_queue_arn_pattern
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=[
            "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes",
            "sqs:SetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
            resource_arns=[pattern])
        acknowledge_grant(grantee, pattern, "llm_client waits on a temporary queue it creates "
                          "per job, named after the endpoint; scoped to that name prefix")
        grant = grant.combine(iam.Grant.add_to_principal(
            grantee=grantee, actions=["sns:Subscribe"],
            resource_arns=[t.topic_arn for t in self.storage.topics]))
        # Unsubscribe is authorized on the subscription ARN: <topic ARN>:<generated id>.
        subscriptions = [f"{t.topic_arn}:*" for t in self.storage.topics]
        for subscription in subscriptions:
            acknowledge_grant(grantee, subscription, "llm_client removes the subscriptions it "
                              "made to this topic; their ARNs end in an id SNS generates")
        return grant.combine(iam.Grant.add_to_principal(
            grantee=grantee, actions=["sns:Unsubscribe"], resource_arns=subscriptions))


def _invoke_limits(request_ttl: cdk.Duration, invocation_timeout: cdk.Duration) -> dict[str, str]:
    """The invoker's environment for InvokeEndpointAsync's RequestTTLSeconds and
    InvocationTimeoutSeconds, checked against the ranges botocore's model gives them."""
    shapes = service_model("sagemaker-runtime")["shapes"]
    members = shapes["InvokeEndpointAsyncInput"]["members"]
    env = {}
    for variable, member, value in (
            ("REQUEST_TTL_SECONDS", "RequestTTLSeconds", request_ttl),
            ("INVOCATION_TIMEOUT_SECONDS", "InvocationTimeoutSeconds", invocation_timeout)):
        low, high = shapes[members[member]["shape"]]["min"], shapes[members[member]["shape"]]["max"]
        seconds = value.to_seconds()
        if not low <= seconds <= high:
            raise ValueError(f"{member} of InvokeEndpointAsync takes {low} to {high} seconds "
                             f"(botocore's sagemaker-runtime model), got {seconds:g}")
        env[variable] = str(int(seconds))
    return env
