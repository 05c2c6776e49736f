#!/usr/bin/env python3
"""Time from a success notification being published to the client having the result,
for ``llm_client``'s notification path against seed 001's S3 polling, in one run.

Run after setup: ``.venv/bin/python benchmarks/result_latency.py [--trials 5]
[--poll-interval 60]``. Everything runs in-process against moto (no AWS account):

* notification path: ``AsyncEndpoint.submit`` (temporary queue subscribed to the topics,
  filtered to the job), the invoker handler, then SageMaker's success notification is
  published from another thread at t0; t1 is when ``Job.result()`` returns the output.
* seed polling: the seed's loop (``get_object`` on the output location; on a miss,
  ``sleep(60)``) started at t=0; the output appears at t0, spread evenly over one polling
  interval across the trials (the phase a real job would land at); t1 is when the loop
  has the object. The trials run concurrently, so the run takes about one interval.

moto delivers SNS -> SQS in-process, so the notification figures are a floor for the
mechanism (real SNS -> SQS delivery adds tens of milliseconds); the polling figures are
what the interval makes them, wherever it runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for var, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
                   "AWS_SECRET_ACCESS_KEY": "bench"}.items():
    os.environ[var] = value
os.environ.pop("AWS_PROFILE", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from llm_client import AsyncEndpoint  # noqa: E402

BUCKET, TABLE, ENDPOINT = "bench-async", "bench-jobs", "bench-endpoint"
#: The invoker's code, beside its construct (read as a file: importing llm_constructs would
#: start CDK's runtime for nothing).
INVOKER_CODE = ROOT / "llm_constructs" / "async_runtime" / "runtime" / "invoker"


def _invoker():
    spec = importlib.util.spec_from_file_location(
        "async_invoker", INVOKER_CODE / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Invoker(endpoint_name=ENDPOINT, table_name=TABLE, input_prefix="input/")


def _setup() -> AsyncEndpoint:
    s3, sns = boto3.client("s3"), boto3.client("sns")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    boto3.client("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "inference_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "inference_id", "AttributeType": "S"}])
    success = sns.create_topic(Name="success")["TopicArn"]
    error = sns.create_topic(Name="error")["TopicArn"]
    return AsyncEndpoint(ENDPOINT, f"s3://{BUCKET}/input/", TABLE, success, error)


def notification_trial(endpoint: AsyncEndpoint, invoker) -> float:
    job = endpoint.submit(prompt="hello")
    key = job.input_location.split("/", 3)[3]
    version = boto3.client("s3").head_object(Bucket=BUCKET, Key=key)["VersionId"]
    invoker.submit(BUCKET, key, version_id=version)  # what the S3 event would trigger
    output = f"s3://{BUCKET}/output/{job.inference_id}.out"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"output/{job.inference_id}.out",
                                  Body=b'{"generated_text": "hi"}')
    message = json.dumps({
        "invocationStatus": "Completed", "inferenceId": job.inference_id,
        "requestParameters": {"inputLocation": job.input_location, "endpointName": ENDPOINT},
        "responseParameters": {"outputLocation": output}, "eventName": "InferenceResult"})
    published: list[float] = []

    def publish() -> None:
        published.append(time.perf_counter())
        boto3.client("sns").publish(TopicArn=endpoint.success_topic_arn, Message=message)

    threading.Timer(0.5, publish).start()  # the client is already waiting
    job.result(timeout=30)
    return time.perf_counter() - published[0]


def polling_trial(offset: float, interval: float, results: list[float], n: int) -> None:
    """Seed 001: get the output object; on a miss sleep ``interval`` and try again."""
    s3 = boto3.client("s3")
    key = f"output/poll-{n}.out"
    start = time.perf_counter()
    threading.Timer(offset, lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")).start()
    while True:
        try:
            s3.get_object(Bucket=BUCKET, Key=key)
            break
        except s3.exceptions.NoSuchKey:
            time.sleep(interval)
    results.append(time.perf_counter() - start - offset)


def summary(name: str, values: list[float]) -> str:
    return (f"{name:<22} n={len(values)}  mean {statistics.mean(values):8.3f} s  "
            f"median {statistics.median(values):8.3f} s  max {max(values):8.3f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--poll-interval", type=float, default=60.0, help="the seed's: 60 s")
    args = ap.parse_args()
    with mock_aws():
        endpoint = _setup()
        invoker = _invoker()
        notified = [notification_trial(endpoint, invoker) for _ in range(args.trials)]
        polled: list[float] = []
        offsets = [args.poll_interval * (i + 0.5) / args.trials for i in range(args.trials)]
        threads = [threading.Thread(target=polling_trial, args=(o, args.poll_interval, polled, i))
                   for i, o in enumerate(offsets)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print(f"publish -> result available to the client ({args.trials} trials each)")
    print(summary("notification (SQS)", notified))
    print(summary(f"S3 polling every {args.poll_interval:g} s", polled))
    print(f"ratio of means: {statistics.mean(polled) / statistics.mean(notified):,.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
