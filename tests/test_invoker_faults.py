"""Issue 15, items 1 and 2: the invoker submits each upload exactly once whatever fails, and
its batches end before its timeout. Against moto, handlers called directly.

A crash is injected after the N-th AWS call of a submission (an exception the handler does
not catch: nothing after it runs), for each N in turn; then the world goes on: SQS gives the
message back after its visibility timeout, re-checks arrive when their delay is over, the
result notification follows every invoke SageMaker accepted, and the clock moves on until
nothing is left to do. Each run ends with one accepted InvokeEndpointAsync per upload and a
final ledger state. ``python -m tests.test_invoker_faults`` prints the fault table.
"""

from __future__ import annotations

import json
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote_plus

import boto3
import botocore.endpoint
import botocore.retries.bucket
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws
from moto.core.botocore_stubber import MockRawResponse

from llm_constructs.async_runtime import INVOKER_CODE, RECORDER_CODE
from tests.moto_runtime import create_bucket_and_ledger, load_handler


invoker_mod = load_handler("faults_invoker", INVOKER_CODE)
recorder_mod = load_handler("faults_recorder", RECORDER_CODE)

REGION, BUCKET, TABLE, ENDPOINT, INPUT = "us-east-1", "faults", "jobs", "llm-batch", "input/"
VISIBILITY = 2700           # the requests queue's, 6x the invoker's timeout
LIMITS = invoker_mod.Limits(claim_timeout=450)  # as the stack sets it
#: The same with a short request TTL and invocation timeout, so that a test waits a few
#: simulated re-checks for confirm_after, not 28 (the fault table uses LIMITS).
SHORT = LIMITS._replace(request_ttl=3600, invocation_timeout=60, delivery_margin=600)
STEP = 900                  # the simulated clock moves this much between runs
START = 1_900_000_000.0


class Crash(BaseException):
    """The function dies here (out of memory, timeout, a kill): nothing but ``finally``
    runs after it, and Lambda reports the whole batch failed."""


@dataclass
class World:
    invoker: object
    recorder: object
    queue: str
    now: float = START
    accepted: list[str] = field(default_factory=list)   # invokes SageMaker took
    sent: int = 0                                       # invokes that left the function
    calls: list[str] = field(default_factory=list)      # the invoker's AWS calls, in order
    crashes: tuple[int, ...] = ()                     # die after these calls (1-based)
    notified: int = 0

    def item(self, job: str) -> dict | None:
        """The job's ledger item (read with a client of the test's, not counted)."""
        table = boto3.resource("dynamodb").Table(TABLE)
        return table.get_item(Key={"inference_id": job}, ConsistentRead=True).get("Item")

    def upload(self, name: str) -> tuple[str, dict]:
        """Put an object; returns its job id and the S3 event message SQS would deliver."""
        s3 = boto3.client("s3")
        key = f"{INPUT}{name}"
        put = s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"inputs": "hi"}',
                            ContentType="application/json")
        body = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": BUCKET},
            "object": {"key": quote_plus(key), "versionId": put["VersionId"],
                       "eTag": put["ETag"].strip('"')}}}]}
        record = {"messageId": f"s3-{name}", "body": json.dumps(body)}
        return invoker_mod.inference_id(key, put["VersionId"]), record

    def receive(self) -> list[dict]:
        """Messages the queue holds that are due now (delayed ones wait), deleted."""
        sqs, out = boto3.client("sqs"), []
        while got := sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get(
                "Messages", []):
            for m in got:
                out.append({"messageId": m["MessageId"], "body": m["Body"]})
                sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])
        return out

    def queued(self) -> int:
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=self.queue, AttributeNames=["All"])["Attributes"]
        return sum(int(attributes[a]) for a in (
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible"))

    def run(self, records: list[dict], context=None) -> list[dict]:
        """One invocation of the function; returns the records SQS will deliver again."""
        try:
            result = self.invoker.handle({"Records": records}, context)
        except Crash:
            return records  # a function error fails the whole batch
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        return [r for r in records if r["messageId"] in failed]

    def notify_results(self) -> None:
        """SageMaker's notification for each accepted invoke, through the real recorder."""
        for job in self.accepted[self.notified:]:
            self.recorder.record({"inferenceId": job, "invocationStatus": "Completed",
                                  "responseParameters": {"outputLocation": f"s3://o/{job}.out"},
                                  "requestParameters": {"inputLocation": "s3://x/y"}})
        self.notified = len(self.accepted)

    def settle(self, records: list[dict], *, notify: bool = True, rounds: int = 60) -> None:
        """Run until no message is left, SQS's redelivery and the queue's delays included."""
        returning: list[tuple[float, dict]] = []
        for _ in range(rounds):
            due = [r for at, r in returning if at <= self.now] + records + self.receive()
            returning = [(at, r) for at, r in returning if at > self.now]
            records = []
            if due:
                returning += [(self.now + VISIBILITY, r) for r in self.run(due)]
            if notify:
                self.notify_results()
            if not returning and not self.queued():
                return
            self.now += STEP
        raise AssertionError("still busy after the simulated hours")


def _count_calls(world: World, client) -> None:
    def after(model=None, **_):
        world.calls.append(model.name)
        if len(world.calls) in world.crashes:
            raise Crash(model.name)
    client.meta.events.register("after-call", after)


def _watch_invokes(world: World, runtime) -> None:
    def before_send(request=None, **_):
        world.sent += 1
        world.accepted.append(request.headers["X-Amzn-SageMaker-Inference-Id"].decode())
    runtime.meta.events.register_first(
        "before-send.sagemaker-runtime.InvokeEndpointAsync", before_send)


@contextmanager
def backdrop(monkeypatch: pytest.MonkeyPatch):
    """moto with the bucket and the ledger, shared by the worlds made in it; SQS's delays
    and botocore's retry sleeps follow the simulated clock of the world in use."""
    import moto.sqs.models as sqs_models

    for var, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(sqs_models, "unix_time", _now)
    monkeypatch.setattr(sqs_models, "unix_time_millis", lambda: _now() * 1000)
    monkeypatch.setattr(invoker_mod, "clock", _now)
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=lambda s: None))
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire",
                        lambda self, amount=1, block=True: True)
    with mock_aws():
        create_bucket_and_ledger(boto3, bucket=BUCKET, table=TABLE)
        yield


