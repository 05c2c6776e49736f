"""Submit to and wait on asynchronous endpoints; invoke real-time ones.

Waiting never lists or polls S3. ``Job.result`` subscribes a short-lived SQS queue to the
endpoint's success and error topics, with an SNS filter on the message body (this job's
``inferenceId``, or for a fresh upload its ``inputLocation``), reads the ledger once in
case the job already finished, then long-polls the queue until SageMaker's notification
arrives. The queue and subscriptions are removed afterwards.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import boto3

FINAL = ("succeeded", "failed")
Progress = Callable[[str, str, float], None]  # (inference id, status, seconds waited)


class JobFailed(RuntimeError):
    """The endpoint reported a failure for the job."""


class JobTimeout(TimeoutError):
    """No result within the timeout."""


def inference_id(key: str, version: str) -> str:
    """The id the invoker gives an upload (object key + version or ETag); see
    ``llm_constructs/async_runtime/runtime/invoker/handler.py``, which must agree (tested)."""
    return hashlib.sha256(f"{key}\n{version.strip(chr(34))}".encode()).hexdigest()[:48]


def stack_outputs(stack_name: str, session: Any = None) -> dict[str, str]:
    cfn = (session or boto3).client("cloudformation")
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass
class AsyncEndpoint:
    endpoint_name: str
    input_location: str       # s3://bucket/input/
    table_name: str
    success_topic_arn: str
    error_topic_arn: str
    session: Any = field(default=None, repr=False)

    @classmethod
    def from_stack(cls, stack_name: str, session: Any = None) -> AsyncEndpoint:
        out = stack_outputs(stack_name, session)
        missing = [k for k in ("EndpointName", "InputLocation", "JobTableName",
                               "SuccessTopicArn", "ErrorTopicArn") if k not in out]
        if missing:
            raise ValueError(f"stack {stack_name} has no outputs {missing}: is it an async "
                             "endpoint stack with notifications and the runtime?")
        return cls(out["EndpointName"], out["InputLocation"], out["JobTableName"],
                   out["SuccessTopicArn"], out["ErrorTopicArn"], session)

    @property
    def _boto(self) -> Any:
        return self.session or boto3

    # -- submit ---------------------------------------------------------------------------
    def submit(self, path: str | Path | None = None, *, prompt: str | None = None,
               parameters: dict[str, Any] | None = None,
               content_type: str = "application/json") -> Job:
        """Upload a request under the input prefix; the invoker submits it."""
        if (path is None) == (prompt is None):
            raise ValueError("give a file or a prompt")
        if path is not None:
            body = Path(path).read_bytes()
            name = f"{uuid.uuid4().hex}-{Path(path).name}"
        else:
            body = json.dumps({"inputs": prompt, "parameters": parameters or {}}).encode()
            name = f"{uuid.uuid4().hex}.json"
        bucket, prefix = _split(self.input_location)
        key = f"{prefix}{name}"
        job = Job(self, inference_id="", input_location=f"s3://{bucket}/{key}")
        job._watch = _Watch.open(self, {"requestParameters":
                                        {"inputLocation": [job.input_location]}})
        try:
            put = self._boto.client("s3").put_object(Bucket=bucket, Key=key, Body=body,
                                                     ContentType=content_type)
        except BaseException:
            job._watch.close()
            raise
        job.inference_id = inference_id(key, put.get("VersionId") or put.get("ETag", ""))
        return job

    def job(self, job_id: str) -> Job:
        item = self.status(job_id)
        return Job(self, inference_id=job_id, input_location=item.get("input_location", ""))

    def status(self, job_id: str) -> dict[str, Any]:
        table = self._boto.resource("dynamodb").Table(self.table_name)
        item = table.get_item(Key={"inference_id": job_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise KeyError(f"no job {job_id} in the ledger {self.table_name} (a job just "
                           "uploaded is recorded within seconds, when the runtime submits it)")
        return {k: (str(v) if not isinstance(v, (str, bool)) else v) for k, v in item.items()}

    def replay(self, job_id: str) -> Job:
        """Submit a failed job's request again (from its copy under failed/)."""
        item = self.status(job_id)
        source = item.get("failed_copy") or item.get("input_location")
        if item.get("status") != "failed" or not source:
            raise ValueError(f"job {job_id} is {item.get('status')!r}; only failed jobs replay")
        src_bucket, src_key = _split(source)
        bucket, prefix = _split(self.input_location)
        key = f"{prefix}replay-{uuid.uuid4().hex[:8]}-{src_key.rsplit('/', 1)[-1]}"
        job = Job(self, inference_id="", input_location=f"s3://{bucket}/{key}")
        job._watch = _Watch.open(self, {"requestParameters":
                                        {"inputLocation": [job.input_location]}})
        try:
            copy = self._boto.client("s3").copy_object(
                Bucket=bucket, Key=key, CopySource={"Bucket": src_bucket, "Key": src_key})
        except BaseException:
            job._watch.close()  # no queue or subscription left behind
            raise
        job.inference_id = inference_id(key, copy.get("VersionId")
                                        or copy["CopyObjectResult"]["ETag"])
        return job


