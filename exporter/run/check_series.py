"""Each check's series: success, status, duration, failures by reason, the observed value, and
the expiry of the certificate it met."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from exporter.verdict import CheckResult, RunnerReason

P = "smoke_test_check_"
# The error budget's window when none is given: --smoke-test.slo-window's default.
SLO_WINDOW_SECONDS = 30 * 86400.0
# The ``status`` label: exporter.checks.Status, by value.
STATUSES = ("ok", "warn", "fail")


@dataclass(frozen=True)
class Shape:
    """What series a check has: its reasons (each a failure series at 0, and a retry series
    when it retries), and whether it observes a value."""

    reasons: tuple[str, ...]
    observes: bool
    retries: bool = False


# The series of a check that names no reasons of its own: the runner's, and no observed value.
RUNNER_ONLY = Shape(tuple(r.value for r in RunnerReason), observes=False)


class CheckSeries:
    """The per-check metrics on one registry; a check's series exist while it is configured."""

    def __init__(
        self, registry: CollectorRegistry, slo_window_seconds: float = SLO_WINDOW_SECONDS
    ) -> None:
        self.runs = Counter(
            P + "runs",
            "Runs of the check, whatever their result: the denominator of its error ratio.",
            ["check"],
            registry=registry,
        )
        self.objective = Gauge(
            P + "objective",
            "The share of the check's runs that should pass (its config's objective); only for "
            "checks that set one.",
            ["check"],
            registry=registry,
        )
        Gauge(
            "smoke_test_slo_window_seconds",
            "The window of every check's error budget (--smoke-test.slo-window).",
            registry=registry,
        ).set(slo_window_seconds)
        self.success = Gauge(
            P + "success",
            "1 if the check passed in the last run (a warning passes), else 0.",
            ["check"],
            registry=registry,
        )
        self.duration = Gauge(
            P + "duration_seconds",
            "Duration of the check in the last run.",
            ["check"],
            registry=registry,
        )
        self.status = Gauge(
            P + "status",
            "1 for the check's status in the last run (ok, warn or fail), 0 for the others.",
            ["check", "status"],
            registry=registry,
        )
        self.failures = Counter(
            P + "failures",
            "Runs in which the check failed, by reason.",
            ["check", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            P + "retries",
            "Failed attempts of the check that were tried again in the same run, by the "
            "attempt's reason; only for a check with retries.",
            ["check", "reason"],
            registry=registry,
        )
        self.observed = Gauge(
            P + "observed_value",
            "The value the check measured in the last run, in its base unit (docs/"
            "configuration.md names it per check type).",
            ["check"],
            registry=registry,
        )
        self.cert_expiry = Gauge(
            P + "cert_expiry_timestamp_seconds",
            "When the TLS certificate the check's server presented in its last handshake "
            "expires, as a Unix time.",
            ["check"],
            registry=registry,
        )
        self._shapes: dict[str, Shape] = {}
        self._objectives: dict[str, float] = {}
        # The checks that have met a certificate, and so have an expiry series.
        self._certified: set[str] = set()
        # The reasons each check has a failure series for: its shape's, and any other it gave.
        self._reasons: dict[str, set[str]] = {}
        # The reasons each check has a retry series for.
        self._retried: dict[str, set[str]] = {}

    def add(self, check: str, shape: Shape) -> None:
        """Create the check's series at 0."""
        self._shapes[check] = shape
        self._reasons[check] = set(shape.reasons)
        if shape.retries:
            self._retried[check] = set(shape.reasons)
        self.runs.labels(check)
        self.success.labels(check)
        self.duration.labels(check)
        for status in STATUSES:
            self.status.labels(check, status)
        for reason in shape.reasons:
            self.failures.labels(check, reason)
            if shape.retries:
                self.retries.labels(check, reason)
        if shape.observes:
            self.observed.labels(check)

    def remove(self, check: str) -> None:
        """Take the series of a check that is no longer configured out of the registry."""
        shape = self._shapes.pop(check)
        self.objectify(check, None)
        self.runs.remove(check)
        self.success.remove(check)
        self.duration.remove(check)
        for status in STATUSES:
            self.status.remove(check, status)
        for reason in self._reasons.pop(check):
            self.failures.remove(check, reason)
        for reason in self._retried.pop(check, set()):
            self.retries.remove(check, reason)
        if shape.observes:
            self.observed.remove(check)
        if check in self._certified:
            self._certified.discard(check)
            self.cert_expiry.remove(check)

    def objectify(self, check: str, objective: float | None) -> None:
        """Set the check's objective series, or take it away when the check has none."""
        if objective is not None:
            self._objectives[check] = objective
            self.objective.labels(check).set(objective)
        elif self._objectives.pop(check, None) is not None:
            self.objective.remove(check)

    def record(
        self, check: str, result: CheckResult, seconds: float, retried: tuple[str, ...] = ()
    ) -> None:
        """The check's outcome in a finished run; ``retried``: the reasons of its attempts
        that failed and were tried again."""
        for reason in retried:
            self._retried.setdefault(check, set()).add(reason)
            self.retries.labels(check, reason).inc()
        self.runs.labels(check).inc()
        self.success.labels(check).set(1 if result.ok else 0)
        self.duration.labels(check).set(seconds)
        for status in STATUSES:
            self.status.labels(check, status).set(result.status.value == status)
        if result.status.value == "fail" and result.reason is not None:
            reason = str(result.reason.value)
            self._reasons[check].add(reason)
            self.failures.labels(check, reason).inc()
        if result.observed is not None:
            self.observed.labels(check).set(result.observed.value)
        if result.cert_expiry is not None:
            self._certified.add(check)
            self.cert_expiry.labels(check).set(result.cert_expiry)
