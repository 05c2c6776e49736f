"""Issue 14, item 4: credentials never reach the template; ``secrets:`` references them."""

from __future__ import annotations

import json
import re

import pytest

from config import parse_config
from config.shapes.secrets import HUB_TOKEN_KEYS, environment_problem, mask, names_a_secret
from tests.helpers import (CONFIG_DIR, DELETE, ROOT, as_list, config_data, dev_with,
                           nag_report_ok, one, problems, statements, synthesize_data)

EP = "endpoints[0] (chat)"
# AWS's documented example key pair (IAM User Guide), and fakes of the other formats,
# built so that no scanner takes this file for a leak.
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDENTIALS = {
    "an AWS access key id": ACCESS_KEY_ID,
    "an AWS access key id ": "ASIA" + "Q" * 16,  # temporary (STS) credentials
    "a Hugging Face token": "hf_" + "x" * 34,
    "a GitHub token": "ghp_" + "a1" * 18,
    "a GitHub token ": "github_pat_" + "b" * 82,
    "a GitLab token": "glpat-" + "c" * 20,
    "a Slack token": "xoxb-" + "1234567890-abcdef",
    "an OpenAI API key": "sk-proj-" + "d" * 58 + "T3Blbk" + "FJ" + "e" * 58,
    "a private key": "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3Blbn...\n-----END",
}


def env_problem(env: dict[str, str]) -> str:
    """The one environment problem of dev.yaml's endpoint with ``env``."""
    msg = problems(dev_with(**{"endpoints.0.environment": env}))
    return msg[f"{EP}.environment"]


# -- by value ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,value", CREDENTIALS.items(), ids=list(CREDENTIALS))
def test_a_credential_is_refused_by_its_format_whatever_the_name(kind, value):
    msg = env_problem({"MODEL_SETTING": value})
    assert msg.startswith("MODEL_SETTING: ")
    assert f"looks like {kind.strip()}" in msg
    assert "secrets: {MODEL_SETTING: <secret name>}" in msg
    assert value not in msg and value[6:20] not in msg  # masked: never echoed
    assert f"({len(value)} chars)" in msg


def test_the_secret_access_key_is_refused_beside_its_key_id_or_under_an_aws_name():
    msg = problems(dev_with(**{"endpoints.0.environment": {
        "KEY_ONE": ACCESS_KEY_ID, "KEY_TWO": SECRET_ACCESS_KEY}}))[f"{EP}.environment"]
    assert "KEY_TWO: 'wJal…(40 chars)' looks like an AWS secret access key" in msg
    assert "looks like an AWS secret access key" in env_problem({"AWS_SK": SECRET_ACCESS_KEY})
    # Alone and under another name, 40 such characters are data (a git commit, say).
    assert parse_config(dev_with(**{"endpoints.0.environment": {
        "MODEL_REVISION": "4f1d2c3b" * 5, "OTHER": SECRET_ACCESS_KEY}}))


def test_each_credential_is_its_own_line_naming_its_key():
    with pytest.raises(Exception) as info:
        parse_config(dev_with(**{"endpoints.0.environment": {
            "DB_PASSWORD": "hunter22", "A": ACCESS_KEY_ID, "MAX_INPUT_TOKENS": "4096"}}))
    lines = [m for p, m in info.value.problems if p == f"{EP}.environment"]
    assert [m.split(":")[0] for m in lines] == ["DB_PASSWORD", "A"]


def test_mask_shows_no_more_than_four_characters():
    assert mask(ACCESS_KEY_ID) == "'AKIA…(20 chars)'"
    assert mask("hunter22") == "'…(8 chars)'"  # short: nothing of it


# -- by name -----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [
    "DB_PASSWORD", "OPENAI_API_KEY", "client_secret", "AWS_SECRET_ACCESS_KEY", "githubToken",
    "SSH_PRIVATE_KEY", "SERVICE_CREDENTIALS", "SM_VLLM_API_KEY", "WANDB_APIKEY", "PASSPHRASE",
    "MINIO_ACCESS_KEY", "SECRET_KEY_BASE"])
