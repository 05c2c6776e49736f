"""Waiting for async jobs: SageMaker's notification first, the job ledger as a bounded fallback.

A wait subscribes one temporary SQS queue to the endpoint's success and error topics, with an
SNS filter on the message body, and long-polls it in slices of at most ``CHECK_EVERY``
seconds. Between slices it reads the ledger (one ``GetItem`` for one job; ``BatchGetItem``,
100 keys a call, for more), because SNS documents that a new subscription's filter policy can
take up to 15 minutes to take effect: a notification sent before then may never reach the
queue. The runtime's own subscription (no filter) records every result in the ledger, so a
result is seen at most ``CHECK_EVERY`` seconds after the ledger has it, notification or not.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

if TYPE_CHECKING:
    from .client import AsyncEndpoint, Job

#: Seconds between two reads of the ledger while waiting: the bound on how late a result
#: the notification missed is seen.
CHECK_EVERY = 5.0
#: SQS long polls in whole seconds, at most 20.
LONGEST_POLL = 20
#: BatchGetItem takes at most 100 keys a call.
BATCH_GET_KEYS = 100
FINAL = ("succeeded", "failed")
#: What the ledger read needs (status and error are DynamoDB reserved words).
_FIELDS = {"#i": "inference_id", "#s": "status", "#o": "output_location",
           "#f": "failure_location", "#e": "error", "#l": "input_location"}


@dataclass
class Outcome:
    """Where one job stands when a wait ends: ``succeeded``, ``failed`` or ``waiting``
    (not finished before the timeout)."""
    job: Job
    status: str = "waiting"
    output_location: str = ""
    failure_location: str = ""
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def read(self) -> bytes:
        """The job's output (a succeeded job's only)."""
        if self.status != "succeeded":
            raise ValueError(f"job {self.job.inference_id} is {self.status}: it has no output")
        return self.job.endpoint.read_s3(self.output_location)


#: (jobs done, jobs failed, jobs waiting, seconds since the wait began)
BatchProgress = Callable[[int, int, int, float], None]


class Watch:
    """A temporary queue subscribed to both topics, filtered on the message body."""

    def __init__(self, sqs: Any, sns: Any, queue_url: str, subscriptions: list[str]) -> None:
        self.sqs, self.sns, self.queue_url, self.subscriptions = sqs, sns, queue_url, subscriptions

    @classmethod
    def open(cls, endpoint: AsyncEndpoint, body_filter: dict[str, Any]) -> Watch:
        sqs, sns = endpoint.client("sqs"), endpoint.client("sns")
        name = f"{endpoint.endpoint_name[:40]}-wait-{uuid.uuid4().hex[:12]}"
        url = sqs.create_queue(QueueName=name, Attributes={
            "SqsManagedSseEnabled": "true", "MessageRetentionPeriod": "3600"})["QueueUrl"]
        watch = cls(sqs, sns, url, [])
        try:
            watch._subscribe(endpoint, body_filter)
        except BaseException:
            watch.close()  # a queue made for nothing is removed at once
            raise
        return watch

    def _subscribe(self, endpoint: AsyncEndpoint, body_filter: dict[str, Any]) -> None:
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=[
            "QueueArn"])["Attributes"]["QueueArn"]
        topics = [endpoint.success_topic_arn, endpoint.error_topic_arn]
        self.sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topics}}}]})})
        for topic in topics:
            self.subscriptions.append(self.sns.subscribe(
                TopicArn=topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True,
                Attributes={"RawMessageDelivery": "true", "FilterPolicyScope": "MessageBody",
                            "FilterPolicy": json.dumps(body_filter)})["SubscriptionArn"])

    def receive(self, wait: int) -> list[dict[str, Any]]:
        """The notifications that arrive within ``wait`` seconds (deleted from the queue)."""
        got = self.sqs.receive_message(QueueUrl=self.queue_url, WaitTimeSeconds=wait,
                                       MaxNumberOfMessages=10).get("Messages", [])
        if got:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)])
        return [json.loads(m["Body"]) for m in got]

    def close(self) -> None:
        """Remove the subscriptions and the queue; each is tried even if another fails."""
        problems: list[BaseException] = []
        for subscription in self.subscriptions:
            try:
                self.sns.unsubscribe(SubscriptionArn=subscription)
            except Exception as exc:  # the queue must still go
                problems.append(exc)
        self.subscriptions = []
        if self.queue_url:
            try:
                self.sqs.delete_queue(QueueUrl=self.queue_url)
            except Exception as exc:
                problems.append(exc)
            self.queue_url = ""
        if problems:
            raise problems[0]

    @property
    def closed(self) -> bool:
        return not self.queue_url


def job_filter(job_id: str) -> dict[str, Any]:
    return {"inferenceId": [job_id]}


def prefix_filter(location_prefix: str) -> dict[str, Any]:
    """Every job whose input is under ``location_prefix`` (one batch): SNS's ``prefix``
    string match, which also applies to message-body properties."""
    return {"requestParameters": {"inputLocation": [{"prefix": location_prefix}]}}


def common_prefix(locations: Iterable[str]) -> str:
    """The longest folder (ending in '/') every location is under."""
    locations = list(locations)
    shared = locations[0] if len(locations) == 1 else _common(locations)
    return shared[:shared.rfind("/") + 1]


def _common(values: list[str]) -> str:
    first, last = min(values), max(values)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


class Ledger:
    """Consistent reads of the job ledger, one job or many."""

    def __init__(self, endpoint: AsyncEndpoint) -> None:
        self.dynamodb, self.table = endpoint.client("dynamodb"), endpoint.table_name

    def items(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The ledger items of ``job_ids`` it has (GetItem for one, else BatchGetItem)."""
        if len(job_ids) == 1:
            item = self.dynamodb.get_item(TableName=self.table, ConsistentRead=True,
                                          Key=_key(job_ids[0])).get("Item")
            return {job_ids[0]: _plain(item)} if item else {}
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(job_ids), BATCH_GET_KEYS):
            found.update(self._batch(job_ids[start:start + BATCH_GET_KEYS]))
        return found

    def _batch(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        request: dict[str, Any] = {self.table: {
            "Keys": [_key(j) for j in job_ids], "ConsistentRead": True,
            "ProjectionExpression": ", ".join(_FIELDS), "ExpressionAttributeNames": _FIELDS}}
        found: dict[str, dict[str, Any]] = {}
        while request:
            answer = self.dynamodb.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self.table, []):
                plain = _plain(item)
                found[plain["inference_id"]] = plain
            request = answer.get("UnprocessedKeys") or {}
            if request:
                time.sleep(0.1)  # throttled or too large: the rest, a moment later
        return found


