"""Client for the endpoints this project deploys (standard library + boto3).

    from llm_client import AsyncEndpoint
    endpoint = AsyncEndpoint.from_stack("llm-dev-endpoint-batch")
    job = endpoint.submit(prompt="Write a haiku about GPUs")
    print(job.result(timeout=900).decode())

    jobs = endpoint.submit_many(sorted(Path("requests").glob("*.json")))
    for outcome in endpoint.wait_all(jobs, timeout=3600):
        print(outcome.job.source, outcome.status)

``llm-client --help`` (installed with the package; or ``python -m llm_client --help``)
is the command-line interface.
"""

from .client import (AsyncEndpoint, Batch, Job, JobFailed, JobTimeout, Outcome,
                     RealtimeEndpoint, inference_id, stack_outputs)
from .waiting import CHECK_EVERY

__all__ = ["CHECK_EVERY", "AsyncEndpoint", "Batch", "Job", "JobFailed", "JobTimeout",
           "Outcome", "RealtimeEndpoint", "inference_id", "stack_outputs"]
