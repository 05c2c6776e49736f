"""Client for the endpoints this project deploys (standard library + boto3).

    from llm_client import AsyncEndpoint
    endpoint = AsyncEndpoint.from_stack("llm-dev-endpoint-batch")
    job = endpoint.submit(prompt="Write a haiku about GPUs")
    print(job.result(timeout=900).decode())

``llm-client --help`` (installed with the package; or ``python -m llm_client --help``)
is the command-line interface.
"""

from .client import (AsyncEndpoint, Job, JobFailed, JobTimeout, RealtimeEndpoint,
                     inference_id, stack_outputs)

__all__ = ["AsyncEndpoint", "Job", "JobFailed", "JobTimeout", "RealtimeEndpoint",
           "inference_id", "stack_outputs"]
