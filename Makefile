# The README's two commands: `make run` and `make test`. Both build .venv on first use.
# `make run` installs the command as .venv/bin/smoke-test-exporter (not on PATH) and starts it;
# `make dist` builds the wheel and sdist into dist/ for `pip install` or `pipx install`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run test test-repeat lint pytest tools axe-core screenshots grafana-rules kubernetes-rule bench dist clean

# Debian's python3 needs python3-venv for ensurepip; install it once when it is missing.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { \
	  echo "python3 -m venv failed; installing Debian's python3-venv" >&2; \
	  rm -rf $(VENV); \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-run: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/smoke-test-exporter $(ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The real servers the integration tests start on loopback, with temporary directories, each
# as the command that proves it is there and the Debian package that brings it:
# Prometheus, promtool, Alertmanager and amtool; wrk for the floods and the benchmark (which also
# measures blackbox_exporter); rsyslogd and the journal's remote and gateway daemons for the
# canary's end-to-end chains (systemd-socket-activate gives gatewayd a port of our choosing);
# the Pushgateway for the heartbeat; stress-ng for `make test-repeat` under CPU contention;
# systemd-analyze to verify the systemd unit and rate its exposure; dnsmasq, the dns check's
# server (started by its tests in the foreground on a free loopback port); Debian's chromium
# and chromium-driver, the headless browser the status page's tests drive through Selenium.
# Debian's packages start no daemon in a container.
TOOLS := prometheus:prometheus promtool:prometheus amtool:prometheus-alertmanager \
  prometheus-alertmanager:prometheus-alertmanager wrk:wrk \
  prometheus-blackbox-exporter:prometheus-blackbox-exporter rsyslogd:rsyslog \
  /lib/systemd/systemd-journal-remote:systemd-journal-remote \
  /lib/systemd/systemd-journal-gatewayd:systemd-journal-remote \
  systemd-socket-activate:systemd prometheus-pushgateway:prometheus-pushgateway \
  stress-ng:stress-ng systemd-analyze:systemd /usr/sbin/dnsmasq:dnsmasq \
  /usr/bin/chromium:chromium /usr/bin/chromedriver:chromium-driver
tools:
	@missing=; for t in $(TOOLS); do \
	  command -v $${t%%:*} >/dev/null || missing="$$missing $${t##*:}"; done; \
	[ -z "$$missing" ] || { \
	  packages=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
	  echo "installing Debian's $$packages" >&2; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      $$packages >/dev/null; } \
	  || echo "WARNING: could not install them: their tests will skip (and fail under CI=true)" >&2; }

# axe-core, the accessibility engine the browser tests run inside the status page, from npm at
# an exact version (a new release may add rules), into .venv/node/. Without npm it is skipped,
# and so are those tests (they fail under CI=true).
AXE_CORE_VERSION := 4.14.1
AXE_CORE := $(VENV)/node/.axe-core-$(AXE_CORE_VERSION)
axe-core: $(AXE_CORE)
$(AXE_CORE):
	@command -v npm >/dev/null || { \
	  echo "WARNING: npm is missing: axe-core not installed, the browser tests will skip" \
	    "(and fail under CI=true); Debian's npm brings it" >&2; exit 0; }; \
	npm install --prefix $(VENV)/node --no-save --no-audit --no-fund --loglevel=error \
	  axe-core@$(AXE_CORE_VERSION) && touch $@

pytest: $(VENV)/.installed-test tools axe-core
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint pytest

# The suite N times in a row, stopping at the first failure: a flaky test shows itself here.
# The last line says how many runs passed.
N ?= 5
test-repeat: lint $(VENV)/.installed-test tools axe-core
	@passed=0; for run in $$(seq $(N)); do \
	  echo "test-repeat: run $$run of $(N)"; \
	  $(BIN)/pytest $(PYTEST_ARGS) || { \
	    echo "test-repeat: $$passed of $(N) runs passed; run $$run failed"; exit 1; }; \
	  passed=$$run; \
	done; \
	echo "test-repeat: $$passed of $(N) runs passed"

# The four screenshots of the status page in docs/screenshots/ (healthy and failing, light and
# dark), taken by its browser test against a real exporter. The test always writes them to its
# temporary directory; STATUS_SCREENSHOTS=update writes them to docs/screenshots/ as well.
# CI=true: a missing browser fails here instead of skipping, so no run quietly keeps the old
# images. Run it after changing the page, look at them, and commit them.
screenshots: $(VENV)/.installed-test tools axe-core
	CI=true STATUS_SCREENSHOTS=update $(BIN)/pytest tests/integration/test_status_page.py \
	  -k screenshots -p no:randomly $(PYTEST_ARGS)

# The benchmark: ours beside blackbox_exporter and a bare aiohttp app; writes BENCHMARKS.md.
bench: $(VENV)/.installed-test tools
	$(BIN)/python -m bench $(BENCH_ARGS)

# The wheel and sdist, in dist/ (emptied first, so it holds this version only). `python -m build`
# makes the sdist, then the wheel from the unpacked sdist: a file the sdist lacks fails here.
# tests/integration/test_dist.py builds them the same way and installs the wheel in a fresh venv.
dist: $(VENV)/.installed-test
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

# Every shipped alert's runbook_url is BASE#<alert>; point them all at your copy of
# docs/runbook.md (a wiki, an internal Git host), e.g.
# `make runbook-base RUNBOOK_BASE=https://wiki.example/smoke-test/runbook`. Only python3 needed.
# The Grafana-managed alert rules are generated from the Prometheus rule files (listed in SOURCES
# in the script); tests/test_grafana_rules.py fails until they are regenerated.
grafana-rules: $(VENV)/.installed-run
	$(BIN)/python monitoring/grafana_rules.py

# The PrometheusRule in deploy/kubernetes/service.yaml carries the groups of alerts.yml and
# slo-rules.yml; tests/test_kubernetes.py fails until it is rewritten.
kubernetes-rule: $(VENV)/.installed-run
	$(BIN)/python monitoring/kubernetes_rule.py

.PHONY: runbook-base
runbook-base:
	$(PYTHON) monitoring/runbook_base.py '$(RUNBOOK_BASE)'

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache build dist
