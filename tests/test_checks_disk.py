"""The disk check on real directories and a 64 KiB tmpfs that really fills up."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from exporter.checks.disk import PROBE_PREFIX, DiskCheck, DiskOptions, DiskReason, percent, size
from exporter.verdict import Component, Observed, Status
from tests.conftest import StartExporter
from tests.disks import tiny_filesystem
from tests.support.config_files import refused


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def total_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (32 * 1024, "32.0 KiB"),
        (8 * 1024**2 + 1024**2 // 10, "8.1 MiB"),
        (1024**3 - 1, "1024.0 MiB"),
        (1024**3, "1.0 GiB"),
        (5 * 1024**4, "5.0 TiB"),
        (3 * 1024**6, "3072.0 PiB"),
    ],
)
def test_sizes_read_in_binary_units(count: int, text: str) -> None:
    assert size(count) == text


@pytest.mark.parametrize(
    ("ratio", "text"), [(0.0, "0.0 %"), (0.0312, "3.1 %"), (0.9, "90.0 %"), (1.0, "100.0 %")]
)
def test_ratios_read_as_percentages(ratio: float, text: str) -> None:
    assert percent(ratio) == text


def fill(path: Path, size: int) -> None:
    """A file of ``size`` bytes, or as many as fit."""
    try:
        with path.open("wb") as f:
            f.write(b"x" * size)
    except OSError:
        pass


def test_a_roomy_writable_directory_is_ok_and_leaves_no_probe_behind(tmp_path: Path) -> None:
    result = DiskCheck(DiskOptions(tmp_path, min_free_bytes=1)).look()
    assert (result.status, result.reason, result.error) == (Status.OK, None, None)
    assert result.observed is not None
    assert result.observed.unit == "bytes"
    assert abs(result.observed.value - free_bytes(tmp_path)) < 1024 * 1024
    assert list(tmp_path.iterdir()) == []


def test_a_missing_directory_fails_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "logs"
    check = DiskCheck(DiskOptions(path, min_free_ratio=0.0))
    result = check.look()
    assert (result.status, result.reason, result.error, result.component) == (
        Status.FAIL,
        DiskReason.MISSING,
        f"{path} does not exist",
        Component("path", str(path)),
    )
    assert result.observed is None
    path.mkdir()
    assert check.look().status is Status.OK


def test_a_file_in_the_directorys_place_is_not_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "logs"
    path.write_text("x")
    result = DiskCheck(DiskOptions(path, min_free_bytes=0)).look()
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        DiskReason.NOT_DIR,
        f"{path} is not a directory",
    )


def test_a_disk_filled_past_the_threshold_fails_and_recovers_when_freed(tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path / "disk") as disk:
        check = DiskCheck(DiskOptions(disk, min_free_bytes=32 * 1024))
        assert check.look().status is Status.OK
        fill(disk / "big", 40 * 1024)
        result = check.look()
        free = free_bytes(disk)
        assert free < 32 * 1024
        assert (result.status, result.reason, result.error, result.observed) == (
            Status.FAIL,
            DiskReason.FREE_SPACE,
            f"{size(free)} free ({percent(free / total_bytes(disk))}), under min_free_bytes "
            "32768 (32.0 KiB)",
            Observed(float(free), "bytes"),
        )
        (disk / "big").unlink()
        assert check.look().status is Status.OK


def test_a_ratio_under_the_warning_threshold_warns(tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path / "disk") as disk:
        fill(disk / "some", 24 * 1024)
        result = DiskCheck(
            DiskOptions(disk, min_free_ratio=0.1, warn_free_ratio=0.9, writable=False)
        ).look()
        st = os.statvfs(disk)
        ratio = st.f_bavail / st.f_blocks
        assert (result.status, result.reason, result.error) == (
            Status.WARN,
            DiskReason.FREE_SPACE,
            f"{ratio * 100:.1f} % free ({size(st.f_bavail * st.f_frsize)}), under "
            "warn_free_ratio 0.9 (90.0 %)",
        )
        assert result.ok


def test_a_full_disk_fails_the_write_probe_even_above_a_zero_threshold(tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path / "disk") as disk:
        fill(disk / "all", 1024 * 1024)  # everything there is
        assert free_bytes(disk) == 0
        result = DiskCheck(DiskOptions(disk, min_free_bytes=0)).look()
        assert (result.status, result.reason) == (Status.FAIL, DiskReason.WRITE)
        assert result.error is not None
        probe = re.escape(str(disk / PROBE_PREFIX)) + r"\d+-[0-9a-f]{8}"
        assert re.fullmatch(rf"cannot write {probe}: No space left on device", result.error)
        assert sorted(p.name for p in disk.iterdir()) == ["all"]  # the probe was removed
        (disk / "all").unlink()
        assert DiskCheck(DiskOptions(disk, min_free_bytes=0)).look().status is Status.OK


def test_writable_false_skips_the_probe(tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path / "disk") as disk:
        fill(disk / "all", 1024 * 1024)
        result = DiskCheck(DiskOptions(disk, min_free_bytes=0, writable=False)).look()
        assert result.status is Status.OK


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            "{name: d, type: disk, path: /var}",
            "checks[0]: give min_free_bytes, min_free_ratio or both",
        ),
        (
            "{name: d, type: disk, path: /var, min_free_ratio: 1.5}",
            "checks[0].min_free_ratio: 1.5 must be between 0 and 1",
        ),
        (
            "{name: d, type: disk, path: /var, min_free_bytes: -1}",
            "checks[0].min_free_bytes: -1 must not be negative",
        ),
        (
            "{name: d, type: disk, min_free_bytes: 1}",
            "checks[0].path: missing: this key is required",
        ),
        (
            "{name: d, type: disk, path: /var, min_free_bytes: 1, writeable: true}",
            "checks[0].writeable: unknown key (known: name, type, timeout, objective, retries, "
            "retry_delay, path, min_free_bytes, min_free_ratio, warn_free_bytes, "
            "warn_free_ratio, writable)",
        ),
    ],
)
def test_bad_disk_options_name_their_key(tmp_path: Path, entry: str, problem: str) -> None:
    refused(tmp_path, f"checks: [{entry}]\n", problem)


async def test_a_disk_check_in_the_config_file_answers_and_is_measured(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    with tiny_filesystem(tmp_path / "disk") as disk:
        config = tmp_path / "smoke-test.yml"
        config.write_text(
            "checks:\n"
            "  - {name: logging, type: logging}\n"
            f"  - {{name: log-disk, type: disk, path: {disk}, min_free_bytes: 32768}}\n"
        )
        exporter = await start_exporter(config_file=config)
        status, body = await exporter.smoke()
        assert status == 200
        entry = body["checks"]["log-disk"]
        assert entry == {
            "status": "ok",
            "duration_seconds": entry["duration_seconds"],
            "observed_value": float(free_bytes(disk)),
            "observed_unit": "bytes",
        }
        assert exporter.sample("smoke_test_check_observed_value", check="log-disk") == float(
            free_bytes(disk)
        )
        fill(disk / "big", 40 * 1024)
        status, body = await exporter.smoke()
        assert status == 503
        free = free_bytes(disk)
        assert body["message"] == (
            f"Smoke test failed: check log-disk failed on path {disk}: "
            f"{size(free)} free ({percent(free / total_bytes(disk))}), under min_free_bytes "
            "32768 (32.0 KiB)"
        )
        assert body["checks"]["log-disk"]["reason"] == "free_space"
        labels = {"check": "log-disk", "reason": "free_space"}
        assert exporter.sample("smoke_test_check_failures_total", **labels) == 1
        for reason in ("missing", "not_dir", "write", "timeout", "exception"):
            assert (
                exporter.sample("smoke_test_check_failures_total", check="log-disk", reason=reason)
                == 0
            )
        (disk / "big").unlink()
        assert (await exporter.smoke())[0] == 200
        await exporter.client.close()  # before the tmpfs goes