def _key(job_id: str) -> dict[str, Any]:
    return {"inference_id": {"S": job_id}}


def _plain(item: dict[str, Any] | None) -> dict[str, Any]:
    deserialize = TypeDeserializer().deserialize
    return {k: deserialize(v) for k, v in (item or {}).items()}


class Waiter:
    """Waits for ``jobs`` on one watch, reading the ledger every ``check_every`` seconds."""

    def __init__(self, jobs: list[Job], watch: Watch, *, check_every: float = CHECK_EVERY,
                 on_finished: Callable[[Outcome], None] | None = None) -> None:
        self.jobs = jobs
        self.outcomes = {j.inference_id: Outcome(j) for j in jobs}
        self.by_input = {j.input_location: j.inference_id for j in jobs if j.input_location}
        self.pending = set(self.outcomes)
        self.statuses: dict[str, str] = {}  # ledger status of each job still waiting
        self.watch, self.check_every, self.on_finished = watch, check_every, on_finished
        self.ledger = Ledger(jobs[0].endpoint)

    def run(self, timeout: float | None, progress: Callable[[float], None]) -> list[Outcome]:
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        next_check = started
        while self.pending:
            now = time.monotonic()
            late = deadline is not None and now >= deadline
            if next_check - now < 1 or late:  # SQS waits whole seconds: check a bit early
                self.check_ledger()
                next_check = now + self.check_every
                progress(now - started)
            if not self.pending or late:
                break
            notes = self.watch.receive(self._slice(now, next_check, deadline))
            for note in notes:
                self.apply(note)
            if notes:
                progress(time.monotonic() - started)
        return [self.outcomes[j.inference_id] for j in self.jobs]

    @staticmethod
    def _slice(now: float, next_check: float, deadline: float | None) -> int:
        """Seconds of the next long poll: until the next ledger check, never past the
        deadline by more than the poll's one-second granularity, never 0 (no busy poll)."""
        wait = min(LONGEST_POLL, int(next_check - now))
        if deadline is not None:
            wait = min(wait, math.ceil(deadline - now))
        return max(1, wait)

    def check_ledger(self) -> None:
        items = self.ledger.items(sorted(self.pending))
        for job_id, item in items.items():
            status = str(item.get("status", ""))
            self.statuses[job_id] = status
            if status in FINAL:
                self._finish(job_id, status, item.get("output_location", ""),
                             item.get("failure_location", ""), item.get("error", ""))

    def apply(self, note: dict[str, Any]) -> None:
        """A notification from the watch: SageMaker's message, mapped to its job by
        ``inferenceId``, else by ``requestParameters.inputLocation``."""
        job_id = note.get("inferenceId", "")
        if job_id not in self.outcomes:
            location = (note.get("requestParameters") or {}).get("inputLocation", "")
            job_id = self.by_input.get(location, "")
        if job_id not in self.pending:
            return  # another job's under the same prefix, or a duplicate
        response = note.get("responseParameters") or {}
        ok = note.get("invocationStatus") == "Completed"
        self._finish(job_id, "succeeded" if ok else "failed", response.get("outputLocation", ""),
                     response.get("failureLocation", ""), note.get("failureReason", ""))

    def _finish(self, job_id: str, status: str, output: Any, failure: Any, error: Any) -> None:
        if job_id not in self.pending:
            return
        self.pending.discard(job_id)
        outcome = self.outcomes[job_id]
        outcome.status, outcome.output_location = status, str(output or "")
        outcome.failure_location, outcome.error = str(failure or ""), str(error or "")
        if self.on_finished is not None:
            self.on_finished(outcome)

    def counts(self) -> tuple[int, int, int]:
        """(done, failed, waiting)"""
        statuses = [o.status for o in self.outcomes.values()]
        return statuses.count("succeeded"), statuses.count("failed"), len(self.pending)
