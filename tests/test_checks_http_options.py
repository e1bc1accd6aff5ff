"""The http check's options as the config file gives them: each bad one names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.config_files import refused


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
