"""Run a template's Lambda function in this process, the way Lambda runs it.

No Docker, so the handler is called directly, but with what Lambda would give it: exactly
the function's environment variables (from the template) plus the runtime's own, a context
whose remaining time counts down from the template's timeout, and SDK clients whose every
call is recorded (the default boto3 session is the function's while it runs). ``poll`` does
what the SQS event source mapping does, with the function's role: receive up to the batch
size, invoke, delete the messages not reported in ``batchItemFailures``.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from tests.iam_check import Call, Context, denied, recorder
from tests.stack_in_moto import Function, shared_session


class LambdaContext:
    def __init__(self, function: Function, arn: str) -> None:
        self.function_name, self.invoked_function_arn = function.name, arn
        self.memory_limit_in_mb, self.aws_request_id = function.memory, str(uuid.uuid4())
        self._deadline = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def folder_digest(folder: Path) -> dict[str, str]:
    """File -> sha256 of the deployable files of a code folder (caches left out, as the
    asset leaves them out)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()
            and "__pycache__" not in p.parts and p.suffix != ".pyc"}


class Deployed:
    """One function of the template with the module that is its code."""

    def __init__(self, function: Function, module: ModuleType, *, region: str, arn: str,
                 statements: list[dict[str, Any]]) -> None:
        handler_file, _, self.entry = function.handler.partition(".")
        assert Path(module.__file__ or "").name == f"{handler_file}.py", function.handler
        self.function, self.module, self.region, self.arn = function, module, region, arn
        self.statements = statements  # its role's policies
        self.calls: list[Call] = []
        self.session = shared_session(region, aws_access_key_id="testing",
                                      aws_secret_access_key="testing",
                                      aws_session_token="testing")
        self.session.events.register("provide-client-params", recorder(self.calls))
        self._sqs = self.session.client("sqs")  # the event source mapping uses the role

    @property
    def environment(self) -> dict[str, str]:
        return {**self.function.environment, "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                "AWS_LAMBDA_FUNCTION_NAME": self.function.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.function.memory),
                "LAMBDA_TASK_ROOT": str(self.function.code)}

    @contextmanager
    def running(self) -> Iterator[None]:
        saved_environment, saved_session = dict(os.environ), boto3.DEFAULT_SESSION
        os.environ.clear()
        os.environ.update(self.environment)
        boto3.DEFAULT_SESSION = self.session
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved_environment)
            boto3.DEFAULT_SESSION = saved_session

    def invoke(self, event: dict[str, Any]) -> Any:
        with self.running():
            return getattr(self.module, self.entry)(event, LambdaContext(self.function, self.arn))

    def poll(self) -> dict[str, list[dict[str, str]]]:
        """Deliver the event source queue's visible messages, batch by batch."""
        url = self.function.queue_url
        assert url, f"{self.function.logical_id} has no SQS event source"
        failures: list[dict[str, str]] = []
        while True:
            got = self._sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(10, self.function.batch_size),
                AttributeNames=["All"]).get("Messages", [])
            if not got:
                return {"batchItemFailures": failures}
            out = self.invoke({"Records": [_record(m, url, self.region) for m in got]}) or {}
            failed = out.get("batchItemFailures", [])
            failures += failed
            for message in got:
                if message["MessageId"] not in {f["itemIdentifier"] for f in failed}:
                    self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def denied(self, context: Context) -> list[str]:
        return denied(self.statements, self.calls, context)


def _record(message: dict[str, Any], url: str, region: str) -> dict[str, Any]:
    *_, account, name = url.split("/")
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"], "attributes": message.get("Attributes", {}),
            "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": region,
            "eventSourceARN": f"arn:aws:sqs:{region}:{account}:{name}"}
