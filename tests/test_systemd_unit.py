"""deploy/systemd/: the unit passes `systemd-analyze verify` and `security`, and it and its
environment file give the exporter the settings they say."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from exporter.cli import PROG, parse_settings
from exporter.config import Settings
from exporter.flags import ENV_PREFIX, OPTIONS
from tests.promtool import require

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "systemd" / f"{PROG}.service"
ENV_FILE = ROOT / "deploy" / "systemd" / f"{PROG}.env"
# Where `pip install` into the system Python and a global pipx install put the command.
COMMAND = f"/usr/local/bin/{PROG}"
# `systemd-analyze security --offline=true` on systemd 252: 1.1 OK, measured. A change that
# raises it must say why here and in the README.
EXPOSURE = 1.1
EXPOSURE_LINE = re.compile(rf"→ Overall exposure level for {PROG}\.service: (\d+\.\d) (\w+)")
# Twins the environment file leaves out: the unit passes --log.file, and a flag wins.
SET_BY_THE_UNIT = {f"{ENV_PREFIX}LOG_FILE"}
# Commented lines show an example where the default is none, the host name or a new key.
EXAMPLES = {
    f"{ENV_PREFIX}CONFIG_FILE",
    f"{ENV_PREFIX}WEB_CONFIG_FILE",
    f"{ENV_PREFIX}SMOKE_TEST_INSTANCE",
    f"{ENV_PREFIX}SMOKE_TEST_CANARY_KEY_FILE",
}
# The key file is read as its variable is parsed, and is a credential the unit is given
# (LoadCredential=), at the path systemd gives it to the service.
KEY_FILE = f"{ENV_PREFIX}SMOKE_TEST_CANARY_KEY_FILE"
KEY_CREDENTIAL = f"/run/credentials/{UNIT.name}/canary.key"
ASSIGNMENT = re.compile(r"#?(SMOKE_TEST_EXPORTER_\w+)=(.*)")
# systemd's size suffixes are powers of 1024, as Kubernetes' Ki, Mi, Gi.
UNIT_SIZES = {"K": 1024, "M": 1024**2, "G": 1024**3}
KUBE_SIZES = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def unit_settings(text: str) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit, all sections together; a key may repeat."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";", "[")):
            continue
        key, sep, value = stripped.partition("=")
        assert sep, f"not a Key=value line: {line!r}"
        settings.setdefault(key, []).append(value)
    return settings


def one(key: str) -> str:
    (value,) = unit_settings(UNIT.read_text(encoding="utf-8"))[key]
    return value


def env_lines() -> dict[str, tuple[bool, str]]:
    """Each variable the environment file names: whether it is set (not commented), its value
    as systemd reads it (quotes removed)."""
    found: dict[str, tuple[bool, str]] = {}
    for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
        match = ASSIGNMENT.fullmatch(line)
        if match is None:
            continue
        name, raw = match.groups()
        (value,) = shlex.split(raw)
        assert name not in found, f"{name} appears twice"
        found[name] = (not line.startswith("#"), value)
    return found


def active_environment() -> dict[str, str]:
    return {name: value for name, (active, value) in env_lines().items() if active}


def exec_start_arguments() -> list[str]:
    """ExecStart's flags, with the one specifier it uses expanded as systemd does for a system
    service (%L: /var/log)."""
    command, *arguments = shlex.split(one("ExecStart"))
    assert command == COMMAND
    return [a.replace("%L", "/var/log") for a in arguments]


def analyze(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require("systemd-analyze", "systemd"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_systemd_analyze_verify_passes_the_unit_without_a_word(tmp_path: Path) -> None:
    # verify fails on an ExecStart binary that does not exist, and this host need not have the
    # command installed where the unit expects it: the copy points at this Python's console
    # script, which does exist. Everything else is the unit as shipped.
    text = UNIT.read_text(encoding="utf-8")
    installed = Path(sys.executable).parent / PROG
    assert text.count(f"ExecStart={COMMAND} ") == 1
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(f"ExecStart={COMMAND} ", f"ExecStart={installed} "))
    result = analyze("verify", copy)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_systemd_analyze_verify_names_a_missing_command(tmp_path: Path) -> None:
    # The check above can fail: the same unit with a command that is not there.
    copy = tmp_path / UNIT.name
    missing = tmp_path / "nowhere" / PROG
    copy.write_text(UNIT.read_text().replace(f"ExecStart={COMMAND} ", f"ExecStart={missing} "))
    result = analyze("verify", copy)
    assert (result.returncode, result.stderr) == (
        1,
        f"{UNIT.name}: Command {missing} is not executable: No such file or directory\n",
    )


def test_security_exposure_is_at_most_the_recorded_level() -> None:
    result = analyze("security", "--offline=true", UNIT)
    assert result.returncode == 0, result.stderr
    match = EXPOSURE_LINE.search(result.stdout)
    assert match is not None, result.stdout[-500:]
    assert float(match[1]) <= EXPOSURE, result.stdout
    assert match[2] == "OK"


def test_unit_is_hardened_with_a_user_of_its_own_and_no_privileges() -> None:
    settings = unit_settings(UNIT.read_text(encoding="utf-8"))
    required = {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "SystemCallFilter": "@system-service",
        "Restart": "on-failure",
        # SIGHUP reloads --config.file (tests/integration/test_reload.py).
        "ExecReload": "kill -HUP $MAINPID",
    }
    assert {key: settings[key][0] for key in required} == required


def test_unit_writes_the_log_file_into_its_logs_directory() -> None:
    settings = parse_settings(exec_start_arguments(), active_environment())
    assert settings.log_file == Path("/var/log") / one("LogsDirectory") / "exporter.log"


def test_unit_environment_file_is_the_one_the_example_installs_as() -> None:
    assert one("EnvironmentFile") == f"/etc/{one('ConfigurationDirectory')}/{ENV_FILE.name}"


def test_environment_file_names_every_twin_but_the_log_file() -> None:
    assert set(env_lines()) == {option.env for option in OPTIONS} - SET_BY_THE_UNIT


def test_environment_file_shows_the_defaults_and_examples_that_parse(tmp_path: Path) -> None:
    lines = env_lines()
    assert lines[KEY_FILE] == (False, KEY_CREDENTIAL)
    key = tmp_path / "canary.key"
    key.write_bytes(b"k" * 32)
    lines[KEY_FILE] = (False, str(key))
    differ: set[str] = set()
    for name, (_, value) in lines.items():
        # Each line alone, as the exporter reads it; a bad value raises.
        if parse_settings([], {name: value}) != Settings():
            differ.add(name)
    assert differ == EXAMPLES


def kubernetes_memory_limits() -> list[int]:
    limits: list[int] = []
    for manifest in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text(encoding="utf-8")):
            pod: Any = (doc or {}).get("spec", {}).get("template", {}).get("spec", {})
            for container in pod.get("containers", []):
                if container["name"] == PROG:
                    size = container["resources"]["limits"]["memory"]
                    limits.append(int(size[:-2]) * KUBE_SIZES[size[-2:]])
    return limits


def test_memory_max_is_the_kubernetes_limit() -> None:
    size = one("MemoryMax")
    assert kubernetes_memory_limits() == [int(size[:-1]) * UNIT_SIZES[size[-1]]] * 2
