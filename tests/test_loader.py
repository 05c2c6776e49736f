"""The loader is bounded: whatever a config file holds, it answers fast with one line per
problem naming the file (and, for YAML, the line and column), never a traceback or a hang."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import config
from config import ConfigError, ConfigFileError, load_config_file
from tests.helpers import CONFIG_DIR

DEV = (CONFIG_DIR / "dev.yaml").read_text()

#: The "billion laughs": nine lines whose last one expands to 9**9 (387 million) strings,
#: given as the project name. Before the loader refused aliases, the message for the bad
#: project rendered the whole expansion: no answer within a minute.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True)) + "project: *i\nendpoints: []\n"


def file_error(tmp_path: Path, text: str | bytes, name: str = "x.yaml") -> str:
    """The one-line error for a file holding ``text``, within a CPU second."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    start = time.process_time()
    with pytest.raises(ConfigFileError) as info:
        load_config_file(path)
    assert time.process_time() - start < 1.0
    message = str(info.value)
    assert "\n" not in message and "<unicode string>" not in message
    return message


def test_an_alias_bomb_fails_in_milliseconds_at_its_first_anchor(tmp_path):
    start = time.process_time()
    message = file_error(tmp_path, ALIAS_BOMB)
    assert time.process_time() - start < 0.1
    assert message == (f"{tmp_path}/x.yaml:1:4: anchors and aliases (&name, *name, <<: *name) "
                       "are not supported: write each value out")


@pytest.mark.parametrize("text,where", [
    ("project: &p llm-dev\nendpoints: []\n", ":1:10:"),                 # an anchor alone
    ("a: {b: 1}\nc:\n  <<: *x\n", ":3:7:"),                            # an alias alone
])
def test_anchors_and_aliases_are_refused_even_alone(tmp_path, text, where):
    assert f"x.yaml{where} anchors and aliases" in file_error(tmp_path, text)


@pytest.mark.parametrize("text,expected", [
    ("project: a\nendpoints: [1\n", "x.yaml:3:1: did not find expected ',' or ']' "
                                    "(while parsing a flow sequence at line 2, column 12)"),
    ("project: a\n\tendpoints: []\n", "x.yaml:2:1: a tab in the indentation: YAML indents "
                                      "with spaces only"),
    ("project:\n\tendpoints: []\n", "x.yaml:2:1: a tab in the indentation"),
    ("project: a: b\n", "x.yaml:1:11: mapping values are not allowed in this context"),
    ("project: 'a\n", "x.yaml:2:1: found unexpected end of stream "
                      "(while scanning a quoted scalar at line 1, column 10)"),
    ("project: a\nproject: b\n", "x.yaml:2:1: key 'project' is given twice"),
    ("a: 1\n---\nb: 2\n", "x.yaml:2:1: but found another document "
                          "(expected a single document in the stream at line 1, column 1)"),
    ("", "x.yaml:1:1: the file is empty: a config is a mapping of settings"),
    ("# nothing but a comment\n", "x.yaml:1:1: the file is empty"),
    ("- project: a\n", "x.yaml:1:1: the top level is a list, not a mapping of settings"),
    ("just words\n", "x.yaml:1:1: the top level is a single value, not a mapping"),
    ("project: a\x00b\n", "x.yaml:1:11: character U+0000 is not allowed in YAML"),
    (b"project: llm\nname: caf\xe9\n", "x.yaml:2:10: byte 0xe9 is not UTF-8: save the file "
                                       "as UTF-8"),
    ("a: 2020-13-45\n", "x.yaml:1:4: '2020-13-45' cannot be read: month must be in 1..12"),
])
def test_each_unreadable_file_is_one_line_naming_file_line_and_column(tmp_path, text, expected):
    message = file_error(tmp_path, text)
    assert message.startswith(f"{tmp_path}/x.yaml:")
    assert expected in message


def test_an_integer_python_cannot_hold_is_a_shortened_line(tmp_path):
    message = file_error(tmp_path, "a: " + "9" * 5000 + "\n")
    assert message == (f"{tmp_path}/x.yaml:1:4: {'9' * 80!r}… (5,000 characters) cannot be "
                       "read: Exceeds the limit (4300 digits) for integer string conversion: "
                       "value has 5000 digits")


def test_a_file_over_the_size_limit_names_its_size_and_the_limit(tmp_path):
    text = DEV + "#" * (config.MAX_BYTES + 1 - len(DEV.encode()))
    assert file_error(tmp_path, text) == (
        f"{tmp_path}/x.yaml: the file is 1,000,001 bytes, over the 1,000,000-byte limit for a "
        "config (the shipped ones are 1-3 KB)")


