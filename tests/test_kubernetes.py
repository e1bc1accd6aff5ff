"""deploy/kubernetes/ against the Kubernetes API's own schema (kubernetes-validate, strict: every
field known, every type right, every required field present), the prometheus-operator CRDs
against that project's published models (walked recursively for unknown fields), and the
common sense a cluster would only show at run time. No cluster runs here."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pydantic
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1 as operator

from exporter.config import Settings
from exporter.config_file import load_plan
from exporter.routes import route_table

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "kubernetes"
MANIFESTS = ("sidecar.yaml", "daemonset.yaml", "service.yaml")
# The oldest Kubernetes release still supported upstream when this was written.
KUBERNETES = "1.32"
CRDS: dict[str, type[pydantic.BaseModel]] = {
    "ServiceMonitor": operator.ServiceMonitor,
    "PodMonitor": operator.PodMonitor,
    "PrometheusRule": operator.PrometheusRule,
}


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, doc)
        for name in MANIFESTS
        for doc in yaml.safe_load_all((DEPLOY / name).read_text())
        if doc is not None
    ]


def containers() -> list[dict[str, Any]]:
    found = []
    for _, doc in documents():
        if doc["kind"] in ("Deployment", "DaemonSet"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container["name"] == "smoke-test-exporter":
                    found.append(container)
    return found


def unknown_fields(model: type[pydantic.BaseModel], data: Any, where: str) -> list[str]:
    """Keys of ``data`` that ``model`` (and the models it nests) does not know."""
    if not isinstance(data, dict):
        return []
    by_key = {}
    for name, info in model.model_fields.items():
        by_key[info.alias or name] = info.annotation
        by_key[name] = info.annotation
    problems = []
    for key, value in data.items():
        if key not in by_key:
            problems.append(f"{where}.{key}")
            continue
        problems += _walk(by_key[key], value, f"{where}.{key}")
    return problems


def _walk(hint: Any, value: Any, where: str) -> list[str]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) or origin is typing.Annotated:
        return [p for arg in args for p in _walk(arg, value, where)][:1] if args else []
    if origin is list and isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _walk(args[0], item, f"{where}[{i}]")]
    if isinstance(hint, type) and issubclass(hint, pydantic.BaseModel):
        return unknown_fields(hint, value, where)
    return []


@pytest.mark.parametrize(
    ("name", "doc"),
    [pytest.param(n, d, id=f"{n}:{d['kind']}") for n, d in documents() if d["kind"] not in CRDS],
)
def test_every_kubernetes_object_validates_strictly(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


@pytest.mark.parametrize(
    ("name", "doc"),
    [pytest.param(n, d, id=f"{n}:{d['kind']}") for n, d in documents() if d["kind"] in CRDS],
)
def test_every_operator_object_validates_against_its_model(name: str, doc: dict[str, Any]) -> None:
    model = CRDS[doc["kind"]]
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    model.model_validate(doc)
    assert unknown_fields(model, doc, doc["kind"]) == []


def test_the_walk_finds_an_unknown_field() -> None:
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "endpoints": [{"port": "web", "intervall": "15s"}]},
    }
    operator.ServiceMonitor.model_validate(doc)  # the model itself lets it through
    assert unknown_fields(operator.ServiceMonitor, doc, "ServiceMonitor") == [
        "ServiceMonitor.spec.endpoints[0].intervall"
    ]


def test_the_prometheus_rule_carries_the_shipped_alerts_exactly() -> None:
    (rule,) = [d for _, d in documents() if d["kind"] == "PrometheusRule"]
    shipped = yaml.safe_load((ROOT / "monitoring" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == shipped["groups"]


def test_probe_paths_are_routes_and_ports_agree_with_the_flags_and_the_image() -> None:
    paths = {route.path for route in route_table("/metrics")}
    dockerfile = (ROOT / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\d+):(\d+)$", dockerfile, flags=re.MULTILINE)
    (exposed,) = re.findall(r"^EXPOSE (\d+)$", dockerfile, flags=re.MULTILINE)
    assert len(containers()) == 2
    for container in containers():
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["path"] in paths
            assert container[probe]["httpGet"]["port"] == "smoke-test"
        (port,) = container["ports"]
        assert (port["name"], str(port["containerPort"])) == ("smoke-test", exposed)
        assert f"--web.listen-address=:{exposed}" in container["args"]
        security = container["securityContext"]
        assert (str(security["runAsUser"]), str(security["runAsGroup"])) == user
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    service = next(d for _, d in documents() if d["kind"] == "Service")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["smoke-test"]
    monitors = [d for _, d in documents() if d["kind"] in ("ServiceMonitor", "PodMonitor")]
    for monitor in monitors:
        endpoints = monitor["spec"].get("endpoints") or monitor["spec"]["podMetricsEndpoints"]
        assert [e["path"] for e in endpoints] == ["/metrics"]


def test_the_config_maps_hold_configs_the_exporter_loads(tmp_path: Path) -> None:
    maps = [d for _, d in documents() if d["kind"] == "ConfigMap"]
    assert len(maps) == 2
    for config_map in maps:
        path = tmp_path / f"{config_map['metadata']['name']}.yml"
        path.write_text(config_map["data"]["smoke-test.yml"])
        plan = load_plan(Settings(config_file=path))
        assert "logging" in [check.type for check in plan.checks]