#: The world whose clock is in use first.
CURRENT: list[World] = []


def _now() -> float:
    return CURRENT[0].now if CURRENT else START


def new_world(limits=SHORT) -> World:
    """A requests queue of its own, an invoker with its calls counted, the recorder."""
    queue = boto3.client("sqs").create_queue(QueueName=f"requests-{len(CURRENT)}")["QueueUrl"]
    invoker = invoker_mod.Invoker(endpoint_name=ENDPOINT, table_name=TABLE,
                                  input_prefix=INPUT, queue_url=queue, limits=limits)
    recorder = recorder_mod.ResultRecorder(table_name=TABLE, failed_prefix="failed/")
    world = World(invoker, recorder, queue)
    CURRENT.insert(0, world)
    for client in (invoker.s3, invoker.sqs, invoker.runtime, invoker.table.meta.client):
        _count_calls(world, client)
    _watch_invokes(world, invoker.runtime)
    return world


@pytest.fixture(scope="module")
def moto_backdrop():
    with pytest.MonkeyPatch.context() as patch, backdrop(patch):
        yield


@pytest.fixture
def world(moto_backdrop):
    return new_world()


def _respond(status: int, code: str):
    """A before-send answer: SageMaker's error response, as botocore would receive it."""
    body = json.dumps({"__type": code, "message": code}).encode()
    return lambda request=None, **_: AWSResponse(
        request.url, status, {"x-amzn-errortype": code, "content-type": "application/json"},
        MockRawResponse(body))


# -- crash after each AWS call ---------------------------------------------------------------
#: The calls of one clean submission, in order.
SUBMISSION = ["HeadObject", "PutItem", "InvokeEndpointAsync", "UpdateItem"]


def crash_scenario(world: World, *crashes: int) -> dict:
    job, record = world.upload(f"crash-{crashes}.json")
    world.crashes = crashes
    world.settle([record])
    item = world.item(job)
    names = ", then ".join(f"{world.calls[n - 1]} (call {n})" for n in crashes)
    return {"fault": f"crash after {names}", "accepted": world.accepted.count(job),
            "status": item["status"], "hours": round((world.now - START) / 3600, 1)}


def test_a_clean_submission_makes_these_calls(world):
    job, record = world.upload("clean.json")
    assert world.run([record]) == []
    assert world.calls == SUBMISSION
    item = world.item(job)
    assert item["status"] == "submitted" and "claim" not in item
    assert item["input_version"] == boto3.client("s3").head_object(
        Bucket=BUCKET, Key=f"{INPUT}clean.json")["VersionId"]


