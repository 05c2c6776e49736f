"""The permission check the end-to-end tests rely on (tests/iam_check.py): what each call
needs and how a policy's patterns match. A check that allows too much hides a missing
grant; one that allows too little fails good code."""

from __future__ import annotations

import pytest

from tests.iam_check import Call, Context, Need, allowed, denied, needs

CONTEXT = Context(account="123456789012", region="us-east-1",
                  bucket_keys={"jobs": "arn:aws:kms:us-east-1:123456789012:key/k1"})
OBJECT = "arn:aws:s3:::jobs/input/a.json"


@pytest.mark.parametrize("call,expected", [
    (Call("s3", "HeadObject", {"Bucket": "jobs", "Key": "input/a.json"}),
     [("s3:GetObject", OBJECT)]),
    (Call("s3", "HeadObject", {"Bucket": "jobs", "Key": "input/a.json", "VersionId": "v"}),
     [("s3:GetObjectVersion", OBJECT)]),
    (Call("s3", "GetObject", {"Bucket": "jobs", "Key": "input/a.json"}),
     [("s3:GetObject", OBJECT), ("kms:Decrypt", CONTEXT.bucket_keys["jobs"])]),
    (Call("s3", "CopyObject", {"Bucket": "jobs", "Key": "failed/j/a.json", "CopySource": {
        "Bucket": "jobs", "Key": "input/a.json", "VersionId": "v"}}),
     [("s3:GetObjectVersion", OBJECT), ("kms:Decrypt", CONTEXT.bucket_keys["jobs"]),
      ("s3:PutObject", "arn:aws:s3:::jobs/failed/j/a.json"),
      ("kms:GenerateDataKey", CONTEXT.bucket_keys["jobs"])]),
    (Call("s3", "CopyObject", {"Bucket": "other", "Key": "b", "CopySource":
                               "jobs/input/a%20b.json?versionId=v"}),
     [("s3:GetObjectVersion", "arn:aws:s3:::jobs/input/a b.json"),
      ("kms:Decrypt", CONTEXT.bucket_keys["jobs"]), ("s3:PutObject", "arn:aws:s3:::other/b")]),
    (Call("dynamodb", "GetItem", {"TableName": "llm-jobs", "Key": {}}),
     [("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/llm-jobs")]),
    (Call("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}]}),
     [("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t"),
      ("dynamodb:ConditionCheckItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t")]),
    (Call("sagemaker", "InvokeEndpointAsync", {"EndpointName": "LLM-Dev-Batch"}),
     [("sagemaker:InvokeEndpointAsync",
       "arn:aws:sagemaker:us-east-1:123456789012:endpoint/llm-dev-batch")]),
    (Call("sqs", "DeleteMessageBatch", {
        "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/requests"}),
     [("sqs:DeleteMessage", "arn:aws:sqs:us-east-1:123456789012:requests")]),
    (Call("sts", "GetCallerIdentity", {}), []),
], ids=lambda v: str(v) if isinstance(v, Call) else "")
def test_what_a_call_needs(call, expected):
    assert [(n.action, n.resource) for n in needs(call, CONTEXT)] == expected


def test_an_unmapped_call_is_refused_not_guessed():
    with pytest.raises(NotImplementedError, match="s3:ListObjectsV2"):
        needs(Call("s3", "ListObjectsV2", {"Bucket": "jobs"}), CONTEXT)


STATEMENTS = [{"Effect": "Allow", "Action": ["s3:GetObject*"],
               "Resource": "arn:aws:s3:::jobs/input/*"},
              {"Effect": "Allow", "Action": "DynamoDB:UpdateItem",
               "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/llm-jobs"}]


@pytest.mark.parametrize("action,resource,ok", [
    ("s3:GetObjectVersion", OBJECT, True),                      # action wildcard
    ("s3:getobject", OBJECT, True),                             # actions ignore case
    ("s3:GetObject", "arn:aws:s3:::jobs/input/deep/er.json", True),  # * crosses "/"
    ("s3:GetObject", "arn:aws:s3:::jobs/failed/a.json", False),  # another prefix
    ("s3:GetObject", "arn:aws:s3:::Jobs/input/a.json", False),   # resources keep case
    ("s3:PutObject", OBJECT, False),
    ("dynamodb:UpdateItem", "arn:aws:dynamodb:us-east-1:123456789012:table/llm-jobs", True),
    ("dynamodb:UpdateItem", "arn:aws:dynamodb:us-east-1:123456789012:table/llm-jobs2", False),
])
def test_policy_patterns(action, resource, ok):
    assert allowed(STATEMENTS, Need(action, resource, Call("s3", "x", {}))) is ok


def test_statements_it_cannot_evaluate_are_refused():
    conditional = [{**STATEMENTS[0], "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]
    with pytest.raises(NotImplementedError, match="Condition"):
        allowed(conditional, Need("s3:GetObject", OBJECT, Call("s3", "GetObject", {})))


def test_denied_lists_each_missing_permission():
    calls = [Call("s3", "GetObject", {"Bucket": "jobs", "Key": "input/a.json"})]
    assert denied(STATEMENTS, calls, CONTEXT) == [
        "s3:GetObject needs kms:Decrypt on arn:aws:kms:us-east-1:123456789012:key/k1"]
