"""The runtime around an asynchronous endpoint: the construct (``infrastructure.py``) and
its two Lambda functions' code, one asset folder each (standard library + boto3):

* ``runtime/invoker/``: SQS (S3 ``ObjectCreated`` under the input prefix) -> claim in the
  ledger -> ``InvokeEndpointAsync``; partial batch failures, dead-letter queue.
* ``runtime/recorder/``: SQS (raw delivery from the success and error topics) -> ledger
  item ``succeeded``/``failed``, never leaving a final state; a failed request is copied
  under ``failed/`` for ``llm_client replay``.
"""

from .infrastructure import INVOKER_CODE, RECORDER_CODE, AsyncJobRuntime

__all__ = ["INVOKER_CODE", "RECORDER_CODE", "AsyncJobRuntime"]
