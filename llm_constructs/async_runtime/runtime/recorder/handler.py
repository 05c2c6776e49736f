"""Record SageMaker's async results in the job ledger; keep failed requests for replay.

The endpoint's success and error topics -> SQS (raw delivery: the body is SageMaker's own
notification) -> this function. Each notification updates the job's ledger item with a
conditional write that only moves a job forward (``submitting``, ``submitted`` or
``unconfirmed`` -> final): a duplicate or late notification for a finished job changes
nothing, and a notification for an id the ledger does not know is kept as a new item, not
dropped.

A failure first copies the request, the exact version the invoker submitted (the ledger's
``input_version``, recorded at claim time), to ``<failed prefix><inference id>/<file
name>``: a reused key is a new job with its own copy, and a repeated copy writes the same
bytes to the same key (idempotent). ``replay`` resubmits that copy (``failed_copy``).
Standard library and boto3 only.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

SUCCEEDED, FAILED = "succeeded", "failed"


def log(event: str, **fields: Any) -> None:
    LOG.info(json.dumps({"event": event, **fields}, default=str))


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class ResultRecorder:
    def __init__(self, *, table_name: str, failed_prefix: str, session: Any = None) -> None:
        session = session or boto3
        self.failed_prefix = failed_prefix
        self.s3 = session.client("s3")
        self.table = session.resource("dynamodb").Table(table_name)

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        failures = []
        for record in event.get("Records", []):
            try:
                self.record(_notification(record["body"]))
            except Exception as exc:
                log("message_failed", message_id=record.get("messageId"), error=repr(exc))
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def record(self, note: dict[str, Any]) -> str | None:
        """Apply one notification; returns the status written, or None if ignored."""
        job = note["inferenceId"]
        status = SUCCEEDED if note.get("invocationStatus") == "Completed" else FAILED
        request = note.get("requestParameters") or {}
        response = note.get("responseParameters") or {}
        known = self._job(job)
        if known is not None and known.get("status") in (SUCCEEDED, FAILED):
            return self._ignored(job, status)
        input_location = request.get("inputLocation", "")
        values: dict[str, Any] = {
            ":status": status, ":completed": note.get("eventTime") or _iso(time.time()),
            ":input": input_location, ":out": response.get("outputLocation", ""),
            ":fail": response.get("failureLocation", ""),
            ":error": note.get("failureReason", ""), ":succeeded": SUCCEEDED,
            ":failed": FAILED, ":now": _iso(time.time())}
        update = ("SET #s = :status, completed_at = :completed, updated_at = :now, "
                  "input_location = if_not_exists(input_location, :input), "
                  "output_location = :out, failure_location = :fail, #e = :error")
        if status == FAILED:
            values[":copy"] = self._keep_failed_request(job, known, input_location)
            update += ", failed_copy = :copy"
        try:
            old = self.table.update_item(
                Key={"inference_id": job}, UpdateExpression=update,
                # any state before a result (submitting, submitted, unconfirmed) moves on
                ConditionExpression="attribute_not_exists(#s) OR NOT #s IN (:succeeded, :failed)",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues=values, ReturnValues="ALL_OLD")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return self._ignored(job, status)  # finished between our read and this write
        if not old.get("Attributes"):
            log("unknown_id_kept", inference_id=job, status=status,
                input_location=input_location)
        log("result", inference_id=job, status=status, output_location=values[":out"],
            error=values[":error"] or None)
        return status

    def _job(self, job: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.table.get_item(
            Key={"inference_id": job}, ConsistentRead=True).get("Item")
        return item

    @staticmethod
    def _ignored(job: str, status: str) -> None:
        log("ignored_final", inference_id=job, status=status,
            reason="the job already has a final status (duplicate or late notification)")

    def _keep_failed_request(self, job: str, known: dict[str, Any] | None,
                             input_location: str) -> str:
        """Copy the version the invoker submitted; returns the copy's location or ""."""
        if known is None or "input_version" not in known:
            # Not claimed by this runtime's invoker (someone called InvokeEndpointAsync
            # directly, or the item was claimed before versions were recorded): the key's
            # current version may be another request, so keep nothing rather than a wrong
            # copy. The failure itself is still recorded; replay falls back to the input.
            log("failed_copy_skipped", inference_id=job, input_location=input_location,
                reason="the ledger has no input version for this job")
            return ""
        bucket, key = split_s3(known.get("input_location") or input_location)
        # "" is an upload to an unversioned bucket: S3 names that version "null".
        version = known["input_version"] or "null"
        target = failed_key(self.failed_prefix, job, key)
        try:
            self.s3.copy_object(Bucket=bucket, Key=target, CopySource={
                "Bucket": bucket, "Key": key, "VersionId": version})
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("NoSuchKey", "NoSuchVersion", "404"):
                raise
            log("request_gone", inference_id=job, input_location=f"s3://{bucket}/{key}",
                input_version=version)  # expired: nothing to keep
            return ""
        return f"s3://{bucket}/{target}"


def failed_key(prefix: str, job: str, key: str) -> str:
    """``<prefix><inference id>/<file name>``: one folder per job, so jobs never share a
    copy; the name stays recognizable. S3 keys take at most 1,024 bytes."""
    target = f"{prefix}{job}/{key.rsplit('/', 1)[-1]}"
    return target if len(target.encode()) <= 1024 else f"{prefix}{job}/request"


def _notification(body: str) -> dict[str, Any]:
    """SageMaker's message, raw (raw delivery) or inside an SNS envelope."""
    data = json.loads(body)
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
        data = json.loads(data["Message"])
    if not isinstance(data, dict) or "inferenceId" not in data:
        raise ValueError("not a SageMaker async inference notification")
    return data


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


_RECORDER: ResultRecorder | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _RECORDER
    if _RECORDER is None:
        _RECORDER = ResultRecorder(table_name=os.environ["TABLE_NAME"],
                                   failed_prefix=os.environ["FAILED_PREFIX"])
    return _RECORDER.handle(event)
