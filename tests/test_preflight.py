"""--config.check: the files are loaded and checked whole, and nothing starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from exporter.cli import main
from tests.conftest import FakeServe
from tests.entry_points import ENTRY_POINTS, run_entry_point

CONFIG = """
sinks:
  - {name: stdout, type: stdout}
  - {name: central, type: file, path: central.log}
checks:
  - {name: logging, type: logging}
  - {name: loki, type: loki, url: "http://127.0.0.1:3100", selector: '{job="x"}',
     bearer_token_file: token.txt}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "smoke-test.yml"
    path.write_text(CONFIG)
    (tmp_path / "token.txt").write_text("s3cret\n")
    return path


def test_a_good_config_prints_its_counts_and_serves_nothing(
    config: Path, served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config.check", f"--config.file={config}"], {}) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("config OK: 2 sinks, 2 checks\n", "")
    assert served.calls == []


def test_without_a_config_file_the_flags_plan_is_checked(
    tmp_path: Path, served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config.check", f"--log.file={tmp_path / 'x.log'}"], {}) == 0
    assert capsys.readouterr().out == "config OK: 2 sinks, 1 checks\n"
    assert not (tmp_path / "x.log").exists()  # checked, never opened
    assert served.calls == []


@pytest.mark.parametrize(
    ("change", "line"),
    [
        pytest.param(
            ("bearer_token_file: token.txt", "bearer_token_file: gone.txt"),
            "checks[1].bearer_token_file: cannot read {dir}/gone.txt: No such file or directory",
            id="secret-file",
        ),
        pytest.param(
            ("type: logging}", "type: logging, timout: 1s}"),
            "checks[0].timout: unknown key (known: name, type, timeout, objective)",
            id="unknown-key",
        ),
    ],
)
def test_a_bad_config_file_is_one_line_naming_the_key_and_exit_2(
    config: Path,
    change: tuple[str, str],
    line: str,
    served: FakeServe,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config.write_text(CONFIG.replace(*change))
    assert main(["--config.check", f"--config.file={config}"], {}) == 2
    captured = capsys.readouterr()
    expected = line.format(dir=config.parent)
    assert captured.err == f"smoke-test-exporter: error: --config.file: {config}: {expected}\n"
    assert captured.out == ""
    assert served.calls == []


def test_a_web_config_is_checked_with_its_certificate_files(
    tmp_path: Path, served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n")
    assert main(["--config.check", f"--web.config.file={web}"], {}) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "smoke-test-exporter: error: --web.config.file: tls_server_config.cert_file: "
        f"cannot read {tmp_path}/missing.pem: No such file or directory\n"
    )
    assert captured.out == ""
    assert served.calls == []


@pytest.mark.parametrize("command", list(ENTRY_POINTS.values()), ids=list(ENTRY_POINTS))
def test_the_check_binds_no_port_and_writes_no_canary(
    command: list[str], config: Path, tmp_path: Path
) -> None:
    log_file = tmp_path / "exporter.log"
    with socket.socket() as taken:  # serving would fail on it with exit 1
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_entry_point(
            command,
            "--config.check",
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--log.file={log_file}",
        )
    assert (done.returncode, done.stdout, done.stderr) == (0, "config OK: 3 sinks, 2 checks\n", "")
    assert not log_file.exists()
    assert not (tmp_path / "central.log").exists()
