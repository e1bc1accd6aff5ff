"""What the numbers were measured on: the CPU, memory, platform and the tools' versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import version


def machine() -> str:
    """What the numbers were measured on."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        memory = int(meminfo.readline().split()[1]) // 1024 // 1024
    blackbox = subprocess.run(
        ["prometheus-blackbox-exporter", "--version"], capture_output=True, text=True, check=False
    )
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return "\n".join(
        [
            f"- {os.cpu_count()} CPUs ({model}), {memory} GiB; {platform.platform()}",
            f"- Python {platform.python_version()}, aiohttp {version('aiohttp')}, "
            f"prometheus-client {version('prometheus-client')}; grpclib {version('grpclib')}, "
            f"protobuf {version('protobuf')}, dnspython {version('dnspython')}",
            f"- {(blackbox.stdout or blackbox.stderr).splitlines()[0]}",
            f"- {wrk.stdout.splitlines()[0] if wrk.stdout else 'wrk'}",
        ]
    )
