"""Issue 15 (item 5): llm-client as a user meets it. Every failure is one line
on stderr with the fix and a documented exit code; never a traceback; help everywhere."""

from __future__ import annotations

import argparse
import functools
import io
import json
import threading
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import llm_client.__main__ as cli
import llm_client.client
import llm_client.waiting
from tests.moto_runtime import create_runtime_resources, load_handler, with_version_id


@pytest.fixture
def no_aws_config(monkeypatch, tmp_path):
    """No region, no credentials, no instance metadata: a laptop without AWS set up."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    boto3.DEFAULT_SESSION = None


def last_line(capsys) -> str:
    """The last line on stderr (after the progress of a wait)."""
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return captured.err.strip().splitlines()[-1]


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert "Traceback" not in captured.err + captured.out
    assert len(lines) == 1, captured.err
    return lines[0]


def test_no_region_says_how_to_give_one(no_aws_config, capsys):
    assert cli.main(["--stack", "s", "status", "x"]) == cli.PROBLEM
    assert one_line_error(capsys) == ("no AWS region: pass --region or set AWS_REGION "
                                      "(or a region in your profile)")


def test_no_credentials_says_how_to_get_them(no_aws_config, capsys):
    assert cli.main(["--region", "eu-west-1", "--stack", "s", "status", "x"]) == cli.PROBLEM
    assert one_line_error(capsys).startswith("no AWS credentials: pass --profile")


def test_an_unknown_profile_is_named(no_aws_config, capsys):
    assert cli.main(["--profile", "nope", "--stack", "s", "status", "x"]) == cli.PROBLEM
    assert "nope" in one_line_error(capsys)


def test_a_wrong_stack_name_names_the_stack_and_the_region(monkeypatch, capsys):
    def missing(cls, name, session=None):  # what DescribeStacks answers for an unknown stack
        raise ClientError({"Error": {"Code": "ValidationError",
                                     "Message": f"Stack with id {name} does not exist"}},
                          "DescribeStacks")
    monkeypatch.setattr(cli.AsyncEndpoint, "from_stack", classmethod(missing))
    assert cli.main(["--region", "eu-west-1", "--stack", "nope", "status", "x"]) == cli.PROBLEM
    assert one_line_error(capsys) == ("no stack 'nope' in eu-west-1: check --stack and "
                                      "--region (npx cdk list shows the stack names)")


@pytest.mark.parametrize("wait", [[], ["--wait"]])
def test_a_missing_file_is_one_line(monkeypatch, capsys, tmp_path, wait):
    endpoint = cli.AsyncEndpoint("e", "s3://b/input/", "t", "arn:s", "arn:e")
    monkeypatch.setattr(cli.AsyncEndpoint, "from_stack",
                        classmethod(lambda cls, name, session=None: endpoint))
    monkeypatch.setattr(llm_client.client, "Watch", _NoWatch)
    _NoWatch.opened = 0
    missing = tmp_path / "request.json"
    assert cli.main(["--stack", "s", "submit", str(missing), *wait]) == cli.PROBLEM
    assert str(missing) in one_line_error(capsys)
    assert _NoWatch.opened == 0  # the file is read before any queue is made


def test_ctrl_c_is_exit_code_130_and_one_line(monkeypatch, capsys):
    def interrupted(cls, name, session=None):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli.AsyncEndpoint, "from_stack", classmethod(interrupted))
    assert cli.main(["--stack", "s", "status", "x"]) == cli.INTERRUPTED
    assert one_line_error(capsys) == "interrupted"


def test_every_subcommand_and_option_has_help():
    def actions(p: argparse.ArgumentParser):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                yield from action._choices_actions
                for sub in action.choices.values():
                    yield from actions(sub)
            elif not isinstance(action, argparse._HelpAction):
                yield action
    missing = [a.dest for a in actions(cli.parser()) if not a.help]
    assert missing == []


class _NoWatch:
    """A watch that only counts what is open (the real one makes an SQS queue)."""

    open_now = opened = 0

    def __init__(self) -> None:
        type(self).open_now += 1
        type(self).opened += 1

    @classmethod
    def open(cls, endpoint, body_filter):
        return cls()

    def close(self) -> None:
        type(self).open_now -= 1


# -- against the runtime (moto): results, the ledger fallback, no queue left behind -----------
REGION, BUCKET, TABLE, ENDPOINT = "us-east-1", "client-async", "client-jobs", "client-ep"
INPUT, FAILED = "input/", "failed/"


class Runtime:
    """The deployed runtime in-process: S3 events on the requests queue, the invoker and
    recorder handlers, and SageMaker's part (an output object per job, then its
    notification). A request whose body contains ``fail`` fails. With ``notify=False`` the
    notification reaches the runtime's own subscription only, as when a client's fresh
    filter policy is not yet in effect. ``run()`` does one round; ``start()`` runs rounds in
    a thread until the test ends."""

    def __init__(self) -> None:
        from llm_constructs.async_runtime import INVOKER_CODE, RECORDER_CODE
        made = create_runtime_resources(boto3, bucket=BUCKET, table=TABLE, input_prefix=INPUT)
        self.s3, self.sqs, self.sns = made.s3, made.sqs, made.sns
        self.requests, self.results, self.topics = made.requests, made.results, made.topics
        self.invoker = load_handler("client_invoker", INVOKER_CODE).Invoker(
            endpoint_name=ENDPOINT, table_name=TABLE, input_prefix=INPUT)
        self.recorder = load_handler("client_recorder", RECORDER_CODE).ResultRecorder(
            table_name=TABLE, failed_prefix=FAILED)
        self.endpoint = cli.AsyncEndpoint(ENDPOINT, f"s3://{BUCKET}/{INPUT}", TABLE,
                                          self.topics["success"], self.topics["error"])
        self.notify, self.answered = True, set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _drain(self, url: str) -> list[dict]:
        records = []
        while got := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []):
            for m in got:
                records.append({"messageId": m["MessageId"], "body": m["Body"]})
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return records

    def run(self) -> None:
        self.invoker.handle({"Records": self._drain(self.requests)})
        for item in boto3.client("dynamodb").scan(TableName=TABLE)["Items"]:
            job = item["inference_id"]["S"]
            if item["status"]["S"] == "submitted" and "input_location" in item and \
                    job not in self.answered:
                self.answered.add(job)
                self.answer(job, item["input_location"]["S"])
        self.recorder.handle({"Records": self._drain(self.results)})

    def answer(self, job: str, input_location: str) -> None:
        """SageMaker's part: the output, then the notification."""
        request = self.s3.get_object(Bucket=BUCKET, Key=input_location.split("/", 3)[3])
        body = request["Body"].read()
        ok = b"fail" not in body
        output = f"s3://{BUCKET}/output/{job}.out"
        if ok:
            self.s3.put_object(Bucket=BUCKET, Key=f"output/{job}.out", Body=b"out:" + body)
        note = {"invocationStatus": "Completed" if ok else "Failed", "inferenceId": job,
                "requestParameters": {"inputLocation": input_location,
                                      "endpointName": ENDPOINT},
                "responseParameters": {"outputLocation": output} if ok else {},
                "eventName": "InferenceResult", "eventTime": "2026-11-23T10:00:01.000Z"}
        if not ok:
            note["failureReason"] = "ClientError: the model says no"
        if self.notify:
            self.sns.publish(TopicArn=self.topics["success" if ok else "error"],
                             Message=json.dumps(note))
        else:
            self.recorder.record(note)

    def start(self, every: float = 0.1) -> None:
        stop = self._stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                self.run()
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def leftovers(self) -> tuple[list[str], list[str]]:
        """Queues and subscriptions a client made (named ``<endpoint>-wait-…``) still there."""
        queues = [u for u in self.sqs.list_queues().get("QueueUrls", []) if "-wait-" in u]
        subscriptions = [s["SubscriptionArn"] for s in self.sns.list_subscriptions()[
            "Subscriptions"] if "-wait-" in s["Endpoint"]]
        return queues, subscriptions


