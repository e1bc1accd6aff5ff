"""The status page's HTML, rendered on the server from the status view: complete without
JavaScript, every text from outside escaped."""

from __future__ import annotations

from html import escape
from typing import Any

from exporter.status.assets import Assets

MARK_CLASSES = {"warn": "w", "fail": "f"}
TITLES = {"ok": "OK", "warn": "Warning", "fail": "Failing", "unknown": "No run yet"}


def render(view: dict[str, Any], assets: Assets) -> str:
    """The page of ``view`` (exporter.status.view.status_view)."""
    status = view["status"]
    title = f"{view['symbol']} {TITLES[status]} · smoke-test-exporter · {view['instance']}"
    checks = "\n".join(_check(check) for check in view["checks"])
    failures = "\n".join(_failure(failure) for failure in view["failures"])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{escape(title)}</title>
<link rel="icon" href="data:,">
<style>{assets.css}</style>
</head>
<body>
<main id="status" data-status="{escape(status)}" data-refresh="{view["refresh_seconds"]}">
<header>
<p class="brand">smoke-test-exporter <span id="version">{escape(view["version"])}</span> on
<span id="instance">{escape(view["instance"])}</span></p>
<h1 id="verdict"><span class="symbol" aria-hidden="true">{escape(view["symbol"])}</span>
<span class="text">{escape(view["verdict"])}</span></h1>
<p id="message"{_hidden(view["message"])}>{escape(view["message"])}</p>
<p class="when"{_hidden(view["finished"])}>Last run finished {_time("finished", view)}</p>
<p id="stale" role="status" hidden></p>
<nav id="links" aria-label="Endpoints"><ul>
{"".join(_link(link) for link in view["links"])}</ul></nav>
</header>
<section aria-labelledby="checks-title">
<h2 id="checks-title">Checks</h2>
<ol id="checks">
{checks}
</ol>
</section>
<section aria-labelledby="failures-title">
<h2 id="failures-title">Last failures</h2>
<ol id="failures">
{failures}
</ol>
<p id="no-failures" class="muted"{_hidden(not view["failures"])}>None yet.</p>
</section>
</main>
<script>{assets.script}</script>
</body>
</html>
"""


def _hidden(shown: object) -> str:
    """The ``hidden`` attribute of an element with nothing to show."""
    return "" if shown else " hidden"


def _time(element_id: str, view: dict[str, Any]) -> str:
    exact = view["finished"] or ""
    return (
        f'<time id="{element_id}" datetime="{escape(exact)}" title="{escape(exact)}">'
        f"{escape(view['age'] or '')}</time>"
    )


def _link(link: dict[str, str]) -> str:
    path, text = escape(link["path"]), escape(link["text"])
    if link["method"] == "GET":  # relative, so the page works behind a path prefix too
        return f'<li><a href=".{path}">{path}</a> <span class="muted">{text}</span></li>\n'
    return (
        f'<li><code>{escape(link["method"])} {path}</code> <span class="muted">{text}</span></li>\n'
    )


def _check(check: dict[str, Any]) -> str:
    """One check's card: its state in words and symbol, why, its figures and its strip."""
    status = escape(check["status"])
    reason, error = check["reason"] or "", check["error"] or ""
    marks = "".join(_mark(m) for m in check["strip"])
    parts = "".join(
        f'<li data-part="{escape(p["name"])}" data-status="{escape(p["status"])}">'
        f"{escape(_part_text(p))}</li>"
        for p in check["parts"]
    )
    canaries = check["canaries"] or {}
    counts = "".join(
        f"<div><dt>{escape(key)}</dt><dd>{value}</dd></div>" for key, value in canaries.items()
    )
    delay, observed, cert = check["newest_delay"], check["observed"], check["cert"]
    strip = escape(check["strip_text"])
    return f"""<li class="check" data-check="{escape(check["name"])}" data-status="{status}">
<div class="head"><h3 class="name">{escape(check["name"])}</h3>
<span class="state">{escape(check["symbol"])} {status}</span></div>
<p class="target"{_hidden(check["target"])}>{escape(check["target"] or "")}</p>
<p class="problem"{_hidden(reason or error)}><span class="reason">{escape(reason)}</span>
<span class="error">{escape(error)}</span></p>
<p class="facts"><span class="observed"{_hidden(observed)}>{escape(observed or "")}</span>
<span class="cert"{_hidden(cert)}>{escape(cert or "")}</span>
<span class="delay"{_hidden(delay)}>newest canary after {escape(delay or "")}</span>
<span><span class="uptime">{escape(check["uptime"]["text"])}</span> up in 24 h</span></p>
<div class="strip" role="img" title="{strip}" aria-label="{strip}">{marks}</div>
<ul class="parts" aria-label="Sinks"{_hidden(parts)}>{parts}</ul>
<dl class="canaries" aria-label="Canaries"{_hidden(counts)}>{counts}</dl>
</li>"""


def _part_text(part: dict[str, Any]) -> str:
    """``file: ok in 4.1 ms``."""
    took = f" in {part['text']}" if part["text"] else ""
    return f"{part['name']}: {part['status']}{took}"


def _mark(mark: dict[str, Any]) -> str:
    """One result in the strip. A pass is a bare ``<i>``; a warning or a failure has its
    class and its time and reason on hover: 2,500 marks at 50 checks stay small."""
    status = mark["status"]
    if status == "ok":
        return "<i></i>"
    reason = f" ({mark['reason']})" if mark["reason"] else ""
    title = escape(f"{mark['time']} {status}{reason}")
    return f'<i class="{MARK_CLASSES[status]}" title="{title}"></i>'


def _failure(failure: dict[str, Any]) -> str:
    """One line: when, which check, why, and how often since when."""
    last = escape(failure["last"])
    why = ": ".join(escape(text) for text in (failure["reason"], failure["error"]) if text)
    return (
        f'<li class="failure" data-check="{escape(failure["check"])}">'
        f'<time datetime="{last}" title="{last}">{escape(failure["at"])}</time> '
        f"<b>{escape(failure['check'])}</b> {why} "
        f'<span class="fold">{escape(failure["text"])}</span></li>'
    )
