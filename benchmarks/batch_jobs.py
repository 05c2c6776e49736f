#!/usr/bin/env python3
"""AWS calls per job and time for a batch: ``submit_many`` + the runtime + ``wait_all``.

Run after setup: ``.venv/bin/python benchmarks/batch_jobs.py [--jobs 1000] [--missed 0.1]``.
Everything runs in one process against moto (no AWS account, no network):

* the client: ``AsyncEndpoint.submit_many`` uploads the files under one folder of the input
  prefix (16 at a time) after opening one queue with one prefix-filtered subscription per
  topic; ``wait_all`` long-polls it, reads the ledger every 5 s (``BatchGetItem``), and
  ``submit-batch``'s writer downloads each output into a folder (``GetObject``);
* the runtime, in a thread, as Lambda would run it: S3's events on the requests queue, 5
  messages per call of the invoker's ``handler``; SageMaker's part (simulated, not
  counted): an output object and the success notification per ``InvokeEndpointAsync``;
  the results queue, 10 messages per call of the recorder's ``handler``.
* ``--missed F``: that fraction of notifications reaches only the runtime's subscription,
  not the client's queue (a fresh filter policy not yet in effect): those results reach
  the client through the ledger.

AWS calls are counted with a botocore ``before-call`` hook and attributed to whoever made
them: the client (its threads), the invoker, the recorder. Not counted: SageMaker's
simulated work, the harness's queue polling (Lambda's event source mapping does that in
AWS, unbilled to the function). Wall time and CPU seconds (user + system of this process)
include moto's own work, which dominates: they say what the client costs here relative to
the rest, not what it costs against AWS, where each call is a network round trip.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _var, _value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
                     "AWS_SECRET_ACCESS_KEY": "bench"}.items():
    os.environ[_var] = _value
os.environ.pop("AWS_PROFILE", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from llm_client import AsyncEndpoint  # noqa: E402
from llm_client.batch import ResultFiles  # noqa: E402
from tests.moto_runtime import (create_runtime_resources, load_handler,  # noqa: E402
                                s3_events_with_version_ids)

BUCKET, TABLE, ENDPOINT = "bench-async", "bench-jobs", "bench-endpoint"
INPUT, FAILED = "input/", "failed/"
#: The functions' code, beside their construct (read as files: importing llm_constructs
#: would start CDK's runtime for nothing).
RUNTIME_CODE = ROOT / "llm_constructs" / "async_runtime" / "runtime"
#: The event source mappings' batch_size, as the template sets them (invoker 5, recorder 10).
LAMBDA_BATCH = {"invoker": 5, "recorder": 10}


class Calls:
    """AWS calls by who made them: each thread says who it is; the rest are the client's."""

    def __init__(self) -> None:
        self.by_caller: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter)
        self.role = threading.local()
        self.ledger_items_read = 0

    def as_(self, role: str) -> Calls:
        self.role.name = role
        return self

    def count_keys(self, params: dict[str, Any], **_: Any) -> None:
        """Ledger items a BatchGetItem asks for: each a strongly consistent read unit."""
        if getattr(self.role, "name", "client") == "client":
            self.ledger_items_read += sum(len(t["Keys"]) for t in params["RequestItems"].values())

    def count(self, event_name: str, **_: Any) -> None:
        who = getattr(self.role, "name", "client")
        if who != "uncounted":
            _, service, operation = event_name.split(".", 2)
            self.by_caller[who][f"{service} {operation}"] += 1


