"""One check in one run: each attempt cut off at the check's timeout, retried when the check has
retries, and a pass that needed a retry told as a warning, never as ok."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from dataclasses import dataclass, replace

from exporter.run.check_series import RUNNER_ONLY, Shape
from exporter.run.cutoff import CutOff, within
from exporter.run.results import Attempt, CheckOutcome, Trigger
from exporter.verdict import Check, CheckResult, RetryReason, RunInfo, RunnerReason, Status

# The runner's name: the ``logger`` field of the lines it writes is part of the log's contract.
log = logging.getLogger("exporter.run.runner")

# How Python links an exception to its cause or context, and the most of a chain told.
CAUSE = "\nThe above exception was the direct cause of the following exception:\n"
CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n"
MAX_CHAIN = 20


@dataclass(frozen=True)
class PlannedCheck:
    """A built check, the time the runner gives each attempt, and its retries."""

    check: Check
    timeout_seconds: float
    shape: Shape = RUNNER_ONLY
    retries: int = 0
    retry_delay_seconds: float = 0.2
    objective: float | None = None  # smoke_test_check_objective, when set


async def attempted(planned: PlannedCheck, run_id: str, trigger: Trigger) -> CheckOutcome:
    """The check, tried up to ``retries`` more times while it fails; a failure that a later
    attempt mends is a warning with reason ``retried``, and the attempts are listed."""
    t0 = time.perf_counter()
    attempts: list[Attempt] = []
    result = await _once(planned, run_id, trigger, attempts)
    while not result.ok and len(attempts) <= planned.retries:
        await asyncio.sleep(planned.retry_delay_seconds)
        result = await _once(planned, run_id, trigger, attempts)
    if result.ok and len(attempts) > 1:
        first = next(a for a in attempts if a.status is Status.FAIL)
        error = (
            f"passed on attempt {len(attempts)} of {planned.retries + 1}; attempt "
            f"{attempts.index(first) + 1} failed ({first.reason}): {first.error}"
        )
        if result.status is Status.WARN:  # the passing attempt's own warning is kept too
            error += f"; attempt {len(attempts)} warned ({attempts[-1].reason}): {result.error}"
        result = replace(result, status=Status.WARN, reason=RetryReason.RETRIED, error=error)
    return CheckOutcome(result, time.perf_counter() - t0, tuple(attempts))


async def _once(
    planned: PlannedCheck, run_id: str, trigger: Trigger, attempts: list[Attempt]
) -> CheckResult:
    """One attempt, cut off at its timeout; what it raises is its failure."""
    t0 = time.perf_counter()
    timeout = planned.timeout_seconds
    deadline = asyncio.get_running_loop().time() + timeout
    run = RunInfo(run_id, trigger.value, deadline, timeout)
    try:
        result = await within(planned.check(run), deadline)
    except CutOff:
        error_text = f"no result within {timeout:g}s"
        result = CheckResult(Status.FAIL, RunnerReason.TIMEOUT, error_text)
    except Exception as error:  # noqa: BLE001 - a broken check is a failed check
        result = _raised(error, run_id)
    reason = None if result.reason is None else str(result.reason.value)
    attempts.append(Attempt(result.status, reason, result.error, time.perf_counter() - t0))
    return result


def _raised(error: Exception, run_id: str) -> CheckResult:
    """A check that raised, named by its exception's type alone in the answer and the log's
    traceback: its text may quote a header, a token or a server's answer, never shown."""
    kind = type(error).__name__
    if log.isEnabledFor(logging.ERROR):
        fn, lno, func, _ = log.findCaller()
        extra = {"run_id": run_id}
        record = log.makeRecord(
            log.name, logging.ERROR, fn, lno, "Check raised %s", (kind,), None, func, extra
        )
        record.exc_text = _traceback(error)  # what formatters print as the traceback
        log.handle(record)
    return CheckResult(Status.FAIL, RunnerReason.EXCEPTION, f"check raised {kind}")


def _traceback(error: BaseException) -> str:
    """``error``'s traceback, and those of its causes and contexts, as Python prints them, but
    with each exception named by its type and none of its text."""
    told: list[str] = []
    current: BaseException | None = error
    while current is not None and len(told) < MAX_CHAIN:
        kind, frames = type(current), "".join(traceback.format_tb(current.__traceback__))
        module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
        told.append(f"Traceback (most recent call last):\n{frames}{module}{kind.__qualname__}")
        if current.__cause__ is not None:
            told.append(CAUSE)
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            told.append(CONTEXT)
            current = current.__context__
        else:
            break
    return "\n".join(reversed(told))