#: Crashes in the redelivery of a job whose first run died after its claim: calls 3-6 are
#: HeadObject, PutItem (refused: the stale claim), UpdateItem (-> unconfirmed), SendMessage
#: (the re-check); 7-9 the re-check's HeadObject, PutItem (refused, not due), SendMessage.
SECOND_CRASHES = [(2, 5), (2, 6), (2, 9)]


@pytest.mark.parametrize("crashes", SECOND_CRASHES)
def test_a_crash_while_confirming_still_ends_with_one_invoke(world, crashes):
    outcome = crash_scenario(world, *crashes)
    assert world.calls[crashes[1] - 1] == {5: "UpdateItem", 6: "SendMessage",
                                           9: "SendMessage"}[crashes[1]]
    assert outcome["accepted"] == 1 and outcome["status"] == "succeeded", outcome


@pytest.mark.parametrize("n", range(1, len(SUBMISSION) + 1))
def test_a_crash_after_any_call_ends_with_one_invoke_and_a_final_state(world, n):
    outcome = crash_scenario(world, n)
    assert world.calls[n - 1] == SUBMISSION[n - 1]
    assert outcome["accepted"] == 1 and outcome["status"] == "succeeded", outcome
    if n == 1:  # died before claiming: the redelivery (45 min later) submits
        assert outcome["hours"] < 1
    elif n == 2:  # claimed: whether it invoked is unknown until confirm_after
        assert outcome["hours"] >= SHORT.confirm_after(0) / 3600
    else:  # invoked; the notification, then the redelivery, find the job done
        assert world.sent == 1 and outcome["hours"] < 1


def test_a_stale_claim_is_not_invoked_again_until_confirm_after(moto_backdrop):
    """Died between claim and invoke: nobody can know it did not invoke, so the redelivery
    waits until an accepted request would have had its result, then invokes once."""
    world = new_world(LIMITS)
    job, record = world.upload("late.json")
    world.crashes = (2,)  # after PutItem: claimed, never invoked
    assert world.run([record]) == [record]
    world.now += VISIBILITY  # SQS gives it back; the claim is stale now
    assert world.run([record]) == []
    item = world.item(job)
    assert item["status"] == "unconfirmed" and world.sent == 0
    assert float(item["confirm_after"]) == LIMITS.confirm_after(float(item["claimed_at"]))
    assert float(item["confirm_after"]) - START == 450 + 21600 + 900 + 1800
    (recheck,) = [json.loads(m["body"]) for m in world.receive()] or [None]
    assert recheck is None  # delayed: not visible yet
    world.now += invoker_mod.MAX_DELAY_SECONDS
    (recheck,) = world.receive()
    assert json.loads(recheck["body"])["llm"] == "recheck"
    assert world.run([recheck]) == [] and world.sent == 0  # not due: the next one is on its way
    world.now = float(item["confirm_after"]) - 1
    world.settle([])
    assert world.accepted == [job] and world.item(job)["status"] == "succeeded"
    assert world.now >= float(item["confirm_after"])


# -- faults the function sees ----------------------------------------------------------------
def ledger_error_scenario(world: World) -> dict:
    job, record = world.upload("ledger-down.json")
    failing = world.invoker.table.meta.client

    def refuse(**_):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}},
                          "UpdateItem")
    failing.meta.events.register("before-call.dynamodb.UpdateItem", refuse,
                                 unique_id="ledger-down")
    assert world.run([record]) == []  # the upload's message is done: SageMaker has it
    failing.meta.events.unregister("before-call.dynamodb.UpdateItem", unique_id="ledger-down")
    (deferred,) = world.receive()
    assert json.loads(deferred["body"])["llm"] == "submitted"
    assert world.item(job)["status"] == "submitting"
    assert world.run([deferred]) == []
    status_before_result = world.item(job)["status"]
    world.settle([])
    return {"fault": "ledger write fails after the invoke (DynamoDB error)",
            "accepted": world.accepted.count(job), "status": world.item(job)["status"],
            "between": status_before_result, "hours": round((world.now - START) / 3600, 1)}


def test_a_ledger_error_after_the_invoke_is_recorded_later_not_retried(world):
    outcome = ledger_error_scenario(world)
    assert outcome["between"] == "submitted"
    assert outcome["accepted"] == 1 and outcome["status"] == "succeeded"


