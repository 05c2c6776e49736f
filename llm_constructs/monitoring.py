"""Alarms and a CloudWatch dashboard for one LLM endpoint."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from .model_endpoint import LlmEndpoint


class EndpointMonitoring(Construct):
    """Alarms with thresholds, actions to an optional topic, and a dashboard.

    Async: ``ApproximateAgeOfOldestRequest`` (seconds, Maximum) and ``InvocationFailures``
    (Sum). Real-time: ``Invocation5XXErrors`` (Sum) and ``ModelLatency`` (p90, given in
    milliseconds, compared in the microseconds SageMaker reports).
    The dashboard: backlog, instances, age of oldest request, failures, GPU utilisation
    and latency.
    """

    def __init__(self, scope: Construct, id: str, *, endpoint: LlmEndpoint,
                 alarm_topic: sns.ITopic | None = None,
                 period: cdk.Duration = cdk.Duration.minutes(5),
                 max_age_of_oldest_request: cdk.Duration = cdk.Duration.minutes(30),
                 invocation_failures: int = 1, invocation_5xx_errors: int = 5,
                 model_latency_p90: cdk.Duration = cdk.Duration.seconds(30),
                 dashboard_name: str | None = None) -> None:
        super().__init__(scope, id)
        ep = endpoint
        name = ep.endpoint_name
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        gte = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        gt = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        if ep.is_async:
            self._alarm("OldestRequestAge", ep.metric_approximate_age_of_oldest_request(
                period=period), max_age_of_oldest_request.to_seconds(), gt,
                f"{name}: a request has waited longer than "
                f"{int(max_age_of_oldest_request.to_seconds())} s")
            self._alarm("InvocationFailures", ep.metric_invocation_failures(period=period),
                        invocation_failures, gte,
                        f"{name}: {invocation_failures}+ failed async invocations")
        else:
            self._alarm("Invocation5XXErrors", ep.metric_invocation_5xx_errors(period=period),
                        invocation_5xx_errors, gte,
                        f"{name}: {invocation_5xx_errors}+ model 5XX errors")
            self._alarm("ModelLatencyP90", ep.metric_model_latency(period=period),
                        model_latency_p90.to_milliseconds() * 1000, gt,
                        f"{name}: p90 model latency above "
                        f"{int(model_latency_p90.to_milliseconds())} ms", evaluation_periods=3)
        if alarm_topic is not None:
            for alarm in self.alarms.values():
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
                alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name,
                                              default_interval=cdk.Duration.hours(6))
        minute = cdk.Duration.minutes(1)
        if ep.is_async:
            top = [
                _graph("Backlog", [ep.metric_approximate_backlog_size(period=minute),
                                   ep.metric_approximate_backlog_size_per_instance(period=minute)],
                       [ep.metric_has_backlog_without_capacity(period=minute)]),
                _graph("Instances", [ep.metric_instance_count(period=minute)]),
                _graph("Age of oldest request (s)",
                       [ep.metric_approximate_age_of_oldest_request(period=minute)]),
            ]
            bottom = [
                _graph("Processed / failed", [ep.metric_invocations_processed(period=minute),
                                              ep.metric_invocation_failures(period=minute)]),
                _graph("GPU utilisation (%)", [ep.metric_gpu_utilization(period=minute),
                                               ep.metric_gpu_memory_utilization(period=minute)]),
                _graph("Latency: total processing p90 (ms), model p90 (us)",
                       [ep.metric_total_processing_time(period=minute)],
                       [ep.metric_model_latency(period=minute)]),
            ]
        else:
            top = [
                _graph("Invocations", [ep.metric_invocations(period=minute)]),
                _graph("Instances", [ep.metric_instance_count(period=minute)]),
                _graph("Errors", [ep.metric_invocation_5xx_errors(period=minute),
                                  ep.metric_invocation_4xx_errors(period=minute)]),
            ]
            bottom = [
                _graph("GPU utilisation (%)", [ep.metric_gpu_utilization(period=minute),
                                               ep.metric_gpu_memory_utilization(period=minute)]),
                _graph("Model latency p90 (us)", [ep.metric_model_latency(period=minute)]),
            ]
        self.dashboard.add_widgets(cloudwatch.TextWidget(
            markdown=f"# {name}\n{'Asynchronous' if ep.is_async else 'Real-time'} "
                     f"endpoint on {ep.instance_type}", width=24, height=2))
        self.dashboard.add_widgets(*top)
        self.dashboard.add_widgets(*bottom)
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(
            alarms=list(self.alarms.values()), title="Alarms", width=24))

    def _alarm(self, id: str, metric: cloudwatch.IMetric, threshold: float,
               op: cloudwatch.ComparisonOperator, description: str,
               evaluation_periods: int = 1) -> None:
        self.alarms[id] = cloudwatch.Alarm(
            self, id, metric=metric, threshold=threshold, comparison_operator=op,
            evaluation_periods=evaluation_periods, alarm_description=description,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)


def _graph(title: str, left: list[cloudwatch.IMetric],
           right: list[cloudwatch.IMetric] | None = None) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=left, right=right or [], width=8, height=6)
