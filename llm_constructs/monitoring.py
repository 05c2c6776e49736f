"""Alarms and a CloudWatch dashboard for one LLM endpoint (one model, or inference
components)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from .inference_components import ComponentEndpoint, InferenceComponent
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
        self.alarms[id] = _alarm(self, id, metric, threshold, op, description,
                                 evaluation_periods)


def _graph(title: str, left: list[cloudwatch.IMetric],
           right: list[cloudwatch.IMetric] | None = None,
           width: int = 8) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=left, right=right or [], width=width,
                                  height=6)


class ComponentMonitoring(Construct):
    """Alarms per inference component and a dashboard with a row per component.

    What SageMaker publishes for an endpoint with inference components (AWS, "Amazon
    SageMaker AI metrics in Amazon CloudWatch", section "SageMaker AI inference component
    metrics", https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html,
    and "enhanced metrics", .../monitoring-cloudwatch-enhanced-metrics.html): invocation
    metrics in ``AWS/SageMaker`` and utilization of the copies in
    ``/aws/sagemaker/InferenceComponents``, both per ``InferenceComponentName``; the
    instances' metrics in ``/aws/sagemaker/Endpoints`` per ``EndpointName, VariantName``.

    Per component: ``Invocation5XXErrors`` (Sum) and ``ModelLatency`` (p90, given in
    milliseconds, compared in the microseconds SageMaker reports), and
    ``Invocation4XXErrors`` (Sum) when ``invocation_4xx_errors`` is given (off by default:
    4XX answers are usually the caller's mistake). Attributes: ``component_alarms`` (per
    component id, per alarm id), ``alarms`` (all of them, by ``<component id><alarm id>``),
    ``dashboard``.
    """

    def __init__(self, scope: Construct, id: str, *, endpoint: ComponentEndpoint,
                 alarm_topic: sns.ITopic | None = None,
                 period: cdk.Duration = cdk.Duration.minutes(5),
                 invocation_5xx_errors: int = 5, invocation_4xx_errors: int | None = None,
                 model_latency_p90: cdk.Duration = cdk.Duration.seconds(30),
                 dashboard_name: str | None = None) -> None:
        super().__init__(scope, id)
        self.component_alarms: dict[str, dict[str, cloudwatch.Alarm]] = {}
        for component_id, component in endpoint.components.items():
            self.component_alarms[component_id] = _component_alarms(
                Construct(self, component_id), component, period=period,
                invocation_5xx_errors=invocation_5xx_errors,
                invocation_4xx_errors=invocation_4xx_errors,
                model_latency_p90=model_latency_p90)
        self.alarms: dict[str, cloudwatch.Alarm] = {
            f"{component_id}{alarm_id}": alarm
            for component_id, alarms in self.component_alarms.items()
            for alarm_id, alarm in alarms.items()}
        if alarm_topic is not None:
            for alarm in self.alarms.values():
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
                alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))
        self.dashboard = _component_dashboard(self, endpoint, list(self.alarms.values()),
                                              dashboard_name)


def _component_alarms(scope: Construct, component: InferenceComponent, *,
                      period: cdk.Duration, invocation_5xx_errors: int,
                      invocation_4xx_errors: int | None,
                      model_latency_p90: cdk.Duration) -> dict[str, cloudwatch.Alarm]:
    name = component.component_name
    gte = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    latency_ms = int(model_latency_p90.to_milliseconds())
    alarms = {
        "Invocation5XXErrors": _alarm(
            scope, "Invocation5XXErrors", component.metric_invocation_5xx_errors(period=period),
            invocation_5xx_errors, gte, f"{name}: {invocation_5xx_errors}+ model 5XX errors"),
        "ModelLatencyP90": _alarm(
            scope, "ModelLatencyP90", component.metric_model_latency(period=period),
            latency_ms * 1000, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            f"{name}: p90 model latency above {latency_ms} ms", evaluation_periods=3),
    }
    if invocation_4xx_errors is not None:
        alarms["Invocation4XXErrors"] = _alarm(
            scope, "Invocation4XXErrors", component.metric_invocation_4xx_errors(period=period),
            invocation_4xx_errors, gte, f"{name}: {invocation_4xx_errors}+ 4XX errors")
    return alarms


def _alarm(scope: Construct, id: str, metric: cloudwatch.IMetric, threshold: float,
           op: cloudwatch.ComparisonOperator, description: str,
           evaluation_periods: int = 1) -> cloudwatch.Alarm:
    # Missing data is no failure: a component scaled to zero copies publishes nothing.
    return cloudwatch.Alarm(
        scope, id, metric=metric, threshold=threshold, comparison_operator=op,
        evaluation_periods=evaluation_periods, alarm_description=description,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)


def _component_dashboard(scope: Construct, endpoint: ComponentEndpoint,
                         alarms: list[cloudwatch.Alarm],
                         dashboard_name: str | None) -> cloudwatch.Dashboard:
    """The endpoint's instances on top, then one row per component, then the alarms."""
    minute = cdk.Duration.minutes(1)
    dashboard = cloudwatch.Dashboard(scope, "Dashboard", dashboard_name=dashboard_name,
                                     default_interval=cdk.Duration.hours(6))
    dashboard.add_widgets(cloudwatch.TextWidget(
        markdown=f"# {endpoint.endpoint_name}\nInference components on "
                 f"{endpoint.instance_type}: one row per component", width=24, height=2))
    dashboard.add_widgets(
        _graph("Instances", [endpoint.metric_instance_count(period=minute)]),
        _graph("Reserved by the components (%)",
               [endpoint.metric_gpu_reservation(period=minute),
                endpoint.metric_memory_reservation(period=minute),
                endpoint.metric_cpu_reservation(period=minute)]),
        _graph("Instance utilisation (%)",
               [endpoint.metric_gpu_utilization_normalized(period=minute),
                endpoint.metric_gpu_memory_utilization_normalized(period=minute),
                endpoint.metric_cpu_utilization_normalized(period=minute)]))
    for component in endpoint.components.values():
        dashboard.add_widgets(*_component_row(component, minute))
    dashboard.add_widgets(cloudwatch.AlarmStatusWidget(alarms=alarms, title="Alarms",
                                                       width=24))
    return dashboard


def _component_row(component: InferenceComponent,
                   period: cdk.Duration) -> list[cloudwatch.IWidget]:
    name = component.component_name
    return [
        _graph(f"{name}: invocations", [component.metric_invocations(period=period)],
               [component.metric_concurrent_requests_per_copy(period=period)], width=6),
        _graph(f"{name}: errors", [component.metric_invocation_5xx_errors(period=period),
                                   component.metric_invocation_4xx_errors(period=period),
                                   component.metric_no_capacity_invocation_failures(
                                       period=period)], width=6),
        _graph(f"{name}: model latency p90 (us)", [component.metric_model_latency(
            period=period)], width=6),
        _graph(f"{name}: copies' utilisation (%)",
               [component.metric_gpu_utilization_normalized(period=period),
                component.metric_gpu_memory_utilization_normalized(period=period),
                component.metric_memory_utilization_normalized(period=period)], width=6),
    ]
