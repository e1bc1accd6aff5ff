"""The canary's signature: HMAC-SHA256 of run_id, seq and instance under the process's key (made
at start-up, or read from --smoke-test.canary-key-file), checked in constant time; a line whose
signature fails is forged, never found, and counted once per canary."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from exporter.checks.canaries import CanaryLedger, signed_text
from exporter.checks.stores.book import Sightings
from exporter.checks.stores.elasticsearch import seen_in_hit
from exporter.checks.stores.journal import seen_in_entry
from exporter.checks.stores.lines import Copies, Seen, seen_in_line
from exporter.cli import parse_settings
from tests.conftest import StartExporter
from tests.support.books import FORGERIES, Books, body, forged, zero

KEY = b"kitten-sandwich-4711-not-a-real-key"


def key_file(tmp_path: Path, text: bytes = KEY + b"\n") -> Path:
    path = tmp_path / "canary.key"
    path.write_bytes(text)
    return path


def test_the_signature_is_hmac_sha256_of_the_fields_as_netstrings_cut_to_128_bits() -> None:
    ledger = CanaryLedger("web-1", KEY)
    canary = ledger.write("0123456789abcdef0123456789abcdef")
    text = b"29:smoke-test-exporter canary v1,32:0123456789abcdef0123456789abcdef,1:1,5:web-1,"
    assert signed_text(canary.run_id, 1, "web-1") == text
    assert canary.signature == hmac.new(KEY, text, hashlib.sha256).hexdigest()[:32]
    assert len(canary.signature) == 32


def test_no_two_sets_of_fields_are_signed_alike() -> None:
    # Joined plainly, each pair would be one text.
    assert signed_text("ab", 12, "c") != signed_text("ab1", 2, "c")
    assert signed_text("a,1:b", 1, "c") != signed_text("a", 1, "b,1:c")
    ledger = CanaryLedger("c", KEY)
    assert ledger.sign("ab", 12) != ledger.sign("ab1", 2)


def test_two_exporters_given_the_same_key_file_verify_each_others_canaries(
    tmp_path: Path,
) -> None:
    argv = ["--smoke-test.canary-key-file", str(key_file(tmp_path))]
    first, second = parse_settings(argv, {}), parse_settings(argv, {})
    assert first.canary_key is not None
    assert second.canary_key is not None
    one = CanaryLedger("web-1", first.canary_key.key)
    two = CanaryLedger("web-1", second.canary_key.key)
    mine, theirs = one.write("a" * 32), two.write("b" * 32)
    assert two.genuine(mine.run_id, mine.seq, mine.signature) is True
    assert one.genuine(theirs.run_id, theirs.seq, theirs.signature) is True
    own_key = CanaryLedger("web-1")  # no key file: a key of its own
    assert own_key.genuine(mine.run_id, mine.seq, mine.signature) is False
    assert CanaryLedger("web-2", first.canary_key.key).genuine("a" * 32, 1, mine.signature) is False


def test_without_a_key_file_each_ledger_makes_a_key_of_its_own() -> None:
    one, two = CanaryLedger("web-1"), CanaryLedger("web-1")
    assert one.sign("a" * 32, 1) != two.sign("a" * 32, 1)
    assert one.sign("a" * 32, 1) == one.sign("a" * 32, 1)


def test_a_signature_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[str, str]] = []

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(hmac, "compare_digest", spy)  # as canaries looks it up
    ledger = CanaryLedger("web-1", KEY)
    canary = ledger.write("a" * 32)
    assert ledger.genuine(canary.run_id, 1, canary.signature) is True
    assert ledger.genuine(canary.run_id, 1, "0" * 32) is False
    assert compared == [(canary.signature, canary.signature), (canary.signature, "0" * 32)]


@pytest.mark.parametrize("how", FORGERIES)
def test_a_forged_line_is_seen_as_forged(how: str) -> None:
    ledger = CanaryLedger("host-a", KEY)
    canary = ledger.write("a" * 32)
    text = json.dumps(body(canary, **forged(how, ledger, canary)))
    assert seen_in_line(text, ledger) == Seen(canary.key, False)
    assert seen_in_line(json.dumps(body(canary)), ledger) == Seen(canary.key, True)


@pytest.mark.parametrize(
    "signature",
    [None, 7, ["x"], "", "é" * 32, "\udcff" * 32],
    ids=["null", "number", "list", "empty", "non-ascii", "surrogates"],
)
def test_a_signature_that_is_not_hex_text_is_forged_and_raises_nothing(signature: Any) -> None:
    ledger = CanaryLedger("host-a", KEY)
    canary = ledger.write("a" * 32)
    fields = body(canary) | {"signature": signature}
    assert seen_in_line(json.dumps(fields), ledger) == Seen(canary.key, False)
    assert seen_in_line(json.dumps(fields | {"run_id": "\udcff"}), ledger) == Seen(
        ("\udcff", 1), False
    )


def test_the_signature_is_compared_exactly_not_in_upper_case() -> None:
    ledger = CanaryLedger("host-a", KEY)
    canary = ledger.write("a" * 32)
    fields = body(canary) | {"signature": canary.signature.upper()}
    assert canary.signature != canary.signature.upper()
    assert seen_in_line(json.dumps(fields), ledger) == Seen(canary.key, False)


def test_a_journal_entry_is_signed_by_its_message_or_by_its_fields() -> None:
    ledger = CanaryLedger("host-a", KEY)
    canary = ledger.write("a" * 32)
    fields = {"RUN_ID": canary.run_id, "SEQ": "1", "INSTANCE": "host-a"}
    signed = fields | {"SIGNATURE": canary.signature}
    assert seen_in_entry({"MESSAGE": json.dumps(body(canary))}, ledger) == (canary.key, True)
    assert seen_in_entry({"MESSAGE": "plain text", **signed}, ledger) == (canary.key, True)
    assert seen_in_entry({"MESSAGE": "plain text", **fields}, ledger) == (canary.key, False)
    unsigned = json.dumps(body(canary, signature=None))
    assert seen_in_entry({"MESSAGE": unsigned, **signed}, ledger) == (canary.key, False)
    assert seen_in_entry({**signed, "SEQ": "²"}, ledger) is None  # a digit int() refuses


def test_a_document_is_signed_by_its_fields_or_its_line() -> None:
    ledger = CanaryLedger("host-a", KEY)
    canary = ledger.write("a" * 32)
    assert seen_in_hit(body(canary), "run_id", ledger) == (canary.key, True)
    assert seen_in_hit(body(canary, signature=None), "run_id", ledger) == (canary.key, False)
    nested = {"json": body(canary), "message": "m"}
    assert seen_in_hit(nested, "json.run_id", ledger) == (canary.key, True)
    kept_whole = {"log": json.dumps(body(canary, signature="0" * 32))}
    assert seen_in_hit(kept_whole, "run_id", ledger) == (canary.key, False)


def test_the_book_counts_a_forged_canary_once_and_only_a_canary_it_asks_for() -> None:
    b = Books(max_delay=30)
    (canary,) = b.write()
    wanted = b.book.take(canary.written)
    # A forged line for a canary never written, or one of another run: not ours to count.
    strangers = frozenset({(canary.run_id, 99), ("f" * 32, 1)})
    b.book.settle(wanted, Sightings(forged=strangers), canary.written + 1)
    assert b.counts() == zero(written=1)
    b.book.settle(wanted, Sightings(forged=frozenset({canary.key})), canary.written + 1)
    assert b.counts() == zero(written=1, forged=1)
    wanted = b.book.take(canary.written + 2)
    b.book.settle(
        wanted, Sightings({canary.key: 1}, forged=frozenset({canary.key})), canary.written + 2
    )
    assert b.counts() == zero(written=1, found=1, forged=1)
    wanted = b.book.take(canary.written + 3)
    assert wanted.recheck is not None
    b.book.settle(wanted, Sightings(recheck=1, forged=frozenset({canary.key})), canary.written + 3)
    assert b.counts() == zero(written=1, found=1, forged=1)


def test_a_store_answer_keeps_only_forged_lines_of_canaries_asked_for() -> None:
    b = Books()
    one, two = b.write(2)
    copies = Copies(b.book.take(two.written))
    for seq in range(3, 10_003):  # a flood of guessed canaries: none is kept
        assert copies.add(Seen((one.run_id, seq), False)) is None
    assert copies.add(Seen(two.key, False)) is None
    assert copies.add(Seen(one.key, True)) == one.key
    assert copies.forged == {two.key}
    assert copies.answer() == Sightings({one.key: 1}, None, frozenset({two.key}))


def test_the_key_is_in_no_repr(tmp_path: Path) -> None:
    settings = parse_settings(["--smoke-test.canary-key-file", str(key_file(tmp_path))], {})
    assert settings.canary_key is not None
    assert settings.canary_key.key == KEY
    for text in (repr(settings), repr(settings.canary_key), repr(CanaryLedger("web-1", KEY))):
        assert KEY.decode() not in text
        assert KEY.hex() not in text


STORE = """
checks:
  - {name: logging, type: logging}
  - {name: central, type: file, path: central.log, max_delay: 10m, timeout: 10s}