def test_a_name_like_a_secret_is_refused(key):
    assert names_a_secret(key)
    msg = env_problem({key: "plain-text-value"})
    assert f"{key}: named like a secret" in msg and "plain-text-value" not in msg
    assert f"secrets: {{{key}: <secret name>}}" in msg


@pytest.mark.parametrize("key", [
    "MAX_INPUT_TOKENS", "TOKENIZERS_PARALLELISM", "MAX_BATCH_PREFILL_TOKENS", "DB_SECRET_ARN",
    "HF_TOKEN_PATH", "SECRET_NAME", "API_KEY_FILE", "SM_VLLM_SSL_KEYFILE", "KEYCLOAK_URL",
    "SM_SGLANG_LONG_PREFILL_TOKEN_THRESHOLD", "PASSWORDLESS_LOGIN", "TOKEN_LIMIT"])
def test_a_name_with_a_secret_word_inside_another_is_not(key):
    assert not names_a_secret(key)


@pytest.mark.parametrize("value", ["true", "", "0.1,0.5,1", "/opt/ml/creds.json",
                                   "{{resolve:secretsmanager:llm/db:SecretString:::}}"])
def test_a_value_no_secret_looks_like_passes_under_a_secret_name(value):
    assert environment_problem("SM_VLLM_ALLOW_CREDENTIALS", value, {}) is None


def test_hub_token_variables_point_at_token_secret():
    msg = env_problem({"HF_TOKEN": "whatever"})
    assert "source.token_secret" in msg and "whatever" not in msg


# -- nothing the project derives, documents or ships is refused --------------------------------
ENGINE_PREFIX = {"vllm": "SM_VLLM_", "sglang": "SM_SGLANG_"}
#: The engine options that do take a credential (an API key, a Hub token, a password).
SECRET_OPTIONS = {"API_KEY", "NGROK_PASSWORD", "SM_SGLANG_ADMIN_API_KEY", "SM_SGLANG_API_KEY",
                  "SM_SGLANG_SSL_KEYFILE_PASSWORD", "SM_VLLM_API_KEY", "SM_VLLM_HF_TOKEN"}


def _engine_variables() -> set[tuple[str, str]]:
    """Every variable an image's entrypoint turns into an engine option, with a value of
    the option's type in each version (config/data/engine_options.json)."""
    data = json.loads((CONFIG_DIR / "data" / "engine_options.json").read_text())
    out = set()
    for engine, record in data.items():
        for table in ("options", "router_options") if engine != "_about" else ():
            for name, history in record.get(table, {}).items():
                for _, spec in (h for h in history if h[1] is not None):
                    var = spec.get("env") or (ENGINE_PREFIX[engine] + name.lstrip("-").upper()
                                              .replace("-", "_") if engine in ENGINE_PREFIX
                                              else None)
                    if var:
                        out.add((var, "true" if spec["kind"] == "flag" else
                                 str(spec["choices"][0]) if spec.get("choices") else
                                 {"int": "8", "float": "0.5", "bool": "true"}.get(
                                     spec.get("type"), "some-value")))
    return out


def test_only_the_engine_options_that_take_a_credential_are_refused():
    engine = _engine_variables()
    assert len({k for k, _ in engine}) > 800
    refused = {k for k, v in engine if environment_problem(k, v, {k: v})}
    assert refused == SECRET_OPTIONS


