"""How an endpoint runs: scaling, asynchronous inference, alarms, serverless capacity,
deployment guardrails."""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field, field_validator

from config.arns import check_bucket_name, parse_arn, parse_s3_uri
from config.aws_cron import cron_problem

from .base import Strict, close

NotificationTopic = Literal["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"]
NOTIFICATION_TOPICS: tuple[str, ...] = get_args(NotificationTopic)



#: ScheduledActionName in botocore 1.44's application-autoscaling model (1-256 characters).
SCHEDULED_ACTION_NAME_RE = re.compile(
    r"(?!((^[ ]+.*)|(.*([\u0000-\u001f]|[\u007f-\u009f]|[:/|])+.*)|(.*[ ]+$))).{1,256}")


#: Schedules per endpoint (see ``Autoscaling._few_schedules``).
MAX_SCHEDULES = 10


class ScheduleTiming(Strict):
    """When a scheduled action fires: its name, AWS cron and time zone (the bounds it sets
    are the subclass's: instances of a variant, copies of a component)."""

    name: str = Field(description="Unique among the schedules beside it; 1-256 characters, "
                                  "no ':', '/', '|'.")
    cron: str = Field(description="AWS's six-field cron: minutes hours day-of-month month "
                                  "day-of-week year, e.g. '0 8 ? * MON-FRI *'.")
    timezone: str = Field(default="UTC", description="IANA time zone the cron runs in, "
                                                     "e.g. Europe/Berlin.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not SCHEDULED_ACTION_NAME_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not a scheduled action name: 1-256 characters, no "
                             "':', '/', '|' or control characters, no space at either end")
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        fields = v.strip().removeprefix("cron(").removesuffix(")")
        problem = cron_problem(fields)
        if problem:
            raise ValueError(f"{v!r} is not an AWS cron expression: {problem}")
        return " ".join(fields.split())

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        known = zoneinfo.available_timezones()
        if v not in known:
            hint = close(v, known) if known else " (no time zone database here: install tzdata)"
            raise ValueError(f"{v!r} is not an IANA time zone name like 'Europe/Berlin'{hint}")
        return v


class Schedule(ScheduleTiming):
    """A scheduled action: from each time ``cron`` fires in ``timezone``, the endpoint
    scales between these bounds (a bound left out stays as it was)."""

    min_capacity: int | None = Field(default=None, ge=0, le=100,
                                     description="Fewest instances from then on.")
    max_capacity: int | None = Field(default=None, ge=1, le=100,
                                     description="Most instances from then on.")


class CopySchedule(ScheduleTiming):
    """A scheduled action on an inference component's copies: from each time ``cron``
    fires in ``timezone``, the component scales between these bounds (a bound left out
    stays as it was); ``min_copies: 0`` lets it scale in to no copy, ``max_copies: 0``
    stops it (requests fail for want of a copy until a later schedule raises the bound)."""

    min_copies: int | None = Field(default=None, ge=0, le=1000,
                                   description="Fewest copies from then on.")
    max_copies: int | None = Field(default=None, ge=0, le=1000,
                                   description="Most copies from then on (0: stopped, "
                                               "requests fail until a schedule raises it).")


def _at_most_ten(per: str) -> AfterValidator:
    """The scaling guard's after-rollback rule holds an endpoint's schedules in its
    target's input, which EventBridge caps at 8192 characters (ten of the longest names
    still fit); a component keeps to the same number."""
    def check(schedules: list) -> list:
        if len(schedules) > MAX_SCHEDULES:
            raise ValueError(f"{len(schedules)} schedules; at most {MAX_SCHEDULES} per {per}")
        return schedules
    return AfterValidator(check)


VariantSchedules = Annotated[list[Schedule], _at_most_ten("endpoint")]
CopySchedules = Annotated[list[CopySchedule], _at_most_ten("component")]


class Autoscaling(Strict):
    """Real-time: target tracking on SageMakerVariantInvocationsPerInstance.
    Async: target tracking on ApproximateBacklogSizePerInstance, min 0 allowed, plus a
    step policy on HasBacklogWithoutCapacity that brings the first instance back."""

    min_capacity: int = Field(default=1, ge=0, le=100,
                              description="Fewest instances (0 only for mode: async).")
    max_capacity: int = Field(default=2, ge=1, le=100, description="Most instances.")
    target_invocations_per_instance: int | None = Field(
        default=None, ge=1, description="Real-time: invocations per instance per minute to "
                                        "track (default 20).")
    target_backlog_per_instance: float | None = Field(
        default=None, gt=0, description="Async: queued requests per instance to track "
                                        "(default 5).")
    scale_in_cooldown_seconds: int = Field(default=600, ge=0, le=3600,
                                           description="Seconds between scale-in steps.")
    scale_out_cooldown_seconds: int = Field(default=120, ge=0, le=3600,
                                            description="Seconds between scale-out steps.")
    scale_from_zero_cooldown_seconds: int = Field(
        default=120, ge=0, le=3600,
        description="Async with min 0: cooldown of the step that brings the first instance back.")

    schedules: VariantSchedules = Field(
        default_factory=list, description="Scheduled actions (e.g. office hours), each "
                                          "within min_capacity..max_capacity; at most "
                                          f"{MAX_SCHEDULES}.")

    @property
    def invocations_target(self) -> int:
        return self.target_invocations_per_instance or 20

    @property
    def backlog_target(self) -> float:
        return self.target_backlog_per_instance or 5.0