def throttled_scenario(world: World) -> dict:
    """Throttled on every attempt botocore makes: refused, released, tried again by SQS."""
    job, record = world.upload("throttled.json")
    world.invoker.runtime.meta.events.register_first(
        "before-send.sagemaker-runtime.InvokeEndpointAsync",
        _respond(400, "ThrottlingException"), unique_id="throttle")
    assert world.run([record]) == [record]
    attempts = world.sent
    assert world.item(job) is None  # released
    world.invoker.runtime.meta.events.unregister(
        "before-send.sagemaker-runtime.InvokeEndpointAsync", unique_id="throttle")
    world.accepted.clear()  # none of them reached SageMaker's queue
    world.now += VISIBILITY
    world.settle([record])
    return {"fault": "throttled on every attempt (adaptive retries used up)",
            "attempts": attempts, "accepted": world.accepted.count(job),
            "status": world.item(job)["status"], "hours": round((world.now - START) / 3600, 1)}


def test_throttling_is_retried_by_botocore_then_by_sqs(world):
    outcome = throttled_scenario(world)
    assert outcome["attempts"] == LIMITS.invoke_attempts
    assert outcome["accepted"] == 1 and outcome["status"] == "succeeded"


def test_throttling_then_success_within_one_call(world):
    answers = [_respond(400, "ThrottlingException")] * 2
    job, record = world.upload("busy.json")
    world.invoker.runtime.meta.events.register_first(
        "before-send.sagemaker-runtime.InvokeEndpointAsync",
        lambda **kw: answers.pop()(**kw) if answers else None)
    assert world.run([record]) == []
    assert world.calls.count("InvokeEndpointAsync") == 1  # one call, three attempts
    assert world.sent == 3 and world.item(job)["status"] == "submitted"


def unknown_outcome_scenario(world: World, *, accepted: bool, status: int | None) -> dict:
    """The invoke's answer is lost: a read timeout (``status`` None) or a 5xx. SageMaker
    took it or not (``accepted``); the function cannot know which."""
    job, record = world.upload(f"unknown-{accepted}-{status}.json")

    def lose_answer(request=None, **kw):
        if not accepted:
            world.accepted.pop()
        if status is None:
            raise ReadTimeoutError(endpoint_url=request.url)
        return _respond(status, "InternalFailure")(request=request)
    world.invoker.runtime.meta.events.register(
        "before-send.sagemaker-runtime.InvokeEndpointAsync", lose_answer, unique_id="lose")
    assert world.run([record]) == []
    world.invoker.runtime.meta.events.unregister(
        "before-send.sagemaker-runtime.InvokeEndpointAsync", unique_id="lose")
    sends_at_fault = world.sent
    between = world.item(job)["status"]
    world.settle([])
    what = "read timeout" if status is None else f"HTTP {status}"
    return {"fault": f"invoke {what}, {'accepted' if accepted else 'not accepted'} by SageMaker",
            "sends_at_fault": sends_at_fault, "between": between,
            "accepted": world.accepted.count(job), "status": world.item(job)["status"],
            "hours": round((world.now - START) / 3600, 1)}


def test_an_invoke_that_was_never_accepted_is_made_once_after_confirm_after(world):
    outcome = unknown_outcome_scenario(world, accepted=False, status=None)
    assert outcome["sends_at_fault"] == 1  # botocore did not retry it blind
    assert outcome["between"] == "unconfirmed"
    assert outcome["accepted"] == 1 and outcome["status"] == "succeeded"
    assert outcome["hours"] >= SHORT.confirm_after(0) / 3600


def test_a_5xx_is_not_retried_blind(world):
    outcome = unknown_outcome_scenario(world, accepted=False, status=500)
    assert outcome["sends_at_fault"] == 1 and outcome["between"] == "unconfirmed"
    assert outcome["accepted"] == 1 and outcome["status"] == "succeeded"


def test_the_retry_hook_never_answers_anything_but_none():
    """botocore before 1.43.3 sleeps for any non-None answer of a needs-retry hook and then
    retries (False: at once, forever); the Lambda runtime's botocore may be that old. So
    the hook either lets botocore decide (None) or raises the failure itself."""
    hook = invoker_mod.no_blind_retry
    timeout = ReadTimeoutError(endpoint_url="https://runtime.sagemaker")
    with pytest.raises(ReadTimeoutError):
        hook(caught_exception=timeout)
    server_error = types.SimpleNamespace(status_code=500)
    parsed = {"Error": {"Code": "InternalFailure", "Message": "boom"},
              "ResponseMetadata": {"HTTPStatusCode": 500}}
    with pytest.raises(ClientError, match="InternalFailure"):
        hook(response=(server_error, parsed))
    throttled = {"Error": {"Code": "ThrottlingException"},
                 "ResponseMetadata": {"HTTPStatusCode": 400}}
    assert hook(response=(types.SimpleNamespace(status_code=400), throttled)) is None
    assert hook(caught_exception=ClientError(throttled, "InvokeEndpointAsync")) is None
    assert hook(response=(types.SimpleNamespace(status_code=200), {})) is None


