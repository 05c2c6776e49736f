"""Record SageMaker's async results in the job ledger; keep failed requests for replay.

The endpoint's success and error topics -> SQS (raw delivery: the body is SageMaker's own
notification) -> this function. Each notification updates the job's ledger item with a
conditional write that only moves a job forward (``submitting``/``submitted`` -> final):
a duplicate or late notification for a finished job changes nothing, and a notification
for an id the ledger does not know is kept as a new item, not dropped. A failure first
copies the request to the ``failed/`` prefix (idempotent), so ``replay`` can resubmit it.
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
    def __init__(self, *, table_name: str, input_prefix: str, failed_prefix: str,
                 session: Any = None) -> None:
        session = session or boto3
        self.input_prefix, self.failed_prefix = input_prefix, failed_prefix
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
        input_location = request.get("inputLocation", "")
        values: dict[str, Any] = {
            ":status": status, ":completed": note.get("eventTime") or _iso(time.time()),
            ":input": input_location, ":out": response.get("outputLocation", ""),
            ":fail": response.get("failureLocation", ""),
            ":error": note.get("failureReason", ""), ":submitting": "submitting",
            ":submitted": "submitted", ":now": _iso(time.time())}
        update = ("SET #s = :status, completed_at = :completed, updated_at = :now, "
                  "input_location = if_not_exists(input_location, :input), "
                  "output_location = :out, failure_location = :fail, #e = :error")
        if status == FAILED and input_location:
            values[":copy"] = self._keep_failed_request(input_location)
            update += ", failed_copy = :copy"
        try:
            old = self.table.update_item(
                Key={"inference_id": job}, UpdateExpression=update,
                ConditionExpression="attribute_not_exists(#s) OR #s IN (:submitting, :submitted)",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues=values, ReturnValues="ALL_OLD")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            log("ignored_final", inference_id=job, status=status,
                reason="the job already has a final status (duplicate or late notification)")
            return None
        if not old.get("Attributes"):
            log("unknown_id_kept", inference_id=job, status=status,
                input_location=input_location)
        log("result", inference_id=job, status=status, output_location=values[":out"],
            error=values[":error"] or None)
        return status

    def _keep_failed_request(self, input_location: str) -> str:
        bucket, key = split_s3(input_location)
        relative = key[len(self.input_prefix):] if key.startswith(self.input_prefix) \
            else key.rsplit("/", 1)[-1]
        target = f"{self.failed_prefix}{relative}"
        try:
            self.s3.copy_object(Bucket=bucket, Key=target,
                                CopySource={"Bucket": bucket, "Key": key})
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
            log("request_gone", input_location=input_location)  # expired: nothing to keep
            return ""
        return f"s3://{bucket}/{target}"


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
                                   input_prefix=os.environ["INPUT_PREFIX"],
                                   failed_prefix=os.environ["FAILED_PREFIX"])
    return _RECORDER.handle(event)