class AsyncInference(Strict):
    """Asynchronous inference: requests and results in S3, notifications on SNS.

    Paths are prefixes in the bucket the stack creates (KMS-encrypted, SSL-only,
    versioned, access-logged). ``existing_bucket`` uses a bucket you own instead."""

    max_concurrent_invocations_per_instance: int | None = Field(
        default=None, ge=1, le=1000,
        description="Concurrent requests per instance; unset lets SageMaker choose.")
    existing_bucket: str | None = Field(
        default=None, description="Use this bucket of yours instead of one the stack creates.")
    input_path: str = Field(default="input/", description="Prefix (or s3:// URI in "
                                                          "existing_bucket) of the requests.")
    output_path: str = Field(default="output/", description="Prefix (or s3:// URI) of the results.")
    failure_path: str = Field(default="failure/", description="Prefix (or s3:// URI) of the "
                                                              "failures.")
    expire_after_days: int | None = Field(
        default=30, ge=1, le=3650, description="Days objects are kept; unset keeps them.")
    notifications: bool = Field(default=True, description="SNS success and error topics.")
    runtime: bool = Field(
        default=True,
        description="The runtime around the endpoint: uploads under input_path are submitted "
                    "by a Lambda, results recorded in a job ledger, failed requests kept for "
                    "replay.")
    failed_requests_path: str = Field(
        default="failed/", description="Prefix where the runtime copies failed requests.")
    max_receive_count: int = Field(
        default=5, ge=1, le=1000, description="Receives of a request before its dead-letter "
                                              "queue.")
    invoker_max_concurrency: int = Field(
        default=5, ge=2, le=1000, description="Concurrent invoker Lambdas.")
    include_inference_response_in: list[NotificationTopic] = Field(
        default_factory=list, description="Topics whose messages carry the response.")

    @field_validator("existing_bucket")
    @classmethod
    def _bucket(cls, v: str | None) -> str | None:
        return None if v is None else check_bucket_name(v)

    @field_validator("input_path", "output_path", "failure_path", "failed_requests_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if v.startswith("s3://"):
            parse_s3_uri(v)
            return v if v.endswith("/") else v + "/"
        if not re.match(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/?$", v):
            raise ValueError(f"{v!r} is not an S3 prefix like 'output/'")
        return v if v.endswith("/") else v + "/"


class Alarms(Strict):
    """Alarms per endpoint; actions go to ``topic_arn`` when given."""

    enabled: bool = Field(default=True, description="Alarms and a dashboard for the endpoint.")
    topic_arn: str | None = Field(
        default=None, description="SNS topic the alarms notify (in the endpoint's region).")
    max_age_of_oldest_request_seconds: int = Field(
        default=1800, ge=60, description="Async: alarm when the oldest request is this old.")
    invocation_failures: int = Field(
        default=1, ge=1, description="Async: alarm at this many failed invocations per period.")
    invocation_5xx_errors: int = Field(
        default=5, ge=1, description="Alarm at this many 5XX errors per period.")
    model_latency_p90_ms: int = Field(
        default=30000, ge=1, description="Alarm when the p90 model latency exceeds this.")
    period_seconds: int = Field(default=300, ge=60, le=86400,
                                description="Alarm period: a multiple of 60 (SageMaker's "
                                            "metrics have one-minute resolution).")

    @field_validator("period_seconds")
    @classmethod
    def _period(cls, v: int) -> int:
        # CloudWatch PutMetricAlarm: "Valid values are 10, 20, 30, and any multiple of 60"
        # (botocore's documentation of Period); 10-30 need sub-minute metrics. The latency
        # alarm evaluates 3 periods, and below an hour the total may not exceed a day.
        if v % 60:
            raise ValueError(f"{v} is not a multiple of 60; CloudWatch takes 60, 120, ... "
                             f"(nearest: {max(60, round(v / 60) * 60)})")
        return v

    @field_validator("topic_arn")
    @classmethod
    def _topic(cls, v: str | None) -> str | None:
        if v is not None:
            parse_arn(v, service="sns", resource="")
        return v


class Serverless(Strict):
    """A serverless endpoint (CPU only, outside your VPC, SageMaker scales it)."""

    memory_size_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = Field(
        default=2048, description="Memory (1024-6144 in 1024 steps); CPU follows it.")
    max_concurrency: int = Field(default=5, ge=1, le=200,
                                 description="Concurrent invocations at most.")
    provisioned_concurrency: int | None = Field(
        default=None, ge=1, le=200, description="Warm capacity kept ready (at most "
                                                "max_concurrency).")


class Guardrails(Strict):
    """Deployment guardrails (real-time): blue/green traffic shifting with auto-rollback on
    the stack's 5XX and model-latency alarms."""

    strategy: Literal["all_at_once", "canary", "linear"] = Field(
        default="canary", description="How traffic moves to the new fleet.")
    canary_size_percent: int | None = Field(
        default=None, ge=1, le=99, description="Canary: % of capacity shifted first.")
    linear_step_percent: int | None = Field(
        default=None, ge=1, le=99, description="Linear: % of capacity shifted per step.")
    wait_interval_seconds: int = Field(default=300, ge=0, le=3600,
                                       description="Seconds between traffic shifts.")
    termination_wait_seconds: int = Field(
        default=300, ge=0, le=3600, description="Seconds the old fleet stays after the shift.")
    maximum_execution_timeout_seconds: int | None = Field(
        default=None, ge=600, le=28800, description="Longest blue/green deployment.")
    auto_rollback: bool = Field(
        default=True, description="Roll back on the stack's 5XX and model-latency alarms "
                                  "(needs alarms.enabled).")
