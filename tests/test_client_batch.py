"""Issue 15, item 6: many jobs at once (``submit-batch``, ``submit_many``/``wait_all``):
one upload folder, one queue with one prefix-filtered subscription per topic, the ledger
as a bounded fallback, every output beside its input, no queue left behind."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import llm_client.__main__ as cli
import llm_client.waiting
from llm_client.batch import ResultFiles, inputs
from llm_client.waiting import Ledger, Watch, prefix_filter
from tests.test_client_cli import (BUCKET, INPUT, TABLE, _world, last_line,  # noqa: F401
                                   run_cli, runtime)


def requests(folder: Path, bodies: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in bodies.items():
        (folder / name).write_bytes(body)
    return folder


@pytest.fixture
def calls(runtime, monkeypatch):  # noqa: F811
    """What the client asked SQS and SNS to create."""
    made: dict[str, list[dict]] = {"create_queue": [], "subscribe": []}
    for service, op in (("sqs", "create_queue"), ("sns", "subscribe")):
        client = runtime.endpoint.client(service)
        real = getattr(client, op)
        monkeypatch.setattr(client, op, lambda real=real, op=op, **kw:
                            made[op].append(kw) or real(**kw))
    return made


def test_a_folder_in_results_beside_each_input_on_one_queue(runtime, calls, tmp_path,  # noqa: F811
                                                           capsys):
    folder = requests(tmp_path / "in", {f"r{n}.json": f'{{"inputs": "{n}"}}'.encode()
                                        for n in range(4)} | {"bad.json": b'{"inputs": "fail"}'})
    (folder / "old.json.out").write_text("a result of an earlier run, not an input")
    (folder / "bad.json.out").write_text("stale: bad.json now fails")
    runtime.start()
    assert run_cli(runtime, "submit-batch", str(folder), "--timeout", "30") == cli.JOB_FAILED
    for n in range(4):
        assert (folder / f"r{n}.json.out").read_bytes() == f'out:{{"inputs": "{n}"}}'.encode()
    error = json.loads((folder / "bad.json.error").read_text())
    assert error["error"] == "ClientError: the model says no"
    assert error["input_location"].endswith("/bad.json") and len(error["inference_id"]) == 48
    assert not (folder / "bad.json.out").exists()
    # one queue, one subscription per topic, filtered on the batch's folder
    assert len(calls["create_queue"]) == 1 and len(calls["subscribe"]) == 2
    (location,) = {json.loads(s["Attributes"]["FilterPolicy"])["requestParameters"][
        "inputLocation"][0]["prefix"] for s in calls["subscribe"]}
    assert location.startswith(f"s3://{BUCKET}/{INPUT}") and location.count("/") == 5
    uploaded = runtime.s3.list_objects_v2(Bucket=BUCKET, Prefix=location.split("/", 3)[3])
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in uploaded["Contents"]) == \
        ["bad.json", "r0.json", "r1.json", "r2.json", "r3.json"]
    out, err = capsys.readouterr()
    assert sorted(line.split("\t")[1] for line in out.splitlines()) == \
        ["failed"] + ["succeeded"] * 4
    assert "4 done, 1 failed, 0 waiting" in err
    assert err.strip().splitlines()[-1] == \
        "4 done, 1 failed (see their .error files), 0 still running"


def test_a_glob_into_an_out_folder_with_names_made_unique(runtime, tmp_path):  # noqa: F811
    requests(tmp_path / "a", {"q.json": b'{"inputs": "a"}'})
    requests(tmp_path / "b", {"q.json": b'{"inputs": "b"}'})
    runtime.start()
    out = tmp_path / "results"
    assert run_cli(runtime, "submit-batch", str(tmp_path / "*" / "q.json"), "--out", str(out),
                   "--timeout", "30") == cli.DONE
    assert (out / "1-q.json.out").read_bytes() == b'out:{"inputs": "a"}'
    assert (out / "2-q.json.out").read_bytes() == b'out:{"inputs": "b"}'


def test_a_batch_timeout_is_exit_code_3_with_what_finished(runtime, tmp_path, capsys):  # noqa: F811
    folder = requests(tmp_path / "in", {"a.json": b"{}", "b.json": b"{}"})
    assert run_cli(runtime, "submit-batch", str(folder), "--timeout", "1") == cli.TIMED_OUT
    assert last_line(capsys) == "0 done, 0 failed (see their .error files), 2 still running"
    assert sorted(p.name for p in folder.iterdir()) == ["a.json", "b.json"]


def test_ctrl_c_in_a_batch_leaves_no_queue(runtime, tmp_path, monkeypatch, capsys):  # noqa: F811
    folder = requests(tmp_path / "in", {"a.json": b"{}"})

    def interrupted(self, wait):
        raise KeyboardInterrupt
    monkeypatch.setattr(Watch, "receive", interrupted)
    assert run_cli(runtime, "submit-batch", str(folder)) == cli.INTERRUPTED
    assert last_line(capsys) == "interrupted"


def test_no_inputs_is_one_line(runtime, tmp_path, capsys):  # noqa: F811
    (tmp_path / "x.out").write_text("a result")
    assert run_cli(runtime, "submit-batch", str(tmp_path)) == cli.PROBLEM
    assert last_line(capsys).startswith(f"{tmp_path}: no input files (give a folder or a glob")


def test_missed_notifications_come_from_the_ledger(runtime, tmp_path):  # noqa: F811
    """None of the notifications reaches the batch's queue: every result still arrives,
    from BatchGetItem between the long polls."""
    runtime.notify = False
    folder = requests(tmp_path / "in", {f"{n}.json": b"{}" for n in range(3)})
    endpoint = runtime.endpoint
    jobs = endpoint.submit_many(inputs(str(folder)), watch=True)
    runtime.start()
    finished: list[str] = []
    outcomes = endpoint.wait_all(jobs, timeout=30, check_every=1,
                                 on_finished=lambda o: finished.append(o.job.inference_id))
    assert [o.status for o in outcomes] == ["succeeded"] * 3
    assert [o.job.source for o in outcomes] == sorted(folder.iterdir())
    assert sorted(finished) == sorted(j.inference_id for j in jobs)
    assert outcomes[0].read() == b"out:{}"
    assert runtime.leftovers() == ([], [])


def test_the_ledger_is_read_100_keys_a_call_consistently(runtime, monkeypatch):  # noqa: F811
    table = runtime.endpoint.client("dynamodb")
    for n in range(150):
        table.put_item(TableName=TABLE, Item={"inference_id": {"S": f"job-{n}"},
                                              "status": {"S": "submitted"}})
    asked = []
    real = table.batch_get_item
    monkeypatch.setattr(table, "batch_get_item", lambda **kw: asked.append(kw) or real(**kw))
    found = Ledger(runtime.endpoint).items([f"job-{n}" for n in range(160)])
    assert len(found) == 150 and found["job-7"]["status"] == "submitted"
    assert [len(a["RequestItems"][TABLE]["Keys"]) for a in asked] == [100, 60]
    assert all(a["RequestItems"][TABLE]["ConsistentRead"] for a in asked)


def test_sns_delivers_by_prefix_on_the_message_body(runtime):  # noqa: F811
    """The batch's filter (``prefix`` on ``requestParameters.inputLocation``, body scope):
    moto honours it, as SNS documents it (string value matching, message body)."""
    inside = f"s3://{BUCKET}/{INPUT}batch-1/"
    watch = Watch.open(runtime.endpoint, prefix_filter(inside))
    try:
        for location in (f"{inside}a.json", f"s3://{BUCKET}/{INPUT}batch-10/a.json"):
            runtime.sns.publish(TopicArn=runtime.topics["success"], Message=json.dumps(
                {"inferenceId": location, "requestParameters": {"inputLocation": location}}))
        assert [n["inferenceId"] for n in watch.receive(1)] == [f"{inside}a.json"]
    finally:
        watch.close()


def test_inputs_skip_results_and_hidden_files(tmp_path):
    requests(tmp_path, {"b.json": b"", "a.txt": b"", ".hidden": b"", "a.txt.out": b"",
                        "b.json.error": b""})
    (tmp_path / "sub").mkdir()
    assert [p.name for p in inputs(str(tmp_path))] == ["a.txt", "b.json"]
    assert [p.name for p in inputs(str(tmp_path / "*.json"))] == ["b.json"]


def test_common_prefix_is_a_folder():
    common = llm_client.waiting.common_prefix
    assert common(["s3://b/input/x/1.json", "s3://b/input/x/10.json"]) == "s3://b/input/x/"
    assert common(["s3://b/input/x/a.json"]) == "s3://b/input/x/"
    assert common(["s3://b/input/ab.json", "s3://b/input/ac.json"]) == "s3://b/input/"


def test_every_output_is_written_even_when_they_queue(tmp_path):
    """More finished jobs than downloads at once: the writes queued behind are done too."""
    class Finished:
        def __init__(self, n: int) -> None:
            self.job = SimpleNamespace(inference_id=f"job-{n}", source=tmp_path / f"{n}.json",
                                       input_location="")
            self.status = "succeeded"

        def read(self) -> bytes:
            time.sleep(0.01)
            return self.job.inference_id.encode()
    outcomes = [Finished(n) for n in range(40)]
    with ResultFiles([o.job for o in outcomes], None) as writer:
        for outcome in outcomes:
            writer.add(outcome)
    assert len(writer.written) == 40
    assert (tmp_path / "39.json.out").read_bytes() == b"job-39"
