"""Command-line flags and their environment twins, turned into one frozen Settings."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from exporter import __version__
from exporter.config import Settings
from exporter.environ import unknown_variables
from exporter.flags import OPTIONS, Parser, UsageError
from exporter.probe import DEFAULT_PATH, run_probe

PROG = "smoke-test-exporter"


def build_parser() -> argparse.ArgumentParser:
    """The flags, each noting its environment variable in --help."""
    parser = Parser(
        prog=PROG,
        description="Prometheus exporter that proves the service is up and its logging works.",
        epilog=f"Subcommand: {PROG} probe [URL|PATH] [--timeout DURATION] requests a URL, or "
        f"a path (default {DEFAULT_PATH}) on --web.listen-address, prints the body and exits 0 "
        "on 200, 1 otherwise.",
        allow_abbrev=False,
    )
    for option in OPTIONS:
        parser.add_argument(
            option.flag,
            dest=option.field,
            metavar="VALUE",
            help=f"{option.help} [env {option.env}]",
        )
    parser.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        help="load and check --config.file and --web.config.file (certificates and secret "
        "files included), print 'config OK: N sinks, M checks' and exit 0, or the error and "
        "exit 2; binds no port and writes no canary",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Flags beat their environment variables, which beat the defaults."""
    return settings_of(build_parser().parse_args(argv), environ)


def settings_of(namespace: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The Settings of parsed flags, their environment twins standing in for flags not given."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        text = getattr(namespace, option.field)
        source = f"argument {option.flag}"
        if text is None:
            # An empty variable counts as unset, as in the Go exporters (`VAR=` in compose files).
            text = environ.get(option.env) or None
            source = f"environment variable {option.env}"
        if text is None:
            continue
        try:
            values[option.field] = option.parse(text)
        except ValueError as error:
            raise UsageError(f"{source}: {error}") from None
    return Settings(**values)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Parse the configuration, then serve until SIGTERM or SIGINT; return the exit code.
    With --config.check, only load and check the files.

    ``probe [URL|PATH]`` instead requests a URL once, for health checks and scripts.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["probe"]:
        return run_probe(args[1:], os.environ if environ is None else environ)
    try:
        namespace = build_parser().parse_args(args)
        settings = settings_of(namespace, os.environ if environ is None else environ)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help and --version print and stop here
        return int(done.code or 0)

    from exporter import preflight  # noqa: PLC0415 - keeps --help fast
    from exporter.plan import plan_warnings  # noqa: PLC0415
    from exporter.server import serve  # noqa: PLC0415

    try:
        loaded = preflight.load(settings)
    except preflight.PreflightError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    variables = os.environ if environ is None else environ
    for line in unknown_variables(variables, (option.env for option in OPTIONS)):
        print(f"{PROG}: warning: {line}", file=sys.stderr)
    for line in plan_warnings(loaded.plan):
        print(f"{PROG}: warning: {line}", file=sys.stderr)
    if namespace.config_check:
        print(loaded.summary())
        return 0
    if warning := preflight.log_file_warning(settings):
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    for warning in loaded.web_config.warnings if loaded.web_config else ():
        print(f"{PROG}: warning: --web.config.file: {warning}", file=sys.stderr)
    return asyncio.run(serve(settings, loaded.plan, loaded.web_config))


def run() -> NoReturn:
    """Console-script entry point."""
    raise SystemExit(main())
