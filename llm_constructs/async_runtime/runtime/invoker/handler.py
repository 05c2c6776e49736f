"""Submit every request object that lands under the endpoint's input prefix.

S3 (ObjectCreated under the input prefix) -> SQS -> this function, in batches. For each
object: read its content type, claim the job in the ledger (DynamoDB, conditional put),
call ``InvokeEndpointAsync`` with ``InputLocation`` = the object, then record the output
and failure locations. The ``InferenceId`` is derived from the object key and version, so
a redelivered S3 event finds its claim and submits nothing twice. SageMaker throttling is
retried here with exponential backoff and jitter; a message that still fails is reported
alone (``batchItemFailures``), retried by SQS, and after the queue's ``maxReceiveCount``
goes to the dead-letter queue (alarmed). Standard library and boto3 only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

#: Error codes worth another try: throttling and transient service faults.
RETRYABLE = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                       "RequestLimitExceeded", "ServiceUnavailable", "InternalFailure"})
SUBMITTING, SUBMITTED = "submitting", "submitted"

_sleep: Callable[[float], None] = time.sleep  # replaced in tests


def inference_id(key: str, version: str) -> str:
    """The job id of one upload: the object key and its version (or ETag) hashed.
    The client computes the same id from its ``PutObject`` response."""
    return hashlib.sha256(f"{key}\n{version.strip(chr(34))}".encode()).hexdigest()[:48]


def log(event: str, **fields: Any) -> None:
    """One structured JSON log line."""
    LOG.info(json.dumps({"event": event, **fields}, default=str))


class Invoker:
    def __init__(self, *, endpoint_name: str, table_name: str, input_prefix: str,
                 max_attempts: int = 6, base_delay: float = 0.5, claim_timeout: float = 120,
                 ttl_days: int | None = None, session: Any = None) -> None:
        session = session or boto3
        self.endpoint_name, self.input_prefix = endpoint_name, input_prefix
        self.max_attempts, self.base_delay = max_attempts, base_delay
        self.claim_timeout, self.ttl_days = claim_timeout, ttl_days
        self.s3 = session.client("s3")
        # Our backoff decides, so the SDK does not retry on top of it.
        self.runtime = session.client("sagemaker-runtime",
                                      config=Config(retries={"total_max_attempts": 1}))
        self.table = session.resource("dynamodb").Table(table_name)

    # -- SQS batch -----------------------------------------------------------------------
    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        failures = []
        for record in event.get("Records", []):
            try:
                self.handle_message(json.loads(record["body"]))
            except Exception as exc:  # reported per message; SQS retries only this one
                log("message_failed", message_id=record.get("messageId"), error=repr(exc))
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def handle_message(self, body: dict[str, Any]) -> None:
        if body.get("Event") == "s3:TestEvent":  # sent once when the notification is set up
            return
        for rec in body.get("Records", []):
            if not str(rec.get("eventName", "")).startswith("ObjectCreated"):
                continue
            obj = rec["s3"]["object"]
            key = unquote_plus(obj["key"])  # S3 event keys are URL-encoded
            if not key.startswith(self.input_prefix) or key.endswith("/"):
                continue
            self.submit(rec["s3"]["bucket"]["name"], key, version_id=obj.get("versionId"),
                        etag=obj.get("eTag"))

    # -- one object ----------------------------------------------------------------------
    def submit(self, bucket: str, key: str, *, version_id: str | None = None,
               etag: str | None = None) -> str:
        """Submit one object (idempotent); returns its inference id."""
        job = inference_id(key, version_id or etag or "")
        location = f"s3://{bucket}/{key}"
        try:
            head = self.s3.head_object(Bucket=bucket, Key=key,
                                       **({"VersionId": version_id} if version_id else {}))
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchKey", "NoSuchVersion"):
                raise
            log("object_gone", inference_id=job, input_location=location)  # deleted since
            return job
        content_type = head.get("ContentType") or "application/octet-stream"
        token = uuid.uuid4().hex
        if not self._claim(job, token, location, content_type):
            log("duplicate", inference_id=job, input_location=location)
            return job
        try:
            response = self._with_backoff(lambda: self.runtime.invoke_endpoint_async(
                EndpointName=self.endpoint_name, InputLocation=location,
                ContentType=content_type, InferenceId=job))
        except Exception:
            self._release(job, token)  # let the retry claim it again
            raise
        self._mark_submitted(job, response)
        log("submitted", inference_id=job, input_location=location,
            output_location=response.get("OutputLocation"))
        return job

    def _claim(self, job: str, token: str, location: str, content_type: str) -> bool:
        now = time.time()
        item = {"inference_id": job, "status": SUBMITTING, "claim": token, "claimed_at": now,
                "input_location": location, "content_type": content_type,
                "created_at": _iso(now)}
        if self.ttl_days:
            item["expires_at"] = int(now + self.ttl_days * 86400)
        try:
            self.table.put_item(
                Item=_decimal(item),
                ConditionExpression="attribute_not_exists(inference_id) OR "
                                    "(#s = :submitting AND claimed_at < :stale)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_decimal({":submitting": SUBMITTING,
                                                    ":stale": now - self.claim_timeout}))
            return True
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise

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

    def _mark_submitted(self, job: str, response: dict[str, Any]) -> None:
        values = {":submitted": SUBMITTED, ":submitting": SUBMITTING, ":now": _iso(time.time()),
                  ":out": response.get("OutputLocation", ""),
                  ":fail": response.get("FailureLocation", "")}
        try:
            self.table.update_item(
                Key={"inference_id": job},
                UpdateExpression="SET #s = :submitted, submitted_at = :now, "
                                 "output_location = :out, failure_location = :fail "
                                 "REMOVE claim",
                ConditionExpression="#s = :submitting",
                ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            # The result arrived first: keep its final status, add what we know.
            self.table.update_item(
                Key={"inference_id": job},
                UpdateExpression="SET submitted_at = :now, "
                                 "output_location = if_not_exists(output_location, :out)",
                ExpressionAttributeValues={":now": values[":now"], ":out": values[":out"]})

    def _with_backoff(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        for attempt in range(1, self.max_attempts + 1):
            try:
                return call()
            except ClientError as exc:
                if _code(exc) not in RETRYABLE or attempt == self.max_attempts:
                    raise
                delay = min(20.0, self.base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1)
                log("throttled", code=_code(exc), attempt=attempt, retry_in=round(delay, 2))
                _sleep(delay)
        raise AssertionError("unreachable")


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _decimal(values: dict[str, Any]) -> dict[str, Any]:
    from decimal import Decimal

    return {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in values.items()}


_INVOKER: Invoker | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _INVOKER
    if _INVOKER is None:
        ttl = os.environ.get("LEDGER_TTL_DAYS")
        _INVOKER = Invoker(endpoint_name=os.environ["ENDPOINT_NAME"],
                           table_name=os.environ["TABLE_NAME"],
                           input_prefix=os.environ["INPUT_PREFIX"],
                           max_attempts=int(os.environ.get("MAX_ATTEMPTS", "6")),
                           claim_timeout=float(os.environ.get("CLAIM_TIMEOUT_SECONDS", "120")),
                           ttl_days=int(ttl) if ttl else None)
    return _INVOKER.handle(event)
