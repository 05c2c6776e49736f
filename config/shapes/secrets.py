"""Credentials never go into config: container variables that hold one, by its value or
by its name, are refused; ``secrets:`` names Secrets Manager secrets instead.

Whatever a config puts into ``environment`` is stored in plain text in the template (and in
``cdk.out``, and in CloudFormation's copy of it). A secret belongs in Secrets Manager; the
template then holds a ``{{resolve:secretsmanager:...}}`` reference that CloudFormation
resolves at deploy time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import Field, field_validator

from .base import Strict

#: A Secrets Manager secret: its ARN, or its name (the characters CreateSecret allows).
SECRET_RE = re.compile(
    r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+|[\w/+=.@-]{1,512})$")

#: The Hub token's variables: the config derives them from ``source.token_secret``.
HUB_TOKEN_KEYS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")

#: Well-known credential formats, found anywhere in a value. The shapes are gitleaks'
#: rules of the same id (config/gitleaks.toml) unless said otherwise.
CREDENTIAL_FORMATS: dict[str, re.Pattern[str]] = {
    # IAM User Guide, "Unique identifiers": AKIA long-term, ASIA temporary access key ids.
    "an AWS access key id": re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),
    # huggingface-access-token / -organization-api-token (34 letters; any 30+ taken here).
    "a Hugging Face token": re.compile(r"\b(hf_|api_org_)[A-Za-z0-9]{30,}\b"),
    # github-pat, github-oauth, github-app-token, github-refresh-token, github-fine-grained-pat.
    "a GitHub token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36}|github_pat_\w{82})\b"),
    # gitlab-pat.
    "a GitLab token": re.compile(r"\bglpat-[\w-]{20}\b"),
    # slack-bot-token, slack-user-token, slack-app-token ...: xox<type>-.
    "a Slack token": re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]{10,}"),
    # openai-api-key: T3BlbkFJ is "OpenAI" in base64, inside every key.
    "an OpenAI API key": re.compile(r"\bsk-[\w-]{20,}T3BlbkFJ[\w-]{20,}"),
    # private-key; RFC 7468 labels: PRIVATE KEY, ENCRYPTED PRIVATE KEY, and RSA/EC/DSA/
    # OPENSSH PRIVATE KEY and PGP PRIVATE KEY BLOCK in the wild.
    "a private key": re.compile(r"-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----"),
}
#: An AWS secret access key is 40 base64 characters (IAM User Guide, "Managing access
#: keys"): on its own indistinguishable from other data, so refused only beside an access
#: key id or under a name with AWS in it (detect-secrets' AWSKeyDetector does the same).
AWS_SECRET_KEY_RE = re.compile(r"^[A-Za-z0-9/+]{40}$")

#: A name holds a secret when its last word is one of these...
SECRET_NOUNS = {"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL",
                "CREDENTIALS", "APIKEY", "PRIVATEKEY"}
#: ... or its last two words are one of these...
SECRET_PAIRS = {("API", "KEY"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"), ("SECRET", "KEY")}
#: ... or any word is SECRET (AWS_SECRET_ACCESS_KEY, CLIENT_SECRET_VALUE); unless the last
#: word says the value only points at one (DB_SECRET_ARN, HF_TOKEN_PATH, SECRET_NAME).
REFERENCE_WORDS = {"ARN", "ID", "IDS", "NAME", "PATH", "FILE", "DIR", "URI", "URL"}
#: Values no credential looks like: empty, a boolean, numbers, an absolute path, a
#: Secrets Manager reference (``--allow-credentials``, bucket lists of ``...-token`` flags).
NOT_A_SECRET_RE = re.compile(
    r"^(|true|false|yes|no|on|off|[\d.,:\s\[\]+-]+|/\S*|\{\{resolve:secretsmanager:[^}]+\}\})$",
    re.IGNORECASE)

PLAIN_TEXT = "a value here is stored in the template in plain text"
WAY_OUT = "put it in Secrets Manager and reference it with secrets: {{{key}: <secret name>}}"


def name_words(key: str) -> list[str]:
    """``DB_PASSWORD`` -> DB, PASSWORD; ``openaiApiKey`` -> OPENAI, API, KEY."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    return [w for w in re.split(r"[_\W]+", spaced.upper()) if w]


def names_a_secret(key: str) -> bool:
    """Whether a variable's name says it holds a password, secret, token, credential, API
    key or private key (as whole words: MAX_INPUT_TOKENS and TOKENIZERS_PARALLELISM do not)."""
    words = name_words(key)
    if not words or words[-1] in REFERENCE_WORDS:
        return False
    return (words[-1] in SECRET_NOUNS or tuple(words[-2:]) in SECRET_PAIRS
            or "SECRET" in words)


def mask(value: str) -> str:
    """What an error may show of a secret: its first four characters and its length."""
    head = value[:4] if len(value) >= 12 else ""
    return f"'{head}…({len(value)} chars)'"


def credential_kind(value: str) -> str | None:
    """The well-known credential format ``value`` contains, if any."""
    for kind, pattern in CREDENTIAL_FORMATS.items():
        if pattern.search(value):
            return kind
    return None


def environment_problem(key: str, value: str, env: Mapping[str, str]) -> str | None:
    """Why ``key: value`` must not be in ``environment`` (None: it may). ``env`` is the
    whole map: a secret access key is recognized beside its access key id."""
    if key in HUB_TOKEN_KEYS:
        return (f"the Hub token must not be a literal ({PLAIN_TEXT}): put it in Secrets "
                "Manager and name the secret in source.token_secret (without a Hub source: "
                f"secrets: {{{key}: <secret name>}})")
    kind = credential_kind(value)
    if kind is None and AWS_SECRET_KEY_RE.match(value) and (
            "AWS" in name_words(key)
            or any(CREDENTIAL_FORMATS["an AWS access key id"].search(v) for v in env.values())):
        kind = "an AWS secret access key"
    if kind is not None:
        return f"{mask(value)} looks like {kind} ({PLAIN_TEXT}); {WAY_OUT.format(key=key)}"
    if names_a_secret(key) and not NOT_A_SECRET_RE.match(value):
        return (f"named like a secret, so {mask(value)} is taken for one ({PLAIN_TEXT}); "
                f"{WAY_OUT.format(key=key)}")
    return None


def secret_name_problem(value: str) -> str | None:
    """Why ``value`` is not a Secrets Manager secret name or ARN (None: it is)."""
    kind = credential_kind(value)
    if kind is not None:
        return (f"{mask(value)} looks like {kind}, not a secret name: store it in Secrets "
                "Manager and give the secret's name or ARN here")
    if not SECRET_RE.match(value):
        return f"{value!r} is not a Secrets Manager secret name or ARN"
    return None


class SecretRef(Strict):
    """A Secrets Manager secret, and the JSON key of the value when the secret is JSON."""

    secret: str = Field(description="Secrets Manager secret name or ARN.")
    json_key: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,256}$",
        description="The JSON key of the value, when the secret is JSON.")

    @field_validator("secret")
    @classmethod
    def _secret(cls, v: str) -> str:
        problem = secret_name_problem(v)
        if problem:
            raise ValueError(problem)
        return v
