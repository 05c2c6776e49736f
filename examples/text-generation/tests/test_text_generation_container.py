"""The example container, without Docker: its server and handler run in-process on a tiny
GPT-2 built here (random weights, a word-level tokenizer; nothing is downloaded)."""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
WORDS = ["<eos>", "<unk>", "hello", "world", "the", "model", "serves", "text", "on", "sagemaker"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("tiny-gpt2")
    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>",
                            pad_token="<eos>").save_pretrained(out)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(WORDS), n_positions=64, n_embd=16, n_layer=1, n_head=2,
                        bos_token_id=0, eos_token_id=0)
    GPT2LMHeadModel(config).save_pretrained(out)
    return out


@pytest.fixture()
def server(model_dir, monkeypatch):
    monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
    monkeypatch.syspath_prepend(str(HERE))
    for name in ("serve", "inference"):
        sys.modules.pop(name, None)
    module = importlib.import_module("serve")
    yield module
    for name in ("serve", "inference"):
        sys.modules.pop(name, None)


@pytest.fixture()
def client(server):
    from fastapi.testclient import TestClient

    with TestClient(server.app) as c:  # runs the lifespan: loads the model
        yield c


def test_ping_is_503_until_the_model_is_loaded_then_200(server):
    from fastapi.testclient import TestClient

    assert TestClient(server.app).get("/ping").status_code == 503  # no lifespan: not loaded
    with TestClient(server.app) as c:
        assert c.get("/ping").status_code == 200


def test_invocations_generate_only_the_continuation(client):
    r = client.post("/invocations", json={"inputs": "hello world",
                                          "parameters": {"max_new_tokens": 4}})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    out = r.json()
    assert len(out) == 1
    words = out[0]["generated_text"].split()
    assert 1 <= len(words) <= 4 and set(words) <= set(WORDS[2:])
    # greedy by default: the same request gives the same text
    again = client.post("/invocations", json={"inputs": "hello world",
                                              "parameters": {"max_new_tokens": 4}})
    assert again.json() == out


def test_seed_002_payload_and_several_sequences(client):
    r = client.post("/invocations", json={"text": "the model",
                                          "parameters": {"max_new_tokens": 2,
                                                         "num_return_sequences": 3,
                                                         "temperature": 1.0}})
    assert r.status_code == 200 and len(r.json()) == 3


@pytest.mark.parametrize("body,content_type,status,fragment", [
    (b"inputs,hello", "text/csv", 415, "application/json"),
    (b"{not json", "application/json", 400, "not JSON"),
    (b'["hello"]', "application/json", 400, "send an object"),
    (b'{"inputs": ""}', "application/json", 400, '"inputs"'),
    (b'{"inputs": "hi", "parameters": {"max_new_tokens": 100000}}', "application/json", 400,
     "max_new_tokens"),
    (b'{"inputs": "hi", "parameters": {"num_return_sequences": 0}}', "application/json", 400,
     "num_return_sequences"),
    (b'{"inputs": "hi", "parameters": {"temperature": -1}}', "application/json", 400,
     "temperature"),
])
def test_bad_requests_get_a_client_error_naming_the_problem(client, body, content_type, status,
                                                            fragment):
    r = client.post("/invocations", content=body, headers={"content-type": content_type})
    assert r.status_code == status
    assert fragment in r.json()["error"]


def test_accept_other_than_json_is_406(client):
    r = client.post("/invocations", json={"inputs": "hello"},
                    headers={"accept": "text/csv"})
    assert r.status_code == 406


def test_the_handler_follows_the_toolkit_contract(server, model_dir):
    """The DLC's toolkit calls these four and sends output_fn's string as the body."""
    inference = sys.modules["inference"]
    model = inference.model_fn(str(model_dir))
    data = inference.input_fn(json.dumps({"inputs": "hello"}), "application/json; charset=utf-8")
    body = inference.output_fn(inference.predict_fn(data, model), "application/json")
    assert isinstance(body, str) and isinstance(json.loads(body)[0]["generated_text"], str)


def test_no_model_anywhere_is_a_clear_error(server, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_MODEL_ID", raising=False)
    with pytest.raises(RuntimeError, match="HF_MODEL_ID"):
        sys.modules["inference"].model_fn(str(tmp_path))


def test_serve_listens_on_8080_and_accepts_sagemakers_serve_argument(server, monkeypatch):
    calls = []
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **kw: calls.append(kw))
    server.main(["serve"])
    server.main([])
    assert calls == [{"host": "0.0.0.0", "port": 8080}] * 2
    with pytest.raises(SystemExit, match="train"):
        server.main(["train"])


def test_dockerfile_entrypoint_receives_the_serve_argument():
    """Shell-form ENTRYPOINT (or CMD only) would drop or misplace SageMaker's 'serve'."""
    text = (HERE / "Dockerfile").read_text()
    entry = re.findall(r"^ENTRYPOINT\s+(.+)$", text, re.M)
    assert len(entry) == 1 and json.loads(entry[0]) == ["python", "serve.py"]
    assert re.search(r"^EXPOSE 8080$", text, re.M)
    assert not re.search(r"^CMD", text, re.M)
