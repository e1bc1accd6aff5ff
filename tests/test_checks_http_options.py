"""The http check's options as the config file gives them: each bad one names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.config_files import HOSTILE_SECRETS, load, refused, with_token_file


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            "url: 'ftp://x/'",
            "url: 'ftp://x/' is not an http:// or https:// URL with a host",
        ),
        (
            "url: 'http://u:p@x/'",
            "url: carries a user or password: use basic_auth with password_file",
        ),
        (
            "url: 'http://x/', body: a",
            "body: is sent with POST only, not GET",
        ),
        (
            "url: 'http://x/', method: PUT",
            "method: 'PUT' is not one of GET, HEAD, POST",
        ),
        (
            "url: 'http://x/', expect_status: [600]",
            "expect_status[0]: 600 is not an HTTP status (100 to 599)",
        ),
        (
            "url: 'http://x/', expect_status: [2xy]",
            "expect_status[0]: '2xy' is neither a status nor a class such as 2xx",
        ),
        (
            "url: 'http://x/', expect_status: [true]",
            "expect_status[0]: must be a whole number; or must be a string (not true/false)",
        ),
        (
            "url: 'http://x/', expect_status: []",
            "expect_status: must list at least one status or class, as 2xx",
        ),
        (
            "url: 'http://x/', json_path: status",
            "json_equals: give json_path and json_equals together",
        ),
        (
            "url: 'http://x/', json_equals: up",
            "json_path: give json_path and json_equals together",
        ),
        (
            "url: 'http://x/', json_path: 'a..b', json_equals: 1",
            "json_path: 'a..b' is not a dotted path, as checks.db",
        ),
        (
            "url: 'http://x/', body_regex: '('",
            "body_regex: not a regular expression:"
            " missing ), unterminated subpattern at position 0",
        ),
        (
            "url: 'http://x/', bearer_token_file: nowhere",
            "bearer_token_file: cannot read {dir}/nowhere: No such file or directory",
        ),
        (
            "url: 'http://x/', basic_auth: {username: u, password_file: nowhere}",
            "basic_auth.password_file: cannot read {dir}/nowhere: No such file or directory",
        ),
        (
            "url: 'http://x/', tls: {ca_file: nowhere}",
            "tls.ca_file: cannot load {dir}/nowhere: No such file or directory",
        ),
        (
            "url: 'http://x/', tls: {cert_file: c.pem}",
            "tls.key_file: give cert_file and key_file together",
        ),
        (
            "url: 'http://x/', min_cert_days: -1",
            "min_cert_days: -1 must not be negative",
        ),
    ],
)
def test_bad_http_options_name_their_key(tmp_path: Path, entry: str, problem: str) -> None:
    text = f"checks: [{{name: web, type: http, {entry}}}]\n"
    refused(tmp_path, text, "checks[0]." + problem.format(dir=tmp_path))


def test_both_ways_of_authenticating_are_refused(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("t")
    refused(
        tmp_path,
        "checks: [{name: web, type: http, url: 'http://x/', bearer_token_file: t,"
        " basic_auth: {username: u, password_file: t}}]\n",
        "checks[0].basic_auth: give bearer_token_file or basic_auth, not both",
    )
    refused(
        tmp_path,
        "checks: [{name: web, type: http, url: 'http://x/', bearer_token_file: t,"
        " headers: {authorization: x}}]\n",
        "checks[0].headers: an Authorization header, and bearer_token_file or basic_auth",
    )


@pytest.mark.parametrize("case", HOSTILE_SECRETS, ids=str)
def test_a_hostile_token_file_is_refused_naming_its_key(tmp_path: Path, case: str) -> None:
    content, problem = HOSTILE_SECRETS[case]
    text, path = with_token_file(tmp_path, content)
    refused(tmp_path, text, "checks[0].bearer_token_file: " + problem.format(path=path))


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ("basic_auth: {username: u, password_file: secret}", "basic_auth.password_file"),
        ("headers: {X-Probe: x}, bearer_token_file: secret", "bearer_token_file"),
    ],
)
def test_a_secret_of_two_lines_is_refused_for_every_key_that_reads_one(
    tmp_path: Path, entry: str, key: str
) -> None:
    (tmp_path / "secret").write_text("hunter2\nhunter3\n")
    refused(
        tmp_path,
        f"checks: [{{name: web, type: http, url: 'http://x/', {entry}}}]\n",
        f"checks[0].{key}: {tmp_path}/secret holds more than one line: a secret is one line",
    )


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/dev/zero", "cannot read /dev/zero: not a regular file"),  # never read for ever
        ("{dir}", "cannot read {dir}: Is a directory"),
        ("big", "cannot read {dir}/big: larger than 64 KiB"),
    ],
)
def test_a_token_file_that_is_no_small_regular_file_is_refused_unread(
    tmp_path: Path, path: str, problem: str
) -> None:
    (tmp_path / "big").write_bytes(b"t" * (64 * 1024 + 1))
    entry = f"bearer_token_file: '{path.format(dir=tmp_path)}'"
    refused(
        tmp_path,
        f"checks: [{{name: web, type: http, url: 'http://x/', {entry}}}]\n",
        "checks[0].bearer_token_file: " + problem.format(dir=tmp_path),
    )


def test_a_token_file_with_a_trailing_line_break_is_read_without_it(tmp_path: Path) -> None:
    (tmp_path / "token").write_bytes(b"  s3cret-token\r\n")
    plan = load(
        tmp_path, "checks: [{name: web, type: http, url: 'http://x/', bearer_token_file: token}]\n"
    )
    assert plan.checks[0].options.token == "s3cret-token"