class World:
    """The runtime's resources (as the stack declares them) and its two functions."""

    def __init__(self, calls: Calls, missed: float) -> None:
        self.calls, self.missed = calls, missed
        made = create_runtime_resources(boto3, bucket=BUCKET, table=TABLE, input_prefix=INPUT)
        self.s3, self.sqs, self.sns = made.s3, made.sqs, made.sns
        self.requests, self.results, self.topics = made.requests, made.results, made.topics
        os.environ.update(ENDPOINT_NAME=ENDPOINT, TABLE_NAME=TABLE, INPUT_PREFIX=INPUT,
                          FAILED_PREFIX=FAILED, REQUESTS_QUEUE_URL=self.requests)
        self.invoker, self.recorder = (load_handler(f"bench_{n}", RUNTIME_CODE / n)
                                       for n in ("invoker", "recorder"))
        self.submitted: list[tuple[str, str]] = []  # (inference id, input location)
        # the invoker's timeout in the template (450 s): every message of a batch fits
        self.context = SimpleNamespace(get_remaining_time_in_millis=lambda: 450_000,
                                       function_name="bench", aws_request_id="bench")
        self.stop = threading.Event()

    def endpoint(self) -> AsyncEndpoint:
        return AsyncEndpoint(ENDPOINT, f"s3://{BUCKET}/{INPUT}", TABLE, self.topics["success"],
                             self.topics["error"])

    # -- the runtime thread ----------------------------------------------------------------
    def run(self) -> None:
        while not self.stop.is_set():
            busy = self._lambda(self.requests, self.invoker, "invoker")
            busy += self._sagemaker()
            busy += self._lambda(self.results, self.recorder, "recorder")
            if not busy:
                self.stop.wait(0.05)

    def _lambda(self, queue: str, function: ModuleType, role: str) -> int:
        self.calls.as_("uncounted")
        got = self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=LAMBDA_BATCH[role]).get(
            "Messages", [])
        if not got:
            return 0
        self.calls.as_(role)
        answer = function.handler({"Records": [{"messageId": m["MessageId"], "body": m["Body"]}
                                               for m in got]}, self.context)
        self.calls.as_("uncounted")
        failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        done = [m for m in got if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=queue, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)])
        return len(got)

    def _sagemaker(self) -> int:
        self.calls.as_("uncounted")
        jobs, self.submitted = self.submitted, []
        for job, location in jobs:
            self.finish(job, location, to_client=random.random() >= self.missed)
        return len(jobs)

    def finish(self, job: str, location: str, *, to_client: bool = True) -> None:
        """SageMaker's part: the output object, then the success notification, to every
        subscription; or (``to_client=False``) to the runtime's results queue only."""
        self.s3.put_object(Bucket=BUCKET, Key=f"output/{job}.out", Body=b'{"ok": true}')
        note = json.dumps({
            "invocationStatus": "Completed", "inferenceId": job,
            "requestParameters": {"inputLocation": location, "endpointName": ENDPOINT},
            "responseParameters": {"outputLocation": f"s3://{BUCKET}/output/{job}.out"},
            "eventName": "InferenceResult", "eventTime": "2026-11-23T10:00:01.000Z"})
        if to_client:
            self.sns.publish(TopicArn=self.topics["success"], Message=note)
        else:
            self.sqs.send_message(QueueUrl=self.results, MessageBody=note)

    def submit_uploads(self) -> None:
        """The invoker's turn, as often as its queue has messages."""
        while self._lambda(self.requests, self.invoker, "invoker"):
            pass

    def record_results(self) -> None:
        """The recorder's turn, as often as its queue has messages."""
        while self._lambda(self.results, self.recorder, "recorder"):
            pass

    def note_submission(self, params: dict[str, Any], **_: Any) -> None:
        """SageMaker takes the job (before-parameter-build of InvokeEndpointAsync)."""
        self.submitted.append((params["InferenceId"], params["InputLocation"]))


def moto_world(calls: Calls, missed: float = 0.0) -> World:
    """The runtime in moto (call inside ``mock_aws``), its AWS calls counted by ``calls``."""
    s3_events_with_version_ids()
    session = boto3.Session()
    boto3.DEFAULT_SESSION = session  # mock_aws puts the one before back when it ends
    session.events.register("before-call", calls.count)
    session.events.register("before-parameter-build.dynamodb.BatchGetItem", calls.count_keys)
    world = World(calls, missed)
    session.events.register("before-parameter-build.sagemaker-runtime.InvokeEndpointAsync",
                            world.note_submission)
    return world


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(jobs: int, missed: float) -> dict[str, Any]:
    calls = Calls().as_("uncounted")  # the setup is not the client's
    with mock_aws():
        world = moto_world(calls, missed)
        endpoint = world.endpoint()
        folder = Path(tempfile.mkdtemp(prefix="batch-bench-"))
        for n in range(jobs):
            (folder / f"{n:05d}.json").write_text(json.dumps({"inputs": f"request {n}"}))
        paths = sorted(folder.iterdir())
        out = folder / "out"
        out.mkdir()
        runtime = threading.Thread(target=world.run, daemon=True)
        runtime.start()
        calls.as_("client")
        started, cpu = time.perf_counter(), cpu_seconds()
        batch = endpoint.submit_many(paths, watch=True)
        uploaded = time.perf_counter() - started
        with ResultFiles(batch, out) as writer:
            outcomes = endpoint.wait_all(batch, timeout=600, on_finished=writer.add)
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        world.stop.set()
        runtime.join()
        written = len(list(out.iterdir()))
    statuses = collections.Counter(o.status for o in outcomes)
    return {"jobs": jobs, "missed": missed, "wall": wall, "cpu": cpu, "uploaded": uploaded,
            "statuses": dict(statuses), "written": written, "calls": calls.by_caller,
            "ledger_items_read": calls.ledger_items_read}


def report(result: dict[str, Any]) -> str:
    jobs = result["jobs"]
    lines = [f"{jobs} jobs, {result['missed']:.0%} of notifications missed by the client's "
             f"queue: {result['statuses']}, {result['written']} output files written",
             f"wall {result['wall']:.1f} s (uploads {result['uploaded']:.1f} s), CPU "
             f"{result['cpu']:.1f} s (user+sys of the one process: client, runtime, moto)",
             f"ledger items the client's fallback read: {result['ledger_items_read']} "
             f"({result['ledger_items_read'] / jobs:.1f} per job; one read request unit each)",
             "", f"{'caller':<10} {'service operation':<38} {'calls':>7} {'per job':>8}"]
    for who in ("client", "invoker", "recorder"):
        counter = result["calls"].get(who, collections.Counter())
        for op, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"{who:<10} {op:<38} {n:>7} {n / jobs:>8.3f}")
        total = sum(counter.values())
        lines.append(f"{who:<10} {'(all)':<38} {total:>7} {total / jobs:>8.3f}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000, help="files in the batch (default 1000)")
    ap.add_argument("--missed", type=float, default=0.0,
                    help="fraction of notifications the client's queue never gets (0-1)")
    args = ap.parse_args()
    random.seed(15)
    print(report(run(args.jobs, args.missed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
