"""Data capture: only where SageMaker (and this app) captures, and settings that apply to
the destination chosen."""

from __future__ import annotations

from config.backends import Problem
from config.shapes import Endpoint

#: Modes without data capture, and why. Serverless: AWS's "Feature exclusions" of
#: Serverless Inference list data capture
#: (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html).
_NO_CAPTURE = {
    "serverless": "SageMaker does not capture data on serverless endpoints; use a real-time "
                  "endpoint, or remove data_capture",
    "components": "this app does not capture on components endpoints yet (their endpoint "
                  "config carries no DataCaptureConfig); remove data_capture",
}


def capture_problems(p: str, ep: Endpoint) -> list[Problem]:
    capture = ep.data_capture
    if capture is None:
        return []
    if ep.mode in _NO_CAPTURE:
        return [(f"{p}.data_capture", f"mode: {ep.mode}: {_NO_CAPTURE[ep.mode]}")]
    errors: list[Problem] = []
    if capture.own_bucket and capture.kms_key_arn is not None:
        errors.append((f"{p}.data_capture.kms_key_arn",
                       f"{capture.kms_key_arn!r} is for an s3:// destination; the stack's "
                       "capture bucket is encrypted with the config's key (or a key of its "
                       "own): remove it, or give destination: s3://<your bucket>/<prefix>/"))
    if not capture.own_bucket and "expire_after_days" in capture.model_fields_set \
            and capture.expire_after_days is not None:
        errors.append((f"{p}.data_capture.expire_after_days",
                       f"{capture.expire_after_days}: expiry applies to the stack's capture "
                       f"bucket, not to {capture.destination}; set a lifecycle rule on your "
                       "bucket, or remove it"))
    return errors