@functools.cache
def _shared_session() -> boto3.Session:
    """One session for every test here: it keeps the service models it has loaded (a new
    session reads them from disk again, about 0.05 s a client)."""
    return boto3.Session(region_name=REGION, aws_access_key_id="testing",
                         aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def _world():
    """One moto account per test module (about 0.3 CPU s to set up); each test leaves no
    queue of its own behind (``run_cli`` checks), and finds its jobs by id."""
    from moto.s3 import notifications
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        patch.setattr(notifications, "_get_s3_event",
                      with_version_id(notifications._get_s3_event))
        for var, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            patch.setenv(var, value)
        boto3.DEFAULT_SESSION = _shared_session()  # mock_aws puts the one before back
        yield Runtime()


@pytest.fixture
def runtime(_world, monkeypatch):
    """The module's runtime, stopped, notifying, and what ``--stack`` finds."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", _shared_session())
    monkeypatch.setattr(cli.AsyncEndpoint, "from_stack",
                        classmethod(lambda cls, name, session=None: _world.endpoint))
    _world.notify = True
    yield _world
    _world.stop()


def run_cli(runtime: Runtime, *argv: str) -> int:
    """The command's exit code, after checking it left no queue or subscription behind."""
    code = cli.main(["--stack", "s", *argv])
    assert runtime.leftovers() == ([], [])
    return code


def submitted(runtime: Runtime, capsys, body: bytes = b'{"inputs": "hi"}') -> str:
    """A job the runtime has submitted (not answered: the runtime thread is not running)."""
    key = f"{INPUT}r-{uuid.uuid4().hex}.json"
    put = runtime.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    runtime.invoker.handle({"Records": runtime._drain(runtime.requests)})
    capsys.readouterr()
    return llm_client.inference_id(key, put["VersionId"])


def _ids(stderr: str) -> list[str]:
    """The job ids a wait printed (``job <id>``)."""
    return [line.split()[1] for line in stderr.splitlines() if line.startswith("job ")]


def test_submit_without_wait_creates_no_queue(runtime, capsys, monkeypatch):
    made = []
    sqs = runtime.endpoint.client("sqs")
    monkeypatch.setattr(sqs, "create_queue", lambda **kw: made.append(kw))
    assert run_cli(runtime, "submit", "--prompt", "hi") == cli.DONE
    assert len(capsys.readouterr().out.strip()) == 48 and made == []


def test_submit_and_wait_prints_the_output(runtime, capsys):
    runtime.start()
    assert run_cli(runtime, "submit", "--prompt", "hi", "--wait", "--timeout", "20") == cli.DONE
    assert capsys.readouterr().out.startswith('out:{"inputs": "hi"')


def test_a_failed_job_is_exit_code_2(runtime, capsys, tmp_path):
    request = tmp_path / "r.json"
    request.write_bytes(b'{"inputs": "fail please"}')
    runtime.start()
    assert run_cli(runtime, "submit", str(request), "--wait", "--timeout", "20") == \
        cli.JOB_FAILED
    assert last_line(capsys).endswith("failed: ClientError: the model says no")


def test_a_timeout_is_exit_code_3_and_the_last_second_does_not_busy_poll(runtime, capsys,
                                                                         monkeypatch):
    job = submitted(runtime, capsys)
    polls = []
    receive = llm_client.waiting.Watch.receive
    monkeypatch.setattr(llm_client.waiting.Watch, "receive",
                        lambda self, wait: polls.append(wait) or receive(self, wait))
    assert run_cli(runtime, "wait", job, "--timeout", "1.5") == cli.TIMED_OUT
    assert last_line(capsys) == f"job {job}: no result after 1.5 s (it is submitted)"
    assert polls == [2]  # one long poll to (just past) the deadline, then a last ledger read


def test_an_unknown_job_fails_at_once_without_a_queue(runtime, capsys):
    assert run_cli(runtime, "wait", "nope", "--timeout", "30") == cli.PROBLEM
    assert one_line_error(capsys).startswith("no job nope in the ledger client-jobs")


def test_a_failed_copy_on_replay_leaves_no_queue(runtime, capsys, monkeypatch):
    runtime.start()
    assert run_cli(runtime, "submit", "--prompt", "fail", "--wait", "--timeout", "20") == \
        cli.JOB_FAILED
    runtime.stop()
    job = _ids(capsys.readouterr().err)[-1]

    def denied(**kw):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "CopyObject")
    monkeypatch.setattr(runtime.endpoint.client("s3"), "copy_object", denied)
    assert run_cli(runtime, "replay", job, "--wait") == cli.PROBLEM
    assert "AccessDenied" in one_line_error(capsys)


