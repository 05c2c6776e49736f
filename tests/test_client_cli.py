"""Issue 15 (item 5, first part): llm-client as a user meets it. Every failure is one line
on stderr with the fix and a documented exit code; never a traceback; help everywhere."""

from __future__ import annotations

import argparse

import boto3
import pytest
from botocore.exceptions import ClientError

import llm_client.__main__ as cli
import llm_client.client


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


def test_a_missing_file_is_one_line(monkeypatch, capsys, tmp_path):
    endpoint = cli.AsyncEndpoint("e", "s3://b/input/", "t", "arn:s", "arn:e")
    monkeypatch.setattr(cli.AsyncEndpoint, "from_stack",
                        classmethod(lambda cls, name, session=None: endpoint))
    monkeypatch.setattr(llm_client.client, "_Watch", _NoWatch)
    missing = tmp_path / "request.json"
    assert cli.main(["--stack", "s", "submit", str(missing)]) == cli.PROBLEM
    assert str(missing) in one_line_error(capsys)
    assert _NoWatch.open_now == 0  # the watch opened for it was closed


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

    open_now = 0

    def __init__(self) -> None:
        type(self).open_now += 1

    @classmethod
    def open(cls, endpoint, body_filter):
        return cls()

    def close(self) -> None:
        type(self).open_now -= 1
