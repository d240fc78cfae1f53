"""deploy/external-dns/: external-dns with ddnsd as its webhook provider sidecar, and the
values for the official Helm chart. A structural check with pyyaml (like
test_packaging_kubernetes.py), plus the ConfigMap's config.toml loaded by ddnsd's own
loader with the sidecar's environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ddnsd.config.models import Settings
from ddnsd.config.read import load

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "external-dns"
HELM_VALUES = HERE / "helm-values.yaml"
MANIFESTS = sorted(p for p in HERE.glob("*.yaml") if p != HELM_VALUES)
KNOWN = {
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
}


def documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


def one(kind: str) -> dict[str, Any]:
    found = [d for p in MANIFESTS for d in documents(p) if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def pod_spec() -> dict[str, Any]:
    return dict(one("Deployment")["spec"]["template"]["spec"])


def container(name: str) -> dict[str, Any]:
    (c,) = [c for c in pod_spec()["containers"] if c["name"] == name]
    return dict(c)


def env_of(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def helm() -> dict[str, Any]:
    return dict(yaml.safe_load(HELM_VALUES.read_text()))


def ddnsd_settings(tmp_path: Path, env: dict[str, str]) -> Settings:
    """The ConfigMap's config.toml with ``env``, as ddnsd in the pod reads it."""
    key = tmp_path / "transip.key"
    key.write_text("placeholder\n")
    path = tmp_path / "config.toml"
    path.write_text(one("ConfigMap")["data"]["config.toml"])
    env = {**env, "DDNSD_TRANSIP__PRIVATE_KEY_FILE": str(key)}
    env["DDNSD_STATE__DIR"] = str(tmp_path / "state")
    env.pop("DDNSD_CONFIG", None)
    return load(str(path), environ=env)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_documents_load_with_known_kinds(path: Path) -> None:
    for doc in documents(path):
        assert (doc.get("apiVersion"), doc.get("kind")) in KNOWN, (path.name, doc.get("kind"))


def test_kustomization_lists_every_manifest_but_the_examples() -> None:
    listed = set(one("Kustomization")["resources"])
    for path in MANIFESTS:
        if path.name != "kustomization.yaml":
            assert (path.name in listed) != path.name.endswith(".example.yaml"), path.name


def test_example_secret_holds_placeholders_only() -> None:
    secret = one("Secret")
    assert all("REPLACE" in v for v in secret["stringData"].values())


def test_external_dns_calls_ddnsd_as_its_webhook(tmp_path: Path) -> None:
    args = container("external-dns")["args"]
    assert {"--provider=webhook", "--registry=txt"} <= set(args)
    assert [a for a in args if a.startswith("--txt-owner-id=") and len(a) > 15]
    settings = ddnsd_settings(tmp_path, env_of(container("ddnsd")))
    url = f"--webhook-provider-url=http://{settings.external_dns.listen}"
    assert url in args
    assert settings.external_dns.listen == "127.0.0.1:8888"  # loopback: this pod only


@pytest.mark.parametrize(
    ("probe", "path"),
    [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")],
)
def test_ddnsd_probes_are_on_its_health_port(tmp_path: Path, probe: str, path: str) -> None:
    c = container("ddnsd")
    (port,) = c["ports"]
    assert c[probe]["httpGet"] == {"path": path, "port": port["name"]}
    settings = ddnsd_settings(tmp_path, env_of(c))
    assert settings.http.listen == f"0.0.0.0:{port['containerPort']}"


@pytest.mark.parametrize("name", ["external-dns", "ddnsd"])
def test_containers_run_non_root_on_a_read_only_root(name: str) -> None:
    pod = pod_spec()["securityContext"]
    sc = {**pod, **container(name)["securityContext"]}
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["seccompProfile"]["type"] == "RuntimeDefault"


def test_ddnsd_writes_only_to_scratch_volumes() -> None:
    c = container("ddnsd")
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    for mount in c["volumeMounts"]:
        assert mount.get("readOnly") is True or "emptyDir" in volumes[mount["name"]], mount


def test_helm_values_run_the_same_sidecar(tmp_path: Path) -> None:
    values = helm()
    webhook = values["provider"]["webhook"]
    assert values["provider"]["name"] == "webhook"
    assert values["registry"] == "txt" and values["txtOwnerId"]
    c = container("ddnsd")
    assert env_of(webhook) == env_of(c)
    assert webhook["securityContext"] == c["securityContext"]
    assert webhook["args"] == c["args"]
    assert webhook["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-webhook"}
    assert webhook["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-webhook"}
    settings = ddnsd_settings(tmp_path, env_of(webhook))
    assert settings.http.listen == "0.0.0.0:8080"  # the chart's http-webhook port
    volumes = {v["name"]: v for v in values["extraVolumes"]}
    assert {m["name"] for m in webhook["extraVolumeMounts"]} == set(volumes)
    assert volumes["ddnsd-config"]["configMap"]["name"] == one("ConfigMap")["metadata"]["name"]
