"""Submit every request object that lands under the endpoint's input prefix, exactly once.

S3 (ObjectCreated under the input prefix) -> the requests queue -> this function, in
batches. For each object: read its content type, claim the job in the ledger (DynamoDB,
conditional put), call ``InvokeEndpointAsync`` with ``InputLocation`` = the object, then
record the submission. The ``InferenceId`` is derived from the object key and version.

SageMaker does not deduplicate ``InferenceId``: an invoke whose answer this function did not
see (it died right after the call, or the call timed out reading the answer) may or may not
have been accepted, and nothing can be asked. So such a job is never invoked again blind:
it becomes ``unconfirmed`` with ``confirm_after`` = the latest time an accepted request can
have produced its result notification (claim + this function's life + the request's TTL +
its invocation timeout, both sent with every invoke, + a margin for the notification's
delivery). The result recorder moves ``unconfirmed`` jobs to their final status like
``submitting`` ones; re-check messages on the requests queue look again every 15 minutes,
and after ``confirm_after`` an unconfirmed job is claimed and invoked once more (it was
never accepted, or expired unrun).

Ledger states: ``submitting`` (claimed, with a ``claim`` token) -> ``submitted`` -> final
(``succeeded``/``failed``, written by the recorder); ``submitting`` -> ``unconfirmed`` ->
(a result: final) or (after ``confirm_after``: claimed again). Messages on the requests
queue: S3 events, ``{"llm": "recheck", ...}`` (an object to look at again) and
``{"llm": "submitted", ...}`` (a submission whose ledger write failed, applied later).

Every AWS call is bounded (timeouts, botocore's retry modes); before each message the
function checks that the worst case of one message still fits in the time it has left,
and otherwise sends the untried messages back to the queue, so no message uses up
receives it was never tried in. Standard library and boto3 only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import (ClientError, ConnectTimeoutError, EndpointConnectionError,
                                 NoCredentialsError, ParamValidationError,
                                 ProxyConnectionError)

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

SUBMITTING, SUBMITTED, UNCONFIRMED = "submitting", "submitted", "unconfirmed"
FINAL = ("succeeded", "failed")
#: SQS's longest DelaySeconds: a re-check waits at most this long before it looks again.
MAX_DELAY_SECONDS = 900

#: botocore's retry timing (botocore 1.44.5, botocore/retries/standard.py
#: ExponentialBackoff and bucket.py TokenBucket; tests compare them with the installed
#: botocore): the n-th retry sleeps at most min(2**(n-1), 20) s for throttling, plus up to
#: 5 s more when the answer carries x-amz-retry-after; adaptive mode's client-side rate
#: never drops below 0.5 requests per second, so it waits at most 2 s before an attempt.
MAX_BACKOFF, RETRY_AFTER_EXTRA, MIN_ADAPTIVE_RATE = 20, 5, 0.5

#: Exceptions that mean the invoke never reached SageMaker: refused, safe to try again.
NOT_SENT = (EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError,
            ParamValidationError, NoCredentialsError)

clock: Callable[[], float] = time.time  # replaced in tests


class Limits(NamedTuple):
    """How long everything may take, and what follows from it. Times in seconds."""

    connect_timeout: float = 1
    read_timeout: float = 2        # S3, DynamoDB and SQS answer in milliseconds
    attempts: int = 2              # per S3, DynamoDB or SQS call (standard retry mode)
    invoke_read_timeout: float = 5
    invoke_attempts: int = 3       # InvokeEndpointAsync (adaptive retry mode)
    request_ttl: int = 21600       # SageMaker's defaults, sent explicitly
    invocation_timeout: int = 900
    claim_timeout: float = 450     # the function's timeout: a live claimer is done by then
    delivery_margin: float = 1800  # SNS -> SQS -> recorder, with the recorder's retries

    def call_bound(self, *, attempts: int, read_timeout: float, adaptive: bool) -> float:
        """The longest one AWS call can take: every attempt timing out, every retry
        sleeping its longest."""
        wait = 1 / MIN_ADAPTIVE_RATE if adaptive else 0
        tries = attempts * (self.connect_timeout + read_timeout + wait)
        sleeps = sum(min(2 ** n, MAX_BACKOFF) + RETRY_AFTER_EXTRA for n in range(attempts - 1))
        return tries + sleeps

    @property
    def aws_call(self) -> float:
        return self.call_bound(attempts=self.attempts, read_timeout=self.read_timeout,
                               adaptive=False)

    @property
    def invoke_call(self) -> float:
        return self.call_bound(attempts=self.invoke_attempts,
                               read_timeout=self.invoke_read_timeout, adaptive=True)

    @property
    def message(self) -> float:
        """The longest one message can take: its longest path is head, claim, invoke, one
        ledger write and one message sent (a re-check, or the submission record)."""
        return 4 * self.aws_call + self.invoke_call

    @property
    def reserve(self) -> float:
        """Time a message needs before it may start: itself, then sending the rest back."""
        return self.message + self.aws_call

    def confirm_after(self, claimed_at: float) -> float:
        """When an invoke made under a claim from ``claimed_at`` has surely been answered
        by a notification, if SageMaker accepted it."""
        return (claimed_at + self.claim_timeout + self.request_ttl + self.invocation_timeout
                + self.delivery_margin)

    def config(self, *, invoke: bool = False) -> Config:
        if invoke:
            return Config(connect_timeout=self.connect_timeout,
                          read_timeout=self.invoke_read_timeout,
                          retries={"mode": "adaptive", "total_max_attempts": self.invoke_attempts})
        return Config(connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
                      retries={"mode": "standard", "total_max_attempts": self.attempts})


class Upload(NamedTuple):
    """One uploaded object: a job."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None

    @property
    def job(self) -> str:
        return inference_id(self.key, self.version_id or self.etag or "")

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def recheck(self) -> dict[str, Any]:
        return {"llm": "recheck", "bucket": self.bucket, "key": self.key,
                "version_id": self.version_id, "etag": self.etag}