def test_a_refused_subscription_removes_the_queue_and_the_other_subscription(
        runtime, capsys, monkeypatch):
    """SNS allows 200 filter policies per topic by default: the 201st wait's Subscribe
    fails. What was made for it goes."""
    job = submitted(runtime, capsys)
    sns = runtime.endpoint.client("sns")
    real, made = sns.subscribe, []

    def second_refused(**kw):
        if made:
            raise ClientError({"Error": {"Code": "FilterPolicyLimitExceeded",
                                         "Message": "too many"}}, "Subscribe")
        made.append(kw)
        return real(**kw)
    monkeypatch.setattr(sns, "subscribe", second_refused)
    assert run_cli(runtime, "wait", job) == cli.PROBLEM
    assert "FilterPolicyLimitExceeded" in last_line(capsys)


def test_ctrl_c_during_the_wait_removes_the_queue(runtime, capsys, monkeypatch):
    job = submitted(runtime, capsys)

    def interrupted(self, wait):
        raise KeyboardInterrupt
    monkeypatch.setattr(llm_client.waiting.Watch, "receive", interrupted)
    assert run_cli(runtime, "wait", job) == cli.INTERRUPTED
    assert run_cli(runtime, "submit", "--prompt", "hi", "--wait") == cli.INTERRUPTED


