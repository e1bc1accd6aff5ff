# syntax=docker/dockerfile:1
# The exporter as a container: `docker build -t smoke-test-exporter .`, then
# `docker run --read-only -p 9707:9707 smoke-test-exporter`. docker-compose.yml runs it beside
# Prometheus, Alertmanager and Grafana.
#
# Both stages use the same Python, pinned to a patch release so that a rebuild does not change the
# interpreter under the exporter. Add `@sha256:<digest>` to pin the exact image bytes as well.

# Stage 1: build the project's wheel. The build tools (setuptools, pulled in by pip's build
# isolation) stay in this stage and never reach the final image.
FROM python:3.11.13-slim-bookworm AS build
WORKDIR /src
# Only what the wheel is made of; .dockerignore keeps everything else out of the context.
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Stage 2: the runtime. Only the venv with the exporter and its three dependencies is added.
FROM python:3.11.13-slim-bookworm
# No .pyc files are written at run time (pip compiles the exporter's at install time), so the image
# runs with a read-only root filesystem; log lines reach stdout at once, unbuffered.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
# The wheel is bind-mounted from the build stage (BuildKit, Docker's default builder since 23.0)
# rather than copied, so it is not left behind in a layer. `pip` is the venv's, first on PATH once
# the venv exists; it is spelled plainly so that hadolint's pip rules see it. The log directory is
# created owned by the runtime user: a named volume mounted there starts as a copy of it, and so
# is writable by that user.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && pip install --no-cache-dir --disable-pip-version-check /wheels/*.whl \
    && mkdir -p /var/log/smoke-test-exporter \
    && chown 65532:65532 /var/log/smoke-test-exporter

# A numeric user, so that Kubernetes' runAsNonRoot can verify it is not root without /etc/passwd.
# It owns nothing but the log directory: the code in /opt/venv is root's and read-only to it.
USER 65532:65532

# The exporter writes nothing but its logs. To keep a log file with a read-only root filesystem,
# mount a volume at /var/log/smoke-test-exporter and pass
# `--log.file=/var/log/smoke-test-exporter/exporter.log`; without --log.file it logs to stdout only.
EXPOSE 9707

# Liveness only: /-/healthy answers as long as the process serves HTTP. /smoke-test is not used
# here, because a full disk or a broken log sink would then mark the container unhealthy and get it
# restarted in a loop, which fixes neither; the smoke_test_success metric and its alert report
# those. The probe subcommand needs no curl in the image; it gives up after 5 s by itself and says
# why, so Docker's own timeout is longer. It asks the path on the listen address that
# SMOKE_TEST_EXPORTER_WEB_LISTEN_ADDRESS names (`docker run -e …`), :9707 without it; a
# --web.listen-address flag given to the exporter is not seen here: set the port by the variable.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["smoke-test-exporter", "probe", "/-/healthy"]

# Flags go after the image name (`docker run IMAGE --log.level=debug`) or in compose's `command:`.
ENTRYPOINT ["smoke-test-exporter"]