"""


async def test_an_exporter_counts_a_forged_line_in_its_store_and_never_shows_its_key(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    config = tmp_path / "smoke-test.yml"
    config.write_text(STORE)
    central = tmp_path / "central.log"
    central.write_text("")
    settings = parse_settings(["--smoke-test.canary-key-file", str(key_file(tmp_path))], {})
    exporter = await start_exporter(
        config_file=config, instance="web-1", canary_key=settings.canary_key
    )
    (first,) = [line for line in exporter.stdout_lines() if "seq" in line]
    verifier = CanaryLedger("web-1", KEY)  # another exporter given the same key file
    assert verifier.genuine(first["run_id"], first["seq"], first["signature"]) is True
    with central.open("a") as f:  # someone who read run_id in the history, and guessed seq
        f.write(json.dumps({k: v for k, v in first.items() if k != "signature"}) + "\n")
    status, answer = await exporter.smoke()
    check = answer["checks"]["central"]
    assert (status, check["status"], check["reason"]) == (200, "warn", "pending")  # not found
    assert check["canaries"] == {"pending": 2, **zero(written=2, forged=1)}
    assert exporter.sample("smoke_test_canary_forged_total", store="central") == 1
    assert exporter.sample("smoke_test_canary_found_total", store="central") == 0
    shown = [(tmp_path / name).read_text() for name in ("stdout-0.log", "logs/exporter.log")] + [
        json.dumps(answer)
    ]
    for path, accept in [
        ("/smoke-test/history", "application/json"),
        ("/", "text/html"),
        ("/metrics", "text/plain"),
        ("/smoke-test", "application/health+json"),
    ]:
        async with exporter.client.get(path, headers={"Accept": accept}) as response:
            assert response.status in (200, 503)
            shown.append(await response.text())
    assert '"signature"' in shown[0]  # the canaries are there, signed; the key is not
    for text in shown:
        assert KEY.decode() not in text
        assert KEY.hex() not in text
