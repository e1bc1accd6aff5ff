"""What `make dist` builds: the wheel, installed into a fresh venv, serves as `make run` does;
the sdist carries the whole source tree and the wheel the whole package."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter import __version__
from exporter.cli import PROG
from tests.integration import exporter_process
from tests.integration.conftest import Start
from tests.integration.exporter_process import finished_lines
from tests.promtool import require
from tests.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
NAME = "smoke_test_exporter"
# pip may fetch setuptools (for the isolated builds) and the dependencies from PyPI; its cache
# keeps it quick: the build and install took 10 s here (24-64 s beside stress-ng --cpu 2).
# This bounds each command against a slow index.
TIMEOUT = 300
CANARY = "Smoke test endpoint triggered. Logging is confirmed to be operational."
# git tracks it, but only git reads it.
NOT_IN_SDIST = {".gitignore"}


@dataclass(frozen=True)
class Dist:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class Installed:
    venv: Path

    @property
    def command(self) -> Path:
        return self.venv / "bin" / PROG


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a command to its end within TIMEOUT; a non-zero exit fails with its output."""
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """The sdist and wheel, built as `make dist` builds them: the wheel from the unpacked sdist."""
    if importlib.util.find_spec("build") is None:
        message = "the build package is not installed (`make test` installs the test extra)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    sdist, wheel = f"{NAME}-{__version__}.tar.gz", f"{NAME}-{__version__}-py3-none-any.whl"
    assert {p.name for p in out.iterdir()} == {sdist, wheel}
    return Dist(out / sdist, out / wheel)


@pytest.fixture(scope="module")
def installed(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel in a venv of its own, on the base Python, without the repository's .venv."""
    venv = tmp_path_factory.mktemp("venv")
    # No pip inside: this Python's pip installs into it (--python), which spares the ~9 s of
    # ensurepip; the venv holds only the wheel and its dependencies.
    run(sys.executable, "-m", "venv", "--clear", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", dist.wheel)
    return Installed(venv)


@pytest.fixture
def installed_command(installed: Installed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The integration tests' `start` fixture runs the installed command instead of .venv's."""
    monkeypatch.setattr(exporter_process, "SCRIPT", str(installed.command))


def test_installed_command_prints_the_package_version(installed: Installed) -> None:
    result = run(installed.command, "--version")
    assert (result.stdout, result.stderr) == (f"{PROG} {__version__}\n", "")


def test_installed_command_runs_the_package_of_its_own_venv(
    installed: Installed, tmp_path: Path
) -> None:
    shebang = installed.command.read_text().splitlines()[0]
    assert shebang == f"#!{installed.venv}/bin/python"
    # From an empty directory, with this environment: the repository (the working directory,
    # an editable install, PYTHONPATH) must not be where the package comes from.
    found = run(
        installed.venv / "bin" / "python",
        "-c",
        "import exporter; print(exporter.__file__)",
        cwd=tmp_path,
    ).stdout.strip()
    site = installed.venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert found == str(site / "site-packages" / "exporter" / "__init__.py")


@pytest.mark.usefixtures("installed_command")
def test_installed_command_serves_a_passing_smoke_test(
    installed: Installed, start: Start, tmp_path: Path
) -> None:
    log_file = tmp_path / "logs" / "exporter.log"
    log_file.parent.mkdir()
    # No config file: the stdout sink, the file sink of --log.file and the logging check.
    process = start(f"--log.file={log_file}")
    assert process.process.args == [
        str(installed.command),
        "--web.listen-address=127.0.0.1:0",
        "--smoke-test.min-interval=0",
        f"--log.file={log_file}",
    ]
    process.wait_ready()
    response = process.get("/smoke-test")
    assert (response.status, response.headers["Content-Type"]) == (
        200,
        "application/json; charset=utf-8",
    )
    body = response.json()
    assert sorted(body) == [
        "age_seconds",
        "cached",
        "checks",
        "duration_seconds",
        "message",
        "run_id",
        "status",
        "timestamp",
        "trigger",
    ]
    assert (body["status"], body["message"], body["trigger"], body["cached"]) == (
        "ok",
        "PetSage systems are purring perfectly!",
        "http",
        False,
    )
    logging = body["checks"]["logging"]
    assert list(body["checks"]) == ["logging"]
    assert (logging["status"], logging["sinks"]) == ("ok", {"stdout": "ok", "file": "ok"})

    def canary_in_file() -> bool:
        return any(
            line["message"] == CANARY and line.get("run_id") == body["run_id"]
            for line in finished_lines(log_file)
        )

    wait_until(canary_in_file, f"the canary of run {body['run_id']} is in {log_file}")


def test_sdist_carries_every_file_git_tracks(dist: Dist) -> None:
    tracked = run(require("git", "git"), "ls-files", "-z").stdout.split("\0")
    # A file deleted in the working tree but not yet in git's index is not in the sdist either.
    wanted = {path for path in tracked if path and (ROOT / path).is_file()} - NOT_IN_SDIST
    prefix = f"{NAME}-{__version__}/"
    with tarfile.open(dist.sdist) as sdist:
        shipped = {m.name.removeprefix(prefix) for m in sdist.getmembers() if m.isfile()}
    assert sorted(wanted - shipped) == []


def test_wheel_carries_the_whole_package(dist: Dist) -> None:
    package = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "exporter").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    metadata = f"{NAME}-{__version__}.dist-info/"
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = wheel.namelist()
        entry_points = wheel.read(metadata + "entry_points.txt").decode()
    # Every file of the package, data files too (py.typed; anything the code opens at run time).
    assert {n for n in names if not n.startswith(metadata)} == package
    assert "exporter/py.typed" in package
    assert entry_points == f"[console_scripts]\n{PROG} = exporter.cli:run\n"


def test_wheel_offers_fastapi_as_an_extra_only(dist: Dist) -> None:
    metadata = f"{NAME}-{__version__}.dist-info/METADATA"
    with zipfile.ZipFile(dist.wheel) as wheel:
        lines = wheel.read(metadata).decode().splitlines()
    fastapi = [line for line in lines if line.startswith("Requires-Dist: fastapi")]
    # The test extra has it too (the tests run the router); the runtime has it in no case.
    assert fastapi == [
        'Requires-Dist: fastapi>=0.115; extra == "test"',
        'Requires-Dist: fastapi>=0.115; extra == "fastapi"',
    ]
    assert "Provides-Extra: fastapi" in lines


def test_installed_wheel_serves_the_aiohttp_face_without_fastapi(
    installed: Installed, tmp_path: Path
) -> None:
    # The base install has aiohttp; FastAPI is imported by its router's module alone.
    code = (
        "import exporter.inside.aiohttp_app\n"
        "try:\n"
        "    import exporter.inside.fastapi_router\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error.name)\n"
    )
    result = run(installed.venv / "bin" / "python", "-c", code, cwd=tmp_path)
    assert (result.stdout, result.stderr) == ("fastapi\n", "")
