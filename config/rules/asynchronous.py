"""Asynchronous inference: settings only where the mode is async, paths that are distinct
prefixes of one bucket, and the runtime's needs."""

from __future__ import annotations

from config import facts
from config.backends import Problem
from config.shapes import AsyncInference, Endpoint, s3_parts


def async_problems(p: str, ep: Endpoint) -> list[Problem]:
    if not ep.is_async:
        if ep.async_inference is not None and not ep.is_serverless:
            return [(f"{p}.async_inference", "async settings on a real-time endpoint: set "
                                             "mode: async, or remove async_inference")]
        return []
    a = ep.async_settings
    paths = {"input_path": a.input_path, "output_path": a.output_path,
             "failure_path": a.failure_path}
    errors: list[Problem] = []
    if a.runtime:
        paths["failed_requests_path"] = a.failed_requests_path
        errors += _runtime_problems(p, a)
    errors += _bucket_problems(p, a, paths) + _overlap_problems(p, paths)
    if a.include_inference_response_in and not a.notifications:
        errors.append((f"{p}.async_inference.include_inference_response_in",
                       "needs notifications: true (the response goes into the SNS message)"))
    return errors


def _runtime_problems(p: str, a: AsyncInference) -> list[Problem]:
    errors: list[Problem] = []
    if not a.notifications:
        errors.append((f"{p}.async_inference.runtime",
                       "the runtime learns results from the notification topics: set "
                       "notifications: true, or runtime: false"))
    if a.existing_bucket is not None:
        errors.append((f"{p}.async_inference.runtime",
                       "the runtime adds S3 event notifications to the bucket, which would "
                       f"replace those of your bucket {a.existing_bucket!r}: use the bucket "
                       "the stack creates, or runtime: false"))
    return errors


def _bucket_problems(p: str, a: AsyncInference, paths: dict[str, str]) -> list[Problem]:
    """``s3://`` paths only in ``existing_bucket``."""
    errors: list[Problem] = []
    for field, path in paths.items():
        if not path.startswith("s3://"):
            continue
        if a.existing_bucket is None:
            errors.append((f"{p}.async_inference.{field}",
                           f"{path!r} is outside the bucket this stack owns; give a prefix "
                           f"such as {field.removesuffix('_path') + '/'!r}, or set "
                           "existing_bucket to use your own bucket"))
        elif s3_parts(path)[0] != a.existing_bucket:
            errors.append((f"{p}.async_inference.{field}",
                           f"{path!r} is not in existing_bucket {a.existing_bucket!r}"))
    return errors


def _overlap_problems(p: str, paths: dict[str, str]) -> list[Problem]:
    """Requests, results and failures are kept apart: no prefix inside another."""
    errors: list[Problem] = []
    items = [(field, facts.key_prefix(path)) for field, path in paths.items()]
    for i, (f1, k1) in enumerate(items):
        for f2, k2 in items[i + 1:]:
            if k1.startswith(k2) or k2.startswith(k1):
                errors.append((f"{p}.async_inference.{f2}",
                               f"{paths[f2]!r} overlaps {f1} {paths[f1]!r}: use distinct "
                               "prefixes (requests, results and failures are kept apart)"))
    return errors