def test_a_missed_notification_is_seen_from_the_ledger_within_the_bound(runtime, capsys):
    """No notification reaches the client's queue (a fresh filter policy not yet in effect):
    the ledger read between long polls sees the result at most ``check_every`` seconds
    (plus the poll's whole-second rounding) after the runtime recorded it."""
    runtime.notify = False
    job = runtime.endpoint.job(submitted(runtime, capsys))
    recorded = []
    timer = threading.Timer(0.5, lambda: (runtime.run(), recorded.append(time.monotonic())))
    timer.start()
    assert job.result(timeout=20, check_every=2) == b'out:{"inputs": "hi"}'
    seen_after = time.monotonic() - recorded[0]
    assert 0 < seen_after <= 2 + 1
    assert runtime.leftovers() == ([], [])


def test_the_command_line_falls_back_to_the_ledger_too(runtime, capsys):
    runtime.notify = False
    runtime.start()
    assert run_cli(runtime, "submit", "--prompt", "hi", "--wait", "--check-every", "1",
                   "--timeout", "20") == cli.DONE
    assert capsys.readouterr().out.startswith('out:{"inputs": "hi"')


def test_the_slices_of_a_wait():
    slice_ = llm_client.waiting.Waiter._slice
    assert slice_(0, 5, None) == 5          # up to the next ledger read
    assert slice_(0, 5, 2.5) == 3           # the deadline first, rounded up to a whole second
    assert slice_(0, 5, 0.2) == 1           # never a zero-second (busy) poll
    assert slice_(0, 60, None) == 20        # SQS's longest poll


# -- inference components --------------------------------------------------------------------
COMPONENTS_STACK = {"EndpointName": "llm-seed-ic-llama3", "Mode": "components",
                    "CNaverNewsComponentName": "llm-seed-ic-llama3-naver-news"}


@pytest.fixture
def invoked(monkeypatch):
    sent: list[dict] = []

    class SageMakerRuntime:
        def invoke_endpoint(self, **kw):
            sent.append(kw)
            return {"Body": io.BytesIO(b'[{"generated_text": "ok"}]')}

    monkeypatch.setattr(cli.RealtimeEndpoint, "_runtime", lambda self: SageMakerRuntime())
    return sent


def _stack(monkeypatch, outputs: dict) -> None:
    monkeypatch.setattr(cli, "stack_outputs", lambda name, session=None: outputs)


@pytest.mark.parametrize("given", [[], ["--component", "naver-news"],
                                   ["--component", "llm-seed-ic-llama3-naver-news"]])
def test_invoke_names_the_inference_component(monkeypatch, invoked, capsys, given):
    _stack(monkeypatch, COMPONENTS_STACK)
    assert cli.main(["--stack", "s", "invoke", "--prompt", "hi", *given]) == cli.DONE
    assert invoked[0]["EndpointName"] == "llm-seed-ic-llama3"
    assert invoked[0]["InferenceComponentName"] == "llm-seed-ic-llama3-naver-news"


def test_an_unknown_component_lists_the_known_ones(monkeypatch, invoked, capsys):
    _stack(monkeypatch, {**COMPONENTS_STACK, "CSecondComponentName": "llm-seed-ic-llama3-second"})
    assert cli.main(["--stack", "s", "invoke", "--prompt", "hi"]) == cli.PROBLEM
    assert one_line_error(capsys) == ("stack s serves 2 inference components: pass "
                                      "--component (naver-news, second)")
    assert cli.main(["--stack", "s", "invoke", "--prompt", "hi", "--component", "x"]) == \
        cli.PROBLEM
    assert one_line_error(capsys) == ("stack s has no inference component 'x' "
                                      "(naver-news, second)")
    assert invoked == []


def test_a_plain_endpoint_takes_no_component(monkeypatch, invoked, capsys):
    _stack(monkeypatch, {"EndpointName": "llm-dev-chat", "Mode": "realtime"})
    assert cli.main(["--stack", "s", "invoke", "--prompt", "hi"]) == cli.DONE
    assert "InferenceComponentName" not in invoked[0]
    assert cli.main(["--stack", "s", "invoke", "--prompt", "hi", "--component", "a"]) == \
        cli.PROBLEM
    assert "none: its endpoint has no inference components" in one_line_error(capsys)


def test_the_components_stack_outputs_what_the_client_reads():
    from tests.helpers import synthesize
    outputs = synthesize("seed-components").endpoint("llama3")["Outputs"]
    literal = {k: o["Value"] for k, o in outputs.items() if isinstance(o["Value"], str)}
    assert llm_client.client.component_names(literal) == {
        "naver-news": "llm-seed-ic-llama3-naver-news"}


@pytest.mark.parametrize("value,expected", [
    ("0.5", "argument --check-every: 0.5 s: the ledger is read at most once a second"),
    ("soon", "argument --check-every: 'soon' is not a number of seconds"),
])
def test_a_bad_check_interval_is_a_usage_error_naming_the_option(capsys, value, expected):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--stack", "s", "wait", "job", "--check-every", value])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(expected)
