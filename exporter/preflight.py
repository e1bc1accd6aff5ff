"""Start-up's reading of the files named by flags: --config.file, --web.config.file and
--log.file. --config.check stops here."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.config import Settings
from exporter.config_file import ConfigError, load_plan
from exporter.plan import Plan
from exporter.sinks.file import probe_log_file
from exporter.webconfig.load import WebConfig, load_web_config


class PreflightError(Exception):
    """A file the exporter cannot use; the message is one line naming the file and key."""


@dataclass(frozen=True)
class Loaded:
    """What the files say, checked whole (certificates and secret files read)."""

    plan: Plan
    web_config: WebConfig | None

    def summary(self) -> str:
        """The one line --config.check prints."""
        return f"config OK: {len(self.plan.sinks)} sinks, {len(self.plan.checks)} checks"


def load(settings: Settings) -> Loaded:
    """Read --config.file and --web.config.file; PreflightError with the one-line reason."""
    try:
        plan = load_plan(settings)
    except ConfigError as error:
        raise PreflightError(str(error)) from None
    web_config = None
    if settings.web_config_file is not None:
        try:
            web_config = load_web_config(settings.web_config_file)
        except ValueError as error:
            raise PreflightError(f"--web.config.file: {error}") from None
    return Loaded(plan, web_config)


def log_file_warning(settings: Settings) -> str | None:
    """Why --log.file cannot be written now, if it cannot: a warning, not a stop, since the
    smoke test reports it until it is fixed."""
    if settings.log_file is None:
        return None
    problem = probe_log_file(settings.log_file)
    if problem is None:
        return None
    return (
        f"--log.file is unusable ({problem}); "
        "starting anyway, and the smoke test fails until it is fixed"
    )