def inference_id(key: str, version: str) -> str:
    """The job id of one upload: the object key and its version (or ETag) hashed.
    The client computes the same id from its ``PutObject`` response."""
    return hashlib.sha256(f"{key}\n{version.strip(chr(34))}".encode()).hexdigest()[:48]


def log(event: str, **fields: Any) -> None:
    """One structured JSON log line."""
    LOG.info(json.dumps({"event": event, **fields}, default=str))


def invoke_not_accepted(exc: BaseException) -> bool:
    """True when a failed invoke surely was not accepted (refused, or never sent); False
    when it may have been (a 5xx, a timeout or lost connection after sending, the unknown)."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return not (status and status >= 500) and _code(exc) not in (
            "InternalFailure", "ServiceUnavailable")
    return isinstance(exc, NOT_SENT)


def no_blind_retry(caught_exception: BaseException | None = None, response: Any = None,
                   **_: Any) -> None:
    """A ``needs-retry`` hook for InvokeEndpointAsync: botocore would retry a 5xx or a read
    timeout, which may submit the request twice, so the hook raises the failure at once
    (botocore's own handler decides the rest: throttling, connection errors). It raises
    rather than answering False: botocore before 1.43.3 takes any answer but None as the
    seconds to sleep before retrying, so False would retry at once, again and again."""
    if caught_exception is not None:
        if invoke_not_accepted(caught_exception):
            return None
        raise caught_exception
    status = (response[0].status_code if response else 0) or 0
    if status >= 500:
        raise ClientError(response[1], "InvokeEndpointAsync")
    return None


class Invoker:
    def __init__(self, *, endpoint_name: str, table_name: str, input_prefix: str,
                 queue_url: str = "", limits: Limits | None = None,
                 ttl_days: int | None = None, session: Any = None) -> None:
        session = session or boto3
        self.endpoint_name, self.input_prefix, self.queue_url = (endpoint_name, input_prefix,
                                                                 queue_url)
        self.limits, self.ttl_days = limits or Limits(), ttl_days
        self.s3 = session.client("s3", config=self.limits.config())
        self.sqs = session.client("sqs", config=self.limits.config())
        self.runtime = session.client("sagemaker-runtime", config=self.limits.config(invoke=True))
        self.runtime.meta.events.register_first(
            "needs-retry.sagemaker-runtime.InvokeEndpointAsync", no_blind_retry)
        self.table = session.resource("dynamodb", config=self.limits.config()).Table(table_name)

    # -- SQS batch -----------------------------------------------------------------------
    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        records, failures = event.get("Records", []), []
        for index, record in enumerate(records):
            if self._out_of_time(context):
                failures += self._send_back(records[index:])
                break
            try:
                self.handle_message(json.loads(record["body"]))
            except Exception as exc:  # reported per message; SQS retries only this one
                log("message_failed", message_id=record.get("messageId"), error=repr(exc))
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def _out_of_time(self, context: Any) -> bool:
        if context is None:
            return False
        return context.get_remaining_time_in_millis() / 1000 < self.limits.reserve

    def _send_back(self, records: list[dict[str, Any]]) -> list[dict[str, str]]:
        """Put untried messages back on the queue as new messages (a duplicate is harmless:
        the claim decides); the ones SQS did not take are reported failed instead."""
        entries = [{"Id": str(i), "MessageBody": r["body"]} for i, r in enumerate(records)]
        try:
            failed = self.sqs.send_message_batch(QueueUrl=self.queue_url,
                                                 Entries=entries).get("Failed", [])
        except Exception as exc:
            log("send_back_failed", error=repr(exc))
            failed = entries
        log("sent_back", count=len(records) - len(failed), reason="too little time left")
        return [{"itemIdentifier": records[int(f["Id"])]["messageId"]} for f in failed]

    def handle_message(self, body: dict[str, Any]) -> None:
        kind = body.get("llm")
        if kind == "submitted":
            self._mark_submitted(body["inference_id"], body["claim"], body)
        elif kind == "recheck":
            self.submit(Upload(body["bucket"], body["key"], body.get("version_id"),
                               body.get("etag")))
        elif body.get("Event") != "s3:TestEvent":  # sent once when notifications are set
            for upload in self._uploads(body):
                self.submit(upload)

    def _uploads(self, body: dict[str, Any]) -> list[Upload]:
        uploads = []
        for rec in body.get("Records", []):
            key = unquote_plus(rec["s3"]["object"]["key"])  # S3 event keys are URL-encoded
            if (str(rec.get("eventName", "")).startswith("ObjectCreated")
                    and key.startswith(self.input_prefix) and not key.endswith("/")):
                obj = rec["s3"]["object"]
                uploads.append(Upload(rec["s3"]["bucket"]["name"], key, obj.get("versionId"),
                                      obj.get("eTag")))
        return uploads

    # -- one object ----------------------------------------------------------------------
    def submit(self, upload: Upload) -> str:
        """Submit one object, or do what its ledger item asks; returns its inference id."""
        head = self._head(upload)
        if head is None:
            log("object_gone", inference_id=upload.job, input_location=upload.location)
            return upload.job
        content_type = str(head.get("ContentType") or "application/octet-stream")
        token, claimed_at = uuid.uuid4().hex, clock()
        found = self._claim(upload, token, claimed_at, content_type)
        if found is not None and found.get("claim") != token:
            self._follow(upload, found)
        elif upload.version_id and head.get("VersionId") != upload.version_id:
            self._supersede(upload, token, str(head.get("VersionId")))
        else:  # ours (also a retried put's first try)
            self._invoke(upload, token, claimed_at, content_type)
        return upload.job

    def _head(self, upload: Upload) -> dict[str, Any] | None:
        """The key as SageMaker will read it (``InputLocation`` names no version); None
        when it is gone (404: the role may list the prefix, so S3 does not answer 403)."""
        try:
            return dict(self.s3.head_object(Bucket=upload.bucket, Key=upload.key))
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchKey"):
                raise
            return None  # deleted since

    def _supersede(self, upload: Upload, token: str, current: str) -> None:
        """A newer upload replaced this one before it was submitted: SageMaker would read
        the newer request (``InputLocation`` has no version), which is a job of its own, and
        run it twice. This job ends ``failed``, saying so."""
        why = (f"superseded: {upload.location} was uploaded again (version {current}) before "
               "this request was submitted; the newer upload is its own job. Use a new key "
               "per request (llm-client does).")
        log("superseded", inference_id=upload.job, input_location=upload.location,
            current_version=current)
        self._update(upload.job, "SET #s = :failed, #e = :why, completed_at = :now "
                                 "REMOVE claim", "#s = :submitting AND claim = :token",
                     {":failed": FINAL[1], ":why": why, ":now": _iso(clock()),
                      ":submitting": SUBMITTING, ":token": token}, names={"#e": "error"})

    def _claim(self, upload: Upload, token: str, now: float,
               content_type: str) -> dict[str, Any] | None:
        """Claim the job; None when claimed, else the item that holds it."""
        item = {"inference_id": upload.job, "status": SUBMITTING, "claim": token,
                "claimed_at": now, "input_location": upload.location,
                "input_version": upload.version_id or "", "content_type": content_type,
                "created_at": _iso(now)}
        if self.ttl_days:
            item["expires_at"] = int(now + self.ttl_days * 86400)
        try:
            self.table.put_item(
                Item=_decimal(item), ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ConditionExpression="attribute_not_exists(inference_id) OR "
                                    "(#s = :unconfirmed AND confirm_after < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_decimal({":unconfirmed": UNCONFIRMED, ":now": now}))
            return None
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item", {})
            return {k: TypeDeserializer().deserialize(v) for k, v in old.items()}

    def _follow(self, upload: Upload, found: dict[str, Any]) -> None:
        """The job is someone's already: act on its state."""
        status, claimed_at = found.get("status"), float(found.get("claimed_at", 0))
        if status == SUBMITTING and claimed_at < clock() - self.limits.claim_timeout:
            # Its claimer died; whether it invoked first cannot be known.
            if self._mark_unconfirmed(upload.job, found.get("claim", ""), claimed_at):
                self._recheck(upload, self.limits.confirm_after(claimed_at))
        elif status == UNCONFIRMED:  # not due yet; keep a re-check on its way
            self._recheck(upload, float(found["confirm_after"]))
        else:  # submitted, final, or a live claim (its message comes back if it dies)
            log("duplicate", inference_id=upload.job, status=status)

    def _invoke(self, upload: Upload, token: str, claimed_at: float, content_type: str) -> None:
        try:
            response = self.runtime.invoke_endpoint_async(
                EndpointName=self.endpoint_name, InputLocation=upload.location,
                ContentType=content_type, InferenceId=upload.job,
                RequestTTLSeconds=self.limits.request_ttl,
                InvocationTimeoutSeconds=self.limits.invocation_timeout)
        except Exception as exc:
            if invoke_not_accepted(exc):
                self._release(upload.job, token)  # let the retry claim it again
                raise
            log("invoke_outcome_unknown", inference_id=upload.job, error=repr(exc))
            if self._mark_unconfirmed(upload.job, token, claimed_at):
                self._recheck(upload, self.limits.confirm_after(claimed_at))
            return
        record = {"output_location": response.get("OutputLocation", ""),
                  "failure_location": response.get("FailureLocation", ""),
                  "submitted_at": _iso(clock())}
        log("submitted", inference_id=upload.job, input_location=upload.location,
            output_location=record["output_location"])
        try:
            self._mark_submitted(upload.job, token, record)
        except Exception as exc:  # SageMaker has it: never release; record it later
            log("ledger_write_deferred", inference_id=upload.job, error=repr(exc))
            self._send({"llm": "submitted", "inference_id": upload.job, "claim": token,
                        **record})

    # -- ledger writes -------------------------------------------------------------------
    def _release(self, job: str, token: str) -> None:
        try:
            self.table.delete_item(Key={"inference_id": job},
                                   ConditionExpression="#s = :submitting AND claim = :token",
                                   ExpressionAttributeNames={"#s": "status"},
                                   ExpressionAttributeValues={":submitting": SUBMITTING,
                                                              ":token": token})
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise

    def _mark_unconfirmed(self, job: str, token: str, claimed_at: float) -> bool:
        """``submitting`` under ``token`` -> ``unconfirmed``; False if it is not that."""
        due = self.limits.confirm_after(claimed_at)
        return self._update(job, "SET #s = :unconfirmed, confirm_after = :due",
                            "#s = :submitting AND claim = :token",
                            {":unconfirmed": UNCONFIRMED, ":due": due,
                             ":submitting": SUBMITTING, ":token": token})

    def _mark_submitted(self, job: str, token: str, record: dict[str, Any]) -> None:
        values = {":out": record["output_location"], ":fail": record["failure_location"],
                  ":at": record["submitted_at"]}
        if self._update(job, "SET #s = :submitted, submitted_at = :at, "
                             "output_location = :out, failure_location = :fail REMOVE claim",
                        "claim = :token AND #s IN (:submitting, :unconfirmed)",
                        {**values, ":submitted": SUBMITTED, ":submitting": SUBMITTING,
                         ":unconfirmed": UNCONFIRMED, ":token": token}):
            return
        try:  # the result arrived first: keep its final status, add what we know
            self._update(job, "SET submitted_at = :at, "
                              "output_location = if_not_exists(output_location, :out)",
                         "#s IN (:succeeded, :failed)",
                         {":at": values[":at"], ":out": values[":out"],
                          ":succeeded": FINAL[0], ":failed": FINAL[1]})
        except Exception as exc:  # a detail of a finished job: not worth a retry
            log("submitted_at_not_recorded", inference_id=job, error=repr(exc))

    def _update(self, job: str, update: str, condition: str, values: dict[str, Any],
                names: dict[str, str] | None = None) -> bool:
        """A conditional update; False when the condition does not hold."""
        try:
            self.table.update_item(Key={"inference_id": job}, UpdateExpression=update,
                                   ConditionExpression=condition,
                                   ExpressionAttributeNames={"#s": "status", **(names or {})},
                                   ExpressionAttributeValues=_decimal(values))
            return True
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            return False

    # -- messages to ourselves -----------------------------------------------------------
    def _recheck(self, upload: Upload, due: float) -> None:
        delay = int(min(MAX_DELAY_SECONDS, max(0.0, due - clock())))
        log("unconfirmed", inference_id=upload.job, confirm_after=_iso(due), next_look_in=delay)
        self._send(upload.recheck(), delay=delay)

    def _send(self, body: dict[str, Any], *, delay: int = 0) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body),
                              DelaySeconds=delay)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _decimal(values: dict[str, Any]) -> dict[str, Any]:
    return {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in values.items()}


def limits_from_environment() -> Limits:
    return Limits(request_ttl=int(os.environ.get("REQUEST_TTL_SECONDS", "21600")),
                  invocation_timeout=int(os.environ.get("INVOCATION_TIMEOUT_SECONDS", "900")),
                  claim_timeout=float(os.environ.get("CLAIM_TIMEOUT_SECONDS", "450")))


_INVOKER: Invoker | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _INVOKER
    if _INVOKER is None:
        ttl = os.environ.get("LEDGER_TTL_DAYS")
        _INVOKER = Invoker(endpoint_name=os.environ["ENDPOINT_NAME"],
                           table_name=os.environ["TABLE_NAME"],
                           input_prefix=os.environ["INPUT_PREFIX"],
                           queue_url=os.environ["REQUESTS_QUEUE_URL"],
                           limits=limits_from_environment(), ttl_days=int(ttl) if ttl else None)
    return _INVOKER.handle(event, context)
