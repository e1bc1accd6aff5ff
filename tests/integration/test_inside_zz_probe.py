import contextlib, json
from pathlib import Path
from tests.disks import tiny_filesystem
from tests.integration.test_inside_services import *  # noqa

def test_probe(start_host, tmp_path):
    with tiny_filesystem(tmp_path / "disk") as disk:
        host = start_host(disk)
        try:
            print(host.smoke()[1])
            log = host.log
            padding = -(log.stat().st_size + len('{"pad": ""}\n')) % PAGE
            with log.open("a") as f:
                f.write('{"pad": "' + "x" * padding + '"}\n')
            with (disk / "filler").open("ab", buffering=0) as filler, contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * 512)
            size = log.stat().st_size
            a, b = host.smoke(); print(a.status, json.dumps(b, indent=1))
            print(size, log.stat().st_size)
            a, b = host.smoke(); print(a.status, json.dumps(b, indent=1))
            (disk / "filler").unlink()
            a, b = host.smoke(); print(a.status, json.dumps(b, indent=1))
            print(log.read_text()[-3000:])
            print(host.stderr.read_text()[-3000:])
        finally:
            host.process.kill(); host.process.wait()