def test_no_variable_the_project_derives_documents_or_ships_is_refused():
    from stacks.translate import derived_environment, models_of

    given: dict[str, str] = {}
    for path in CONFIG_DIR.glob("*.yaml"):
        cfg = parse_config(config_data(path.stem))
        for ep in cfg.endpoints:
            for _, spec in models_of(ep):
                given |= derived_environment(spec) | spec.environment
    readme = (ROOT / "README.md").read_text()
    # The secrets section names refused variables as examples of what is refused.
    start = readme.index("## Gated models and other secrets")
    readme = readme[:start] + readme[readme.index("\n## ", start + 1):]
    given |= {m[1]: m[2] for m in re.finditer(r"`([A-Z][A-Z0-9_]{2,})=([^`]*)`", readme)}
    given |= {n: "some-value" for n in re.findall(r"`([A-Z][A-Z0-9_]{2,})`", readme)
              if n not in given}
    assert {"MAX_INPUT_TOKENS", "HF_HUB_OFFLINE", "SM_NUM_GPUS", "OPTION_MAX_MODEL_LEN",
            "SAGEMAKER_CONTAINER_LOG_LEVEL"} <= set(given)
    refused = {k for k, v in given.items() if environment_problem(k, v, {k: v})}
    assert refused == {k for k in HUB_TOKEN_KEYS if k in given}  # from token_secret only


# -- secrets: ----------------------------------------------------------------------------------
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:llm/openai-AbCdEf"


def test_secrets_become_deploy_time_references_and_the_role_reads_none():
    synth = synthesize_data(dev_with(**{"endpoints.0.secrets": {
        "DB_PASSWORD": "llm/db", "OPENAI_API_KEY": {"secret": ARN, "json_key": "key"}}}))
    template = synth.endpoint("chat")
    env = one(template, "AWS::SageMaker::Model")[1]["Properties"]["PrimaryContainer"][
        "Environment"]
    assert env["DB_PASSWORD"] == "{{resolve:secretsmanager:llm/db:SecretString:::}}"
    assert env["OPENAI_API_KEY"] == f"{{{{resolve:secretsmanager:{ARN}:SecretString:key::}}}}"
    assert env["HF_MODEL_ID"] == "Qwen/Qwen2.5-7B-Instruct"  # the derived ones stay
    # CloudFormation resolves the references; the execution role needs no read.
    assert not [s for s in statements(template)
                if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))]
    assert nag_report_ok(synth)


def test_a_variable_in_both_environment_and_secrets_is_refused():
    msg = problems(dev_with(**{"endpoints.0.environment": {"DB_USER": "app"},
                               "endpoints.0.secrets": {"DB_USER": "llm/db"}}))
    assert "DB_USER: in both environment and secrets" in msg[EP]


@pytest.mark.parametrize("secret,fragment", [
    ("llm db", "is not a Secrets Manager secret name or ARN"),
    (ACCESS_KEY_ID, "'AKIA…(20 chars)' looks like an AWS access key id, not a secret name"),
    ({"secret": "llm/db", "json_key": "a key"}, "should match pattern"),
])
def test_a_secret_reference_must_name_a_secret(secret, fragment):
    msg = problems(dev_with(**{"endpoints.0.secrets": {"DB_PASSWORD": secret}}))
    assert fragment in " ".join(v for k, v in msg.items() if k.startswith(f"{EP}.secrets"))


def test_the_hub_token_of_a_hub_source_is_token_secret():
    msg = problems(dev_with(**{"endpoints.0.secrets": {"HF_TOKEN": "llm/hf"}}))
    assert "HF_TOKEN: the Hub token of a hub: source is source.token_secret" in \
        msg[f"{EP}.secrets"]
    s3 = dev_with(**{"endpoints.0.source": {"s3": "s3://bucket/model/"},
                     "endpoints.0.secrets": {"HF_TOKEN": "llm/hf"}})
    assert parse_config(s3)  # another image's own download may read it


def test_a_model_package_takes_no_secrets():
    msg = problems(dev_with(**{"endpoints.0.image": {"model_package": "my-package"},
                               "endpoints.0.source": DELETE, "endpoints.0.tgi_settings": DELETE,
                               "endpoints.0.secrets": {"DB_PASSWORD": "llm/db"}}))
    assert "no secrets" in msg[f"{EP}.secrets"]