def test_an_accepted_invoke_whose_answer_was_lost_runs_once(world):
    outcome = unknown_outcome_scenario(world, accepted=True, status=None)
    assert outcome["between"] == "unconfirmed"
    assert outcome["accepted"] == 1 and outcome["status"] == "succeeded"


def test_a_refused_invoke_releases_the_claim(world):
    job, record = world.upload("refused.json")
    world.invoker.runtime.meta.events.register_first(
        "before-send.sagemaker-runtime.InvokeEndpointAsync", _respond(400, "ValidationError"))
    assert world.run([record]) == [record]
    assert world.sent == 1 and world.item(job) is None


# -- deadlines -------------------------------------------------------------------------------
class Context:
    """Lambda's context: ``left`` seconds remain, minus ``spend`` per call."""

    def __init__(self, left: float, spend: float = 0):
        self.left, self.spend = left, spend

    def get_remaining_time_in_millis(self) -> int:
        left, self.left = self.left, self.left - self.spend
        return int(left * 1000)


def test_untried_messages_go_back_to_the_queue_and_count_as_done(world):
    records = [world.upload(f"late-{i}.json")[1] for i in range(3)]
    assert world.run(records, Context(LIMITS.reserve - 1)) == []
    assert world.calls == ["SendMessageBatch"]
    assert sorted(m["body"] for m in world.receive()) == sorted(r["body"] for r in records)


def test_tried_and_throttled_fail_the_rest_go_back(world):
    records = [world.upload(f"batch-{i}.json")[1] for i in range(3)]
    world.invoker.runtime.meta.events.register_first(
        "before-send.sagemaker-runtime.InvokeEndpointAsync", _respond(400, "ThrottlingException"))
    # time for the first message only
    assert world.run(records, Context(LIMITS.reserve + 1, spend=LIMITS.message)) == records[:1]
    assert sorted(m["body"] for m in world.receive()) == sorted(r["body"] for r in records[1:])


def test_no_time_and_no_queue_fails_the_untried_instead_of_losing_them(world):
    records = [world.upload("nowhere.json")[1]]
    world.invoker.queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/gone"
    assert world.run(records, Context(1)) == records


def test_the_worst_case_per_message_is_what_the_settings_allow():
    # 2 attempts x (1 s connect + 2 s read) + one retry's longest sleep (1 s + 5 s)
    assert LIMITS.aws_call == 12
    # 3 attempts x (1 + 5 + 2 s rate-limit wait) + sleeps (1 + 5) + (2 + 5)
    assert LIMITS.invoke_call == 37
    assert LIMITS.message == 4 * 12 + 37 and LIMITS.reserve == LIMITS.message + 12


def test_botocore_timings_are_the_installed_botocores():
    from botocore.retries import bucket, standard

    backoff = standard.ExponentialBackoff
    assert backoff._MAX_BACKOFF == invoker_mod.MAX_BACKOFF
    assert backoff._RETRY_AFTER_MAX_ADDITIONAL == invoker_mod.RETRY_AFTER_EXTRA
    assert backoff._BASE == 2 and backoff._DEFAULT_BACKOFF_CONFIG["throttling_base_scale"] == 1
    assert bucket.TokenBucket._MIN_RATE == invoker_mod.MIN_ADAPTIVE_RATE


def test_every_invoke_sends_the_ttl_and_timeout(world):
    seen = {}
    world.invoker.runtime.meta.events.register(
        "before-send.sagemaker-runtime.InvokeEndpointAsync",
        lambda request=None, **_: seen.update(request.headers))
    _, record = world.upload("headers.json")
    world.run([record])
    assert seen["X-Amzn-SageMaker-RequestTTLSeconds"] == str(SHORT.request_ttl).encode()
    assert seen["X-Amzn-SageMaker-InvocationTimeoutSeconds"] == b"60"
    assert (LIMITS.request_ttl, LIMITS.invocation_timeout) == (21600, 900)  # SageMaker's