@dataclass
class Job:
    endpoint: AsyncEndpoint
    inference_id: str
    input_location: str
    _watch: _Watch | None = field(default=None, repr=False)

    def status(self) -> dict[str, Any]:
        return self.endpoint.status(self.inference_id)

    def result(self, timeout: float | None = None, progress: Progress | None = None) -> bytes:
        """Wait for the notification, then return the output (raises ``JobFailed``)."""
        watch = self._watch or _Watch.open(self.endpoint, {"inferenceId": [self.inference_id]})
        self._watch = None
        started = time.monotonic()
        try:
            note = self._finished_note()  # already done before we subscribed?
            while note is None:
                waited = time.monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise JobTimeout(f"job {self.inference_id}: no result after {waited:.0f} s")
                if progress:
                    progress(self.inference_id, self._status_or("queued"), waited)
                left = None if timeout is None else timeout - waited
                note = watch.next(wait=20 if left is None else max(0, min(20, int(left))))
        finally:
            watch.close()
        return self._output(note)

    def _status_or(self, default: str) -> str:
        try:
            return self.status().get("status", default)
        except KeyError:
            return default

    def _finished_note(self) -> dict[str, Any] | None:
        try:
            item = self.status()
        except KeyError:
            return None
        if item.get("status") not in FINAL:
            return None
        return {"invocationStatus": "Completed" if item["status"] == "succeeded" else "Failed",
                "responseParameters": {"outputLocation": item.get("output_location", "")},
                "failureReason": item.get("error", "")}

    def _output(self, note: dict[str, Any]) -> bytes:
        if note.get("inferenceId"):
            self.inference_id = note["inferenceId"]
        if note.get("invocationStatus") != "Completed":
            raise JobFailed(f"job {self.inference_id} failed: {note.get('failureReason', '?')}")
        bucket, key = _split(note["responseParameters"]["outputLocation"])
        return self.endpoint._boto.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


class _Watch:
    """A temporary queue subscribed to both topics, filtered to one job."""

    def __init__(self, sqs: Any, sns: Any, queue_url: str, subscriptions: list[str]) -> None:
        self.sqs, self.sns, self.queue_url, self.subscriptions = sqs, sns, queue_url, subscriptions

    @classmethod
    def open(cls, endpoint: AsyncEndpoint, body_filter: dict[str, Any]) -> _Watch:
        boto = endpoint._boto
        sqs, sns = boto.client("sqs"), boto.client("sns")
        name = f"{endpoint.endpoint_name[:40]}-wait-{uuid.uuid4().hex[:12]}"
        url = sqs.create_queue(QueueName=name, Attributes={
            "SqsManagedSseEnabled": "true", "MessageRetentionPeriod": "3600"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        topics = [endpoint.success_topic_arn, endpoint.error_topic_arn]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topics}}}]})})
        subs = [sns.subscribe(TopicArn=t, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True,
                              Attributes={"RawMessageDelivery": "true",
                                          "FilterPolicyScope": "MessageBody",
                                          "FilterPolicy": json.dumps(body_filter)}
                              )["SubscriptionArn"] for t in topics]
        return cls(sqs, sns, url, subs)

    def next(self, wait: int) -> dict[str, Any] | None:
        got = self.sqs.receive_message(QueueUrl=self.queue_url, WaitTimeSeconds=wait,
                                       MaxNumberOfMessages=1).get("Messages", [])
        if not got:
            return None
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=got[0]["ReceiptHandle"])
        return json.loads(got[0]["Body"])

    def close(self) -> None:
        for sub in self.subscriptions:
            self.sns.unsubscribe(SubscriptionArn=sub)
        self.sqs.delete_queue(QueueUrl=self.queue_url)
        self.subscriptions = []


@dataclass
class RealtimeEndpoint:
    endpoint_name: str
    session: Any = field(default=None, repr=False)

    def _runtime(self) -> Any:
        return (self.session or boto3).client("sagemaker-runtime")

    def invoke(self, prompt: str, parameters: dict[str, Any] | None = None) -> Any:
        """The TGI payload in, the parsed JSON response out."""
        body = json.dumps({"inputs": prompt, "parameters": parameters or {}})
        r = self._runtime().invoke_endpoint(EndpointName=self.endpoint_name, Body=body,
                                            ContentType="application/json",
                                            Accept="application/json")
        return json.loads(r["Body"].read())

    def stream(self, prompt: str, parameters: dict[str, Any] | None = None) -> Iterator[str]:
        """Tokens as TGI streams them (server-sent events over the response stream)."""
        body = json.dumps({"inputs": prompt, "parameters": parameters or {}, "stream": True})
        r = self._runtime().invoke_endpoint_with_response_stream(
            EndpointName=self.endpoint_name, Body=body, ContentType="application/json")
        yield from sse_tokens(part["PayloadPart"]["Bytes"] for part in r["Body"]
                              if "PayloadPart" in part)


def sse_tokens(chunks: Iterator[bytes]) -> Iterator[str]:
    """Token texts from TGI's ``data:{...}`` lines, which may be split across chunks."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            event = json.loads(line[5:])
            token = (event.get("token") or {})
            if token.get("special"):
                continue
            if token.get("text") is not None:
                yield token["text"]


def print_progress(job_id: str, status: str, waited: float) -> None:
    print(f"\rwaiting for {job_id[:12]}…: {status} ({waited:.0f} s)", end="", file=sys.stderr,
          flush=True)
