"""Store checks and the syslog sink in the config file: every bad key named, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.checks.stores.file import FileStoreOptions
from exporter.options import Seconds
from exporter.sinks.syslog import Format, Framing, SyslogOptions, Transport
from tests.support.config_files import load, refused

LOGGING = "  - {name: logging, type: logging}\n"
SECOND = "checks:\n" + LOGGING + "  - "  # the second check of a config


def test_a_file_store_check_and_a_syslog_sink_load(tmp_path: Path) -> None:
    plan = load(
        tmp_path,
        "sinks:\n  - {name: central, type: syslog, address: '127.0.0.1:514', protocol: tcp,"
        " format: rfc3164, framing: lf, facility: daemon, app_name: web}\n"
        + SECOND
        + "{name: store, type: file, path: central.log,"
        " max_delay: 10s, late_window: 5m, recheck_window: 1h, max_pending: 50}\n",
    )
    assert plan.sinks[0].options == SyslogOptions(
        "127.0.0.1:514", Transport.TCP, Format.RFC3164, Framing.LF, "daemon", "web"
    )
    assert plan.checks[1].options == FileStoreOptions(
        path=tmp_path / "central.log",
        max_delay=Seconds(10),
        late_window=Seconds(300),
        recheck_window=Seconds(3600),
        max_pending=50,
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            "checks:\n  - {name: store, type: file, path: c.log}\n",
            "checks[0].type: 'file' looks for the canary that a logging check writes: "
            "add a check of type logging",
            id="store-without-logging",
        ),
        pytest.param(
            SECOND + "{name: store, type: file}\n",
            "checks[1].path: missing: this key is required",
            id="file-store-without-path",
        ),
        pytest.param(
            SECOND + "{name: store, type: file, path: c.log, max_pending: 0}\n",
            "checks[1].max_pending: 0 must be at least 1",
            id="max-pending-zero",
        ),
        pytest.param(
            "checks:\n"
            + LOGGING
            + "  - {name: store, type: file, path: c.log, max_delay: 1m, late_window: 30s}\n",
            "checks[1].late_window: 30s is shorter than max_delay 60s",
            id="late-window-too-short",
        ),
        pytest.param(
            SECOND + "{name: store, type: file, path: c.log, max_delay: soon}\n",
            "checks[1].max_delay: 'soon' is not a duration: write it as 500ms, 2s, 1m or 1h30m",
            id="max-delay-not-a-duration",
        ),
        pytest.param(
            "checks:\n"
            + LOGGING
            + "  - {name: l, type: loki, url: 'http://l:3100', selector: job}\n",
            "checks[1].selector: 'job' is not a LogQL stream selector",
            id="loki-selector",
        ),
        pytest.param(
            "checks:\n"
            + LOGGING
            + "  - {name: l, type: loki, url: 'ftp://l', selector: '{a=\"b\"}'}\n",
            "checks[1].url: 'ftp://l' is not an http:// or https:// URL with a host",
            id="loki-url",
        ),
        pytest.param(
            "checks:\n"
            + LOGGING
            + "  - {name: e, type: elasticsearch, url: 'http://e', index: 'a b'}\n",
            "checks[1].index: 'a b' is not an index name or pattern",
            id="es-index",
        ),
        pytest.param(
            SECOND + "{name: e, type: elasticsearch, url: 'http://e', index: i, field: 'a..b'}\n",
            "checks[1].field: 'a..b' is not a field name, as run_id or json.run_id",
            id="es-field",
        ),
        pytest.param(
            SECOND + "{name: e, type: elasticsearch, url: 'http://e', index: i,"
            " api_key_file: missing.key}\n",
            "checks[1].api_key_file: cannot read {dir}/missing.key: No such file or directory",
            id="es-api-key-file",
        ),
        pytest.param(
            "checks:\n"
            + LOGGING
            + "  - {name: j, type: journal, url: 'http://j', field: run_id}\n",
            "checks[1].field: 'run_id' is not a journal field name, as RUN_ID",
            id="journal-field",
        ),
        pytest.param(
            "checks:\n"
            + LOGGING
            + "  - {name: j, type: journal, url: 'http://j', scan_entries: 0}\n",
            "checks[1].scan_entries: 0 must be at least 1",
            id="journal-scan-entries",
        ),
        pytest.param(
            "sinks: [{name: s, type: syslog}]\n",
            "sinks[0].address: missing: this key is required",
            id="syslog-without-address",
        ),
        pytest.param(
            "sinks: [{name: s, type: syslog, address: nowhere}]\n",
            "sinks[0].address: 'nowhere' has no port: use host:port, :port or [v6]:port",
            id="syslog-address-without-port",
        ),
        pytest.param(
            "sinks: [{name: s, type: syslog, address: ':514'}]\n",
            "sinks[0].address: ':514' needs a host and a port",
            id="syslog-address-without-host",
        ),
        pytest.param(
            "sinks: [{name: s, type: syslog, address: dev/log, protocol: unix}]\n",
            "sinks[0].address: 'dev/log' is not an absolute socket path",
            id="syslog-unix-relative",
        ),
        pytest.param(
            "sinks: [{name: s, type: syslog, address: '127.0.0.1:514', protocol: sctp}]\n",
            "sinks[0].protocol: 'sctp' is not one of udp, tcp, unix",
            id="syslog-protocol",
        ),
        pytest.param(
            "sinks: [{name: s, type: syslog, address: '127.0.0.1:514', framing: nul}]\n",
            "sinks[0].framing: 'nul' is not one of octet-counting, lf",
            id="syslog-framing",
        ),
        pytest.param(
            "sinks: [{name: s, type: syslog, address: '127.0.0.1:514', facility: local8}]\n",
            "sinks[0].facility: 'local8' is not one of kern, user, mail, daemon, auth, syslog,"
            " lpr, news, uucp, cron, authpriv, ftp, local0, local1, local2, local3, local4,"
            " local5, local6, local7",
            id="syslog-facility",
        ),
        pytest.param(
            "sinks: [{name: s, type: syslog, address: '127.0.0.1:514', app_name: 'my app'}]\n",
            "sinks[0].app_name: 'my app' is not 1 to 48 printable ASCII characters",
            id="syslog-app-name",
        ),
    ],
)
def test_each_error_names_its_key(tmp_path: Path, text: str, problem: str) -> None:
    refused(tmp_path, text, problem.replace("{dir}", str(tmp_path)))