# -- the stack -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def batch() -> dict:
    from tests.helpers import synthesize

    return synthesize("dev").endpoint("batch")


def _invoker(template: dict) -> dict:
    from tests.helpers import resources

    (fn,) = [f for k, f in resources(template, "AWS::Lambda::Function").items()
             if k.startswith("RuntimeInvoker")]
    return fn["Properties"]


def test_a_full_batch_fits_the_function_timeout(batch, monkeypatch):
    from tests.helpers import resources

    fn = _invoker(batch)
    env = fn["Environment"]["Variables"]
    for name in ("REQUEST_TTL_SECONDS", "INVOCATION_TIMEOUT_SECONDS", "CLAIM_TIMEOUT_SECONDS"):
        monkeypatch.setenv(name, env[name])
    limits = invoker_mod.limits_from_environment()
    (mapping,) = [m for m in resources(batch, "AWS::Lambda::EventSourceMapping").values()
                  if "RuntimeInvoker" in json.dumps(m["Properties"]["FunctionName"])]
    size, timeout = mapping["Properties"]["BatchSize"], fn["Timeout"]
    assert size * limits.message + limits.aws_call <= timeout, (size, limits.message, timeout)
    assert limits.claim_timeout >= timeout
    assert (limits.request_ttl, limits.invocation_timeout) == (21600, 900)
    (queue,) = [q for k, q in resources(batch, "AWS::SQS::Queue").items()
                if k.startswith("RuntimeRequests") and "Dlq" not in k]
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout
    assert env["REQUESTS_QUEUE_URL"] == {"Ref": next(
        k for k in resources(batch, "AWS::SQS::Queue") if k.startswith("RuntimeRequests")
        and "Dlq" not in k)}


def test_the_invoker_may_send_to_its_own_queue_only(batch):
    from tests.helpers import as_list, resources, statements

    sends = [s for s in statements(batch, "RuntimeInvokerRole")
             if any(a.startswith("sqs:") for a in as_list(s["Action"]))]
    (queue_id,) = [k for k in resources(batch, "AWS::SQS::Queue")
                   if k.startswith("RuntimeRequests") and "Dlq" not in k]
    (statement,) = sends  # CDK merges it with what the event source needs to consume
    assert set(statement["Action"]) == {"sqs:SendMessage", "sqs:ReceiveMessage",
                                        "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                        "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    assert statement["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_ttl_and_timeout_outside_botocores_ranges_are_refused():
    import aws_cdk as cdk

    from llm_constructs.async_runtime.infrastructure import _invoke_limits

    assert _invoke_limits(cdk.Duration.minutes(1), cdk.Duration.hours(1)) == {
        "REQUEST_TTL_SECONDS": "60", "INVOCATION_TIMEOUT_SECONDS": "3600"}
    with pytest.raises(ValueError, match=r"RequestTTLSeconds .* 60 to 21600 seconds"):
        _invoke_limits(cdk.Duration.hours(7), cdk.Duration.minutes(15))
    with pytest.raises(ValueError, match=r"InvocationTimeoutSeconds .* 1 to 3600"):
        _invoke_limits(cdk.Duration.hours(1), cdk.Duration.hours(2))


# -- the fault table -------------------------------------------------------------------------
def fault_table() -> str:
    """Every scenario above, one row each (``python -m tests.test_invoker_faults``)."""
    scenarios = [*(lambda w, n=n: crash_scenario(w, n) for n in range(1, len(SUBMISSION) + 1)),
                 *(lambda w, c=c: crash_scenario(w, *c) for c in SECOND_CRASHES),
                 ledger_error_scenario, throttled_scenario,
                 lambda w: unknown_outcome_scenario(w, accepted=False, status=None),
                 lambda w: unknown_outcome_scenario(w, accepted=False, status=500),
                 lambda w: unknown_outcome_scenario(w, accepted=True, status=None)]
    rows = ["| fault | invokes accepted | ledger in between | final | simulated time |",
            "| --- | --- | --- | --- | --- |"]
    for scenario in scenarios:
        with pytest.MonkeyPatch.context() as patch, backdrop(patch):
            try:
                o = scenario(new_world(LIMITS))
            except AssertionError as exc:
                o = {"fault": getattr(scenario, "__name__", "?"), "status": f"FAILED: {exc}"}
        rows.append(f"| {o['fault']} | {o.get('accepted', '?')} | {o.get('between', '-')} "
                    f"| {o['status']} | {o.get('hours', '?')} h |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(fault_table())
