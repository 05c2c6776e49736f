"""Issue 14: one parser for ARNs and S3 URIs, checked against the stack's environment."""

from __future__ import annotations

import pytest

from config.arns import BUCKET_NAME_RE, check_bucket_name, parse_arn, parse_s3_uri
from tests.helpers import dev_with, problems, synthesize_data

EP = "endpoints[0] (chat)"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"
ROLE = "arn:aws:iam::123456789012:role/caller"


def test_bucket_names_follow_cfn_lints_format():
    """The pattern is cfn-lint's own (E1161, AWS::S3::Bucket.Name), not ours."""
    from cfnlint.rules.formats.S3BucketName import S3BucketName

    assert BUCKET_NAME_RE.pattern == S3BucketName().pattern


@pytest.mark.parametrize("name", ["ab", "My-Bucket", "my..bucket", "-abc", "abc-", "a.-b",
                                  "x" * 64])
def test_bucket_names_that_cannot_exist(name):
    with pytest.raises(ValueError, match="cannot be an S3 bucket name"):
        check_bucket_name(name)


def test_s3_uris_split_into_a_checked_bucket_and_a_key():
    assert parse_s3_uri("s3://models.example/qwen/") == ("models.example", "qwen/")
    with pytest.raises(ValueError, match="is not an S3 URI"):
        parse_s3_uri("https://bucket/key")


@pytest.mark.parametrize("text,kwargs,fragment", [
    ("arn:aws:sns:us-east-1:123456789012", {"service": "sns", "resource": ""}, "is not an ARN"),
    ("arn:awz:sns:us-east-1:123456789012:t", {"service": "sns", "resource": ""},
     "partition 'awz' is not one of aws, "),
    ("arn:aws:sns:cn-north-1:123456789012:t", {"service": "sns", "resource": ""},
     "region cn-north-1 is in partition aws-cn, not aws"),
    ("arn:aws:sqs:us-east-1:123456789012:t", {"service": "sns", "resource": ""},
     "is not an ARN of sns"),
    ("arn:aws:sns:us-east-1:12345:t", {"service": "sns", "resource": ""}, "12 digits"),
    ("arn:aws:iam:us-east-1:123456789012:role/r",
     {"service": "iam", "resource": "role/", "regional": False},
     "an ARN of iam has no region (it is global)"),
    ("arn:aws:kms:us-east-1:123456789012:alias/k", {"service": "kms", "resource": "key/"},
     "is not an ARN of kms key/"),
])
def test_arns_are_parsed_against_botocores_partitions(text, kwargs, fragment):
    with pytest.raises(ValueError) as info:
        parse_arn(text, **kwargs)
    assert fragment in str(info.value)


def test_a_fixed_region_needs_arns_of_its_region_and_partition():
    found = problems(dev_with(**{"deployment.region": "eu-west-1",
                                 "endpoints.0.alarms": {"topic_arn": TOPIC},
                                 "endpoints.0.invoke_principals": [
                                     "arn:aws-us-gov:iam::123456789012:role/r"]}))
    assert "is in us-east-1; the stack deploys to eu-west-1" in found[f"{EP}.alarms.topic_arn"]
    assert "partition aws-us-gov; eu-west-1 is in aws" in found[f"{EP}.invoke_principals[0]"]


def test_an_environment_agnostic_stack_gets_a_rule_per_arn():
    synth = synthesize_data(dev_with(**{"endpoints.0.alarms": {"topic_arn": TOPIC},
                                        "endpoints.0.invoke_principals": [ROLE]}),
                            nag=False, validation=False)
    rules = synth.endpoint("chat")["Rules"]
    topic = rules["ArnInAlarmsTopicArn"]["Assertions"][0]
    assert topic["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert TOPIC in topic["AssertDescription"]
    role = rules["ArnInInvokePrincipals0"]["Assertions"][0]
    assert role["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws"]}
