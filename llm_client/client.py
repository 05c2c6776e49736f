"""Submit to and wait on asynchronous endpoints; invoke real-time ones and inference components.

Submitting uploads the request under the endpoint's input prefix; the runtime's invoker
submits it and records the job in the ledger. Submitting creates nothing that needs
cleaning up. Waiting never lists or polls S3: see ``waiting.py`` (notifications on a
temporary queue, the ledger every few seconds as a fallback, the queue removed on every path).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from .waiting import (CHECK_EVERY, FINAL, BatchProgress, Ledger, Outcome, Waiter, Watch,
                      common_prefix, job_filter, prefix_filter)

Progress = Callable[[str, str, float], None]  # (inference id, status, seconds waited)
#: Uploads (and downloads) at once in a batch: S3 takes far more; this keeps a laptop calm.
TRANSFERS_AT_ONCE = 16

__all__ = ["FINAL", "AsyncEndpoint", "Batch", "Job", "JobFailed", "JobTimeout", "Outcome",
           "RealtimeEndpoint", "inference_id", "stack_outputs"]


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


def split_s3(uri: str) -> tuple[str, str]:
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
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False,
                                     compare=False)

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

    def client(self, service: str) -> Any:
        """One boto3 client per service (clients are thread-safe; making one costs ~20 ms)."""
        if service not in self._clients:
            self._clients[service] = (self.session or boto3).client(service)
        return self._clients[service]

    def read_s3(self, uri: str) -> bytes:
        bucket, key = split_s3(uri)
        body: bytes = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    # -- submit ---------------------------------------------------------------------------
    def submit(self, path: str | Path | None = None, *, prompt: str | None = None,
               parameters: dict[str, Any] | None = None,
               content_type: str = "application/json", watch: bool = False) -> Job:
        """Upload a request under the input prefix; the invoker submits it. With ``watch``
        the notification queue is opened before the upload (call ``result()`` to remove
        it); without, nothing is created that needs cleaning up."""
        if (path is None) == (prompt is None):
            raise ValueError("give a file or a prompt")
        if path is not None:
            body = Path(path).read_bytes()
            name = f"{uuid.uuid4().hex}-{Path(path).name}"
        else:
            body = json.dumps({"inputs": prompt, "parameters": parameters or {}}).encode()
            name = f"{uuid.uuid4().hex}.json"
        bucket, prefix = split_s3(self.input_location)
        key = f"{prefix}{name}"
        return self._watched(key, watch, lambda: self.client("s3").put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=content_type))

    def _watched(self, key: str, watch: bool, upload: Callable[[], dict[str, Any]]) -> Job:
        """Run ``upload`` (PutObject or CopyObject of ``key``), after opening a watch on it
        if asked; the watch is closed again if the upload fails."""
        bucket, _ = split_s3(self.input_location)
        job = Job(self, inference_id="", input_location=f"s3://{bucket}/{key}")
        if watch:
            job._watch = Watch.open(self, {"requestParameters":
                                           {"inputLocation": [job.input_location]}})
        try:
            answer = upload()
        except BaseException:
            job.close()  # no queue or subscription left behind
            raise
        version = answer.get("VersionId") or answer.get("ETag") or \
            answer.get("CopyObjectResult", {}).get("ETag", "")
        job.inference_id = inference_id(key, version)
        return job

    def submit_many(self, paths: Sequence[str | Path], *, content_type: str = "application/json",
                    watch: bool = False,
                    progress: Callable[[int, int], None] | None = None) -> Batch:
        """Upload every file under one new folder of the input prefix,
        ``input/<batch id>/<file name>``; the invoker submits each. With ``watch``, one
        queue (subscribed with a prefix filter on that folder) is opened before the
        uploads, for ``wait_all``. ``progress(uploaded, total)`` follows the uploads."""
        files = [Path(p) for p in paths]
        if not files:
            raise ValueError("no files to submit")
        batch_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        bucket, prefix = split_s3(self.input_location)
        folder = f"{prefix}{batch_id}/"
        batch = Batch(batch_id=batch_id, location=f"s3://{bucket}/{folder}")
        if watch:
            batch.watch = Watch.open(self, prefix_filter(batch.location))
        try:
            batch.extend(self._upload_all(files, folder, content_type, progress))
        except BaseException:
            batch.close()
            raise
        return batch

    def _upload_all(self, paths: list[Path], folder: str, content_type: str,
                    progress: Callable[[int, int], None] | None) -> list[Job]:
        bucket, _ = split_s3(self.input_location)
        s3 = self.client("s3")

        def upload(source: tuple[Path, str]) -> Job:
            key = f"{folder}{source[1]}"
            answer = s3.put_object(Bucket=bucket, Key=key, Body=source[0].read_bytes(),
                                   ContentType=content_type)
            return Job(self, inference_id(key, answer.get("VersionId") or answer["ETag"]),
                       f"s3://{bucket}/{key}", source=source[0])

        jobs = []
        pool = ThreadPoolExecutor(TRANSFERS_AT_ONCE)
        try:
            for job in pool.map(upload, zip(paths, unique_names(paths), strict=True)):
                jobs.append(job)
                if progress:
                    progress(len(jobs), len(paths))
        finally:  # on a failure or Ctrl-C, the uploads not yet started are not started
            pool.shutdown(wait=True, cancel_futures=True)
        return jobs

    # -- wait -----------------------------------------------------------------------------
    def wait_all(self, jobs: Sequence[Job], *, timeout: float | None = None,
                 progress: BatchProgress | None = None,
                 on_finished: Callable[[Outcome], None] | None = None,
                 check_every: float = CHECK_EVERY) -> list[Outcome]:
        """Wait for every job on one queue; returns their outcomes in order (``waiting``
        for those not finished within ``timeout`` seconds). ``on_finished`` is called as
        each job finishes. The queue is removed on every path."""
        if not jobs:
            return []
        watch = getattr(jobs, "watch", None)
        if watch is None or watch.closed:
            watch = Watch.open(self, prefix_filter(common_prefix(
                j.input_location for j in jobs)))
        waiter = Waiter(list(jobs), watch, check_every=check_every, on_finished=on_finished)
        report = (lambda waited: progress(*waiter.counts(), waited)) if progress \
            else (lambda waited: None)
        try:
            return waiter.run(timeout, report)
        finally:
            watch.close()

    # -- the ledger -----------------------------------------------------------------------
    def job(self, job_id: str) -> Job:
        item = self.status(job_id)
        return Job(self, inference_id=job_id, input_location=item.get("input_location", ""))

    def status(self, job_id: str) -> dict[str, Any]:
        item = Ledger(self).items([job_id]).get(job_id)
        if item is None:
            raise KeyError(f"no job {job_id} in the ledger {self.table_name} (a job just "
                           "uploaded is recorded within seconds, when the runtime submits it)")
        return {k: (str(v) if not isinstance(v, (str, bool)) else v) for k, v in item.items()}

    def replay(self, job_id: str, *, watch: bool = False) -> Job:
        """Submit a failed job's request again (from its copy under failed/)."""
        item = self.status(job_id)
        if item.get("status") != "failed":
            raise ValueError(f"job {job_id} is {item.get('status')!r}; only failed jobs replay")
        if not item.get("failed_copy"):
            # never the input key itself: it may hold a later upload (another job) by now
            raise ValueError(f"job {job_id} has no kept copy of its request (it expired, or "
                             "the job was not submitted through the runtime); submit the "
                             "request again")
        src_bucket, src_key = split_s3(item["failed_copy"])
        bucket, prefix = split_s3(self.input_location)
        key = f"{prefix}replay-{uuid.uuid4().hex[:8]}-{src_key.rsplit('/', 1)[-1]}"
        return self._watched(key, watch, lambda: self.client("s3").copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": src_bucket, "Key": src_key}))


@dataclass
class Job:
    endpoint: AsyncEndpoint
    inference_id: str
    input_location: str
    source: Path | None = None  # the local file, for submit_many
    _watch: Watch | None = field(default=None, repr=False)

    def status(self) -> dict[str, Any]:
        return self.endpoint.status(self.inference_id)

    def close(self) -> None:
        """Remove the queue ``submit(watch=True)`` opened, if ``result()`` has not."""
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()

    def result(self, timeout: float | None = None, progress: Progress | None = None,
               check_every: float = CHECK_EVERY) -> bytes:
        """Wait for the job, then return its output (raises ``JobFailed``, ``JobTimeout``).
        The result is seen when its notification arrives, or at most ``check_every``
        seconds after the ledger records it."""
        watch = self._watch or Watch.open(self.endpoint, job_filter(self.inference_id))
        self._watch = None
        waiter = Waiter([self], watch, check_every=check_every)

        def report(waited: float) -> None:
            if progress and waiter.pending:
                progress(self.inference_id, waiter.statuses.get(self.inference_id, "queued"),
                         waited)
        try:
            (outcome,) = waiter.run(timeout, report)
        finally:
            watch.close()
        if outcome.status == "failed":
            raise JobFailed(f"job {self.inference_id} failed: {outcome.error or '?'}")
        if outcome.status != "succeeded":
            status = waiter.statuses.get(self.inference_id, "not yet in the ledger")
            raise JobTimeout(f"job {self.inference_id}: no result after {timeout:g} s "
                             f"(it is {status})")
        return outcome.read()


class Batch(list[Job]):
    """The jobs of one ``submit_many``: a list, plus where they were uploaded and the
    queue ``wait_all`` will use if ``watch`` was asked for."""

    def __init__(self, jobs: Sequence[Job] = (), *, batch_id: str, location: str) -> None:
        super().__init__(jobs)
        self.batch_id, self.location = batch_id, location
        self.watch: Watch | None = None

    def close(self) -> None:
        """Remove the batch's queue if ``wait_all`` has not."""
        if self.watch is not None:
            self.watch.close()


def unique_names(paths: Sequence[Path]) -> list[str]:
    """A name per file, unique in the batch: its own, or numbered when names repeat
    (files from several folders)."""
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    width = len(str(len(paths)))
    return [f"{n:0{width}d}-{name}" for n, name in enumerate(names, 1)]


@dataclass
class RealtimeEndpoint:
    endpoint_name: str
    session: Any = field(default=None, repr=False)
    component: str | None = None  # InferenceComponentName, on a components endpoint

    def _runtime(self) -> Any:
        return (self.session or boto3).client("sagemaker-runtime")

    def _target(self) -> dict[str, str]:
        target = {"EndpointName": self.endpoint_name}
        if self.component:
            target["InferenceComponentName"] = self.component
        return target

    def invoke(self, prompt: str, parameters: dict[str, Any] | None = None) -> Any:
        """The TGI payload in, the parsed JSON response out."""
        body = json.dumps({"inputs": prompt, "parameters": parameters or {}})
        r = self._runtime().invoke_endpoint(**self._target(), Body=body,
                                            ContentType="application/json",
                                            Accept="application/json")
        return json.loads(r["Body"].read())

    def stream(self, prompt: str, parameters: dict[str, Any] | None = None) -> Iterator[str]:
        """Tokens as TGI streams them (server-sent events over the response stream)."""
        body = json.dumps({"inputs": prompt, "parameters": parameters or {}, "stream": True})
        r = self._runtime().invoke_endpoint_with_response_stream(
            **self._target(), Body=body, ContentType="application/json")
        yield from sse_tokens(part["PayloadPart"]["Bytes"] for part in r["Body"]
                              if "PayloadPart" in part)


def component_names(outputs: dict[str, str]) -> dict[str, str]:
    """A components stack's inference components, short name -> InferenceComponentName.
    The stack outputs one ``<prefix>ComponentName`` per component, valued
    ``<EndpointName>-<component name>`` (stacks/endpoint.py)."""
    endpoint = outputs.get("EndpointName", "")
    return {value.removeprefix(f"{endpoint}-"): value for key, value in outputs.items()
            if key.endswith("ComponentName")}


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
