"""``metric_*`` methods of SageMaker endpoints, shared by every endpoint construct.

Names, namespaces, dimensions and units as AWS documents them ("Amazon SageMaker AI
metrics in Amazon CloudWatch"): invocation metrics in ``AWS/SageMaker`` and instance
metrics in ``/aws/sagemaker/Endpoints``, both per ``EndpointName, VariantName``; the
asynchronous backlog metrics per ``EndpointName`` alone; inference components' metrics per
``InferenceComponentName`` (see ``InferenceComponent``).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

INVOCATIONS = "AWS/SageMaker"
INSTANCES = "/aws/sagemaker/Endpoints"


class VariantMetrics:
    """Metrics of one variant of an endpoint: real-time invocations and instances.
    Needs ``endpoint_name`` and ``variant_name``."""

    endpoint_name: str
    variant_name: str

    def metric(self, metric_name: str, *, statistic: str = "Sum",
               period: cdk.Duration = cdk.Duration.minutes(1),
               namespace: str = INVOCATIONS) -> cloudwatch.Metric:
        """A metric of this endpoint's variant (``AWS/SageMaker`` by default)."""
        return cloudwatch.Metric(
            namespace=namespace, metric_name=metric_name, statistic=statistic, period=period,
            dimensions_map={"EndpointName": self.endpoint_name,
                            "VariantName": self.variant_name})

    def metric_invocations(self, **kw: Any) -> cloudwatch.Metric:
        return self.metric("Invocations", **kw)

    def metric_invocation_5xx_errors(self, **kw: Any) -> cloudwatch.Metric:
        return self.metric("Invocation5XXErrors", **kw)

    def metric_invocation_4xx_errors(self, **kw: Any) -> cloudwatch.Metric:
        return self.metric("Invocation4XXErrors", **kw)

    def metric_model_latency(self, *, statistic: str = "p90", **kw: Any) -> cloudwatch.Metric:
        """Microseconds, as SageMaker reports it."""
        return self.metric("ModelLatency", statistic=statistic, **kw)

    def metric_overhead_latency(self, *, statistic: str = "p90",
                                **kw: Any) -> cloudwatch.Metric:
        """Microseconds SageMaker adds to the model's latency."""
        return self.metric("OverheadLatency", statistic=statistic, **kw)

    def metric_gpu_utilization(self, *, statistic: str = "Average",
                               **kw: Any) -> cloudwatch.Metric:
        """Percent, summed over the instance's GPUs (0-100 per GPU)."""
        return self.metric("GPUUtilization", statistic=statistic, namespace=INSTANCES, **kw)

    def metric_gpu_memory_utilization(self, *, statistic: str = "Average",
                                      **kw: Any) -> cloudwatch.Metric:
        """Percent, summed over the instance's GPUs (0-100 per GPU)."""
        return self.metric("GPUMemoryUtilization", statistic=statistic, namespace=INSTANCES,
                           **kw)

    def metric_instance_count(self, **kw: Any) -> cloudwatch.Metric:
        """Instances in service: the sample count of per-instance CPUUtilization over one
        minute (as the SageMaker docs suggest; no metric publishes the count itself)."""
        return self.metric("CPUUtilization", statistic="SampleCount", namespace=INSTANCES,
                           **kw)


class AsyncMetrics(VariantMetrics):
    """Metrics of an asynchronous endpoint besides the variant's."""

    def _endpoint_metric(self, name: str, statistic: str = "Average",
                         period: cdk.Duration = cdk.Duration.minutes(1)) -> cloudwatch.Metric:
        """The backlog metrics: ``EndpointName`` is their only dimension."""
        return cloudwatch.Metric(namespace=INVOCATIONS, metric_name=name,
                                 statistic=statistic, period=period,
                                 dimensions_map={"EndpointName": self.endpoint_name})

    def metric_approximate_backlog_size(self, **kw: Any) -> cloudwatch.Metric:
        return self._endpoint_metric("ApproximateBacklogSize", **kw)

    def metric_approximate_backlog_size_per_instance(self, **kw: Any) -> cloudwatch.Metric:
        return self._endpoint_metric("ApproximateBacklogSizePerInstance", **kw)

    def metric_approximate_age_of_oldest_request(self, **kw: Any) -> cloudwatch.Metric:
        """Seconds."""
        return self._endpoint_metric("ApproximateAgeOfOldestRequest", statistic="Maximum", **kw)

    def metric_has_backlog_without_capacity(self, **kw: Any) -> cloudwatch.Metric:
        return self._endpoint_metric("HasBacklogWithoutCapacity", **kw)

    def metric_invocation_failures(self, **kw: Any) -> cloudwatch.Metric:
        return self.metric("InvocationFailures", **kw)

    def metric_invocations_processed(self, **kw: Any) -> cloudwatch.Metric:
        return self.metric("InvocationsProcessed", **kw)

    def metric_total_processing_time(self, *, statistic: str = "p90",
                                     **kw: Any) -> cloudwatch.Metric:
        """Milliseconds from the request's arrival to its result (async)."""
        return self.metric("TotalProcessingTime", statistic=statistic, **kw)


class ComponentHostMetrics(VariantMetrics):
    """Instance metrics SageMaker publishes only for endpoints that host inference
    components (``/aws/sagemaker/Endpoints``, percent, 0-100 whatever the core or GPU
    count): utilization normalized, and what the components reserve."""

    def _normalized(self, name: str, statistic: str = "Average",
                    **kw: Any) -> cloudwatch.Metric:
        return self.metric(name, statistic=statistic, namespace=INSTANCES, **kw)

    def metric_cpu_utilization_normalized(self, **kw: Any) -> cloudwatch.Metric:
        return self._normalized("CPUUtilizationNormalized", **kw)

    def metric_gpu_utilization_normalized(self, **kw: Any) -> cloudwatch.Metric:
        return self._normalized("GPUUtilizationNormalized", **kw)

    def metric_gpu_memory_utilization_normalized(self, **kw: Any) -> cloudwatch.Metric:
        return self._normalized("GPUMemoryUtilizationNormalized", **kw)

    def metric_cpu_reservation(self, **kw: Any) -> cloudwatch.Metric:
        """Share of the instances' CPUs the components reserve (``NumberOfCpuCoresRequired``)."""
        return self._normalized("CPUReservation", **kw)

    def metric_gpu_reservation(self, **kw: Any) -> cloudwatch.Metric:
        """Share of the instances' GPUs the components reserve
        (``NumberOfAcceleratorDevicesRequired``)."""
        return self._normalized("GPUReservation", **kw)

    def metric_memory_reservation(self, **kw: Any) -> cloudwatch.Metric:
        """Share of the instances' memory the components reserve (``MinMemoryRequiredInMb``)."""
        return self._normalized("MemoryReservation", **kw)