def test_a_file_at_the_size_limit_loads_within_a_second(tmp_path):
    padding = ("# " + "x" * 97 + "\n") * ((config.MAX_BYTES - len(DEV.encode())) // 100)
    path = tmp_path / "big.yaml"
    path.write_text(DEV + padding)
    assert config.MAX_BYTES - 100 < path.stat().st_size <= config.MAX_BYTES
    start = time.process_time()
    assert load_config_file(path).project == "llm-dev"
    assert time.process_time() - start < 1.0


@pytest.mark.parametrize("text,where", [
    ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", ":1:68:"),
    # closing brackets inside quotes must not hide the depth from the check
    ("a: " + '["]", ' * 100_000 + "\n", ":1:388:"),
    ("a: " + "{b: " * 100 + "1" + "}" * 100 + "\n", ":1:260:"),
    ("".join(" " * i + f"k{i}:\n" for i in range(100)) + " " * 100 + "v: 1\n", ":65:65:"),
])
def test_deep_nesting_is_refused_before_libyaml_sees_it(tmp_path, text, where):
    """100,000 brackets took libyaml 34 s to parse, then crashed the process (C stack)."""
    message = file_error(tmp_path, text)
    assert f"x.yaml{where} lists and mappings nest more than 64 levels deep" in message


def test_more_values_than_a_config_could_hold_are_refused_early(tmp_path):
    message = file_error(tmp_path, "a:\n" + "- 1\n" * 200_000)
    assert message.endswith(":9999:3: more than 10,000 values: a config holds about a "
                            "hundred; is this the right file?")


def test_tokens_without_values_cannot_carry_deep_nesting_past_the_depth_check(tmp_path):
    """Document-end markers are tokens but no values: the depth check must not stop at a
    token count and leave the brackets after them to libyaml."""
    message = file_error(tmp_path, "...\n" * 50_000 + "a: " + "[" * 100_000 + "\n")
    assert message.endswith(":40001:1: more than 10,000 values: a config holds about a "
                            "hundred; is this the right file?")


def test_a_missing_file_and_a_folder_are_one_line(tmp_path):
    with pytest.raises(ConfigFileError, match=r"nope\.yaml: no such file$"):
        load_config_file(tmp_path / "nope.yaml")
    with pytest.raises(ConfigFileError, match=r"^cfg: not a file$"):
        load_config_file(tmp_path, source="cfg")


def problems(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config_file(path, source="config/x.yaml")
    return info.value


def test_a_long_value_is_shown_truncated_with_its_length(tmp_path):
    error = problems(tmp_path, DEV.replace("project: llm-dev", "project: " + "a" * 900_000))
    assert error.problems == [("project", f"{'a' * 80!r}… (900,000 characters): use 2-25 "
                               "lower-case letters, digits and '-', starting with a letter (it "
                               "prefixes stack and endpoint names)")]


def test_a_long_non_string_value_is_shown_truncated(tmp_path):
    error = problems(tmp_path, DEV.replace("max_azs: 2", "max_azs: [" + "1, " * 1000 + "]"))
    (path, message), = error.problems
    assert path == "network.max_azs"
    shown = "[" + "1, " * 26 + "1"
    assert message == f"Input should be a valid integer (got {shown}… (3,000 characters))"


def test_a_long_unknown_key_and_a_long_name_are_shown_truncated(tmp_path):
    # YAML takes keys of at most 1,024 characters on one line
    text = DEV.replace("name: chat", f"name: {'n' * 5000}").replace(
        "    tgi_settings:", f"    {'k' * 1000}: 1\n    tgi_settings:")
    lines = str(problems(tmp_path, text)).splitlines()
    assert f"  - endpoints[0] ({'n' * 80}… (5,000 characters)).{'k' * 80}… (1,000 characters):"\
           " unknown key (check the spelling; see README 'Configuration')" in lines
    assert max(len(line) for line in lines) < 400


def test_no_message_prints_a_value_in_full_whoever_wrote_it():
    """Messages of validators and rules (``{v!r}``) are shortened when the error is made."""
    error = ConfigError("x.yaml", [("a", f"{'b' * 300!r} is not an S3 URI"),
                                   ("c", "x" * 5000)])
    assert error.problems[0] == ("a", f"{'b' * 80!r}… (300 characters) is not an S3 URI")
    assert error.problems[1] == ("c", "x" * 1000 + "… (5,000 characters)")


def test_at_most_a_hundred_problems_are_listed(tmp_path):
    text = DEV + "".join(f"unknown_{i}: 1\n" for i in range(150))
    lines = str(problems(tmp_path, text)).splitlines()
    assert lines[0] == "config/x.yaml: 150 problem(s):"
    assert len(lines) == 102 and lines[-1] == "  - ... and 50 more"


def test_env_names_only_a_config_of_the_config_folder(tmp_path):
    """`-c env=../x` must not read outside config/ (that is what -c config=<path> is for)."""
    from config import load_config

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "dev.yaml").write_text("project: x\n")
    (tmp_path / "outside.yaml").write_text("project: y\n")
    with pytest.raises(ConfigError) as info:
        load_config("../outside", config_dir=tmp_path / "config")
    assert info.value.problems == [("env", "no config/../outside.yaml; available: dev")]
