"""One parser for the ARNs and S3 URIs a config names.

An ARN is ``arn:<partition>:<service>:<region>:<account>:<resource>``. The partitions and
which regions belong to each are botocore's (``partitions.json``, through
``llm_constructs.partitions``); a bucket name follows cfn-lint's ``AWS::S3::Bucket.Name``
format (``cfnlint/rules/formats/S3BucketName.py`` of the pinned cfn-lint, 1.58.0;
``tests/test_arns.py`` compares the two). Whether an ARN's region and partition are the
stack's is a rule (``config/rules/arns.py``) or, for an environment-agnostic stack, a
``CfnRule`` (``stacks/translate.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.text import show
from llm_constructs.partitions import partition_ids, partition_of

#: cfn-lint 1.58.0 ``S3BucketName`` (E1161): 3-63 of a-z, 0-9, '.', '-'; no '.' or '-' at
#: either end; no '..', '-.' or '.-'.
BUCKET_NAME_RE = re.compile(
    r"^(?![.\-])(?!.*\.\.)(?!.*\-\.)(?!.*\.\-)[a-z0-9.\-]{3,63}(?<![.\-])$")
_ARN_RE = re.compile(r"^arn:(?P<partition>[^:]+):(?P<service>[^:]+):(?P<region>[^:]*):"
                     r"(?P<account>[^:]*):(?P<resource>.+)$")


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str  #: empty for a global service (IAM)
    account: str
    resource: str

    def __str__(self) -> str:
        return ":".join(("arn", self.partition, self.service, self.region, self.account,
                         self.resource))


def parse_arn(text: str, *, service: str, resource: str, regional: bool = True) -> Arn:
    """``text`` as an ARN of ``service`` whose resource starts with ``resource``
    (``role/``, ``key/``...); ValueError naming what is wrong."""
    match = _ARN_RE.match(text)
    if match is None:
        raise ValueError(f"{show(text)} is not an ARN "
                         f"(arn:<partition>:{service}:<region>:<account>:{resource}...)")
    arn = Arn(**match.groupdict())
    if arn.partition not in partition_ids():
        raise ValueError(f"{show(text)}: partition {arn.partition!r} is not one of "
                         f"{', '.join(partition_ids())}")
    if arn.service != service or not arn.resource.startswith(resource):
        raise ValueError(f"{show(text)} is not an ARN of {service} {resource}...")
    if not re.fullmatch(r"\d{12}", arn.account):
        raise ValueError(f"{show(text)}: the account must be 12 digits")
    if regional != bool(arn.region):
        raise ValueError(f"{show(text)}: an ARN of {service} "
                         f"{'names a region' if regional else 'has no region (it is global)'}")
    if regional and partition_of(arn.region).name != arn.partition:
        raise ValueError(f"{show(text)}: region {arn.region} is in partition "
                         f"{partition_of(arn.region).name}, not {arn.partition}")
    return arn


def parse_kms_key_arn(text: str) -> Arn:
    """``text`` as the ARN of a KMS key (``...:key/<id>``, a regional one)."""
    return parse_arn(text, service="kms", resource="key/")


def check_kms_key_arn(text: str | None) -> str | None:
    """A field validator's body: a KMS key ARN, or None; ValueError naming what is wrong."""
    if text is not None:
        parse_kms_key_arn(text)
    return text


def split_s3_uri(text: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``, unchecked (``parse_s3_uri`` checks)."""
    bucket, _, key = text.removeprefix("s3://").partition("/")
    return bucket, key


def parse_s3_uri(text: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; ValueError naming what is wrong."""
    if not text.startswith("s3://"):
        raise ValueError(f"{show(text)} is not an S3 URI (s3://bucket/key)")
    bucket, key = split_s3_uri(text)
    check_bucket_name(bucket)
    return bucket, key


def check_bucket_name(bucket: str) -> str:
    if not BUCKET_NAME_RE.match(bucket):
        raise ValueError(f"{show(bucket)} cannot be an S3 bucket name: 3-63 lower-case "
                         "letters, digits, '.' and '-', starting and ending with a letter or "
                         "digit, no '..', '.-' or '-.'")
    return bucket
