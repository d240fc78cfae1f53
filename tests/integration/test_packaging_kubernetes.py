"""Kubernetes and cert-manager manifests in deploy/: every document is valid against
Kubernetes' own OpenAPI schemas (``kubernetes-validate``, offline, strict: an unknown
field is an error), and so is what ``kubectl kustomize`` renders from each kustomization;
then the pieces must fit together (probes, securityContext, Secret and ConfigMap volumes,
the Service cert-manager points at, the acme-dns account ddnsd is configured with).

Custom resources (cert-manager's kinds) have no schema in Kubernetes itself; they are
checked by the cross-references below. No cluster runs here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ddnsd.config.places import DEFAULT_CONFIG
from ddnsd.config.read import load

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
CERT_MANAGER = DEPLOY / "cert-manager"
KUSTOMIZATIONS = sorted(p.parent for p in DEPLOY.rglob("kustomization.yaml"))
# The Kubernetes release whose schemas the manifests must meet (README "Tested on").
K8S_RELEASE = "1.37"
CI = os.environ.get("CI", "").lower() == "true"
PORT = 9333
UID = 10001


def documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


# Every manifest under deploy/, whoever adds it (YAML without a kind, such as Helm
# values, is not one).
FILES = sorted(
    p
    for p in [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]
    if any("kind" in d for d in documents(p))
)


def one(directory: Path, kind: str) -> dict[str, Any]:
    found = [d for f in sorted(directory.glob("*.yaml")) for d in documents(f) if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind} in {directory}, found {len(found)}"
    return found[0]


def kustomization() -> dict[str, Any]:
    return one(K8S, "Kustomization")


def namespace() -> str:
    return str(kustomization()["namespace"])


def deployment() -> dict[str, Any]:
    return one(K8S, "Deployment")


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = deployment()["spec"]["template"]["spec"]
    return spec


def container(name: str) -> dict[str, Any]:
    (c,) = [c for c in pod_spec()["containers"] if c["name"] == name]
    return dict(c)


def env_of(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def port_number(c: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (p,) = [p for p in c["ports"] if p.get("name") == port]
    return int(p["containerPort"])


def volume(name: str) -> dict[str, Any]:
    (v,) = [v for v in pod_spec()["volumes"] if v["name"] == name]
    return dict(v)


def mount_for(c: dict[str, Any], kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(volumeMount, volume) of the one volume of this kind (secret, configMap, …)."""
    found = [(m, volume(m["name"])) for m in c["volumeMounts"] if kind in volume(m["name"])]
    assert len(found) == 1, f"{c['name']}: expected one {kind} volume, found {len(found)}"
    return found[0]


# ----------------------------------------------------------------------------- every document


def is_custom_resource(doc: dict[str, Any]) -> bool:
    """A kind from an API group Kubernetes does not ship (core, ``apps``, ``*.k8s.io``)."""
    group = str(doc.get("apiVersion", "")).rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def validate(doc: dict[str, Any], where: str) -> None:
    try:
        used = kubernetes_validate.validate(doc, K8S_RELEASE, strict=True)
    except kubernetes_validate.ValidationError as e:
        raise AssertionError(f"{where}: {doc.get('kind')}: {e.message} at {list(e.path)}") from None
    assert used == K8S_RELEASE, f"kubernetes-validate has no schemas of {K8S_RELEASE}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_manifest_meets_the_kubernetes_schemas(path: Path) -> None:
    docs = documents(path)
    assert docs, f"{path.name} holds no document"
    for doc in docs:
        if doc.get("kind") == "Kustomization":
            continue  # rendered and validated below
        if is_custom_resource(doc):
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, K8S_RELEASE, strict=True)
            assert doc["metadata"]["name"], path.name
            continue
        validate(doc, str(path.relative_to(DEPLOY)))


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        if CI:
            pytest.fail("kubectl is missing (scripts/install-tools.sh installs kubernetes-client)")
        pytest.skip("kubectl is missing (scripts/install-tools.sh installs kubernetes-client)")
    return found


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_kustomize_output_meets_the_kubernetes_schemas(directory: Path) -> None:
    """What ``kubectl apply -k`` would send: every rendered resource validates."""
    out = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    rendered = [d for d in yaml.safe_load_all(out.stdout) if d is not None]
    listed = yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]
    assert len(rendered) >= len(listed), "kustomize rendered fewer resources than it lists"
    for doc in rendered:
        validate(doc, f"kubectl kustomize {directory.relative_to(DEPLOY)}")


def test_the_readme_names_the_release_validated_against() -> None:
    assert f"Kubernetes {K8S_RELEASE}" in (ROOT / "README.md").read_text()


def test_kustomization_lists_every_manifest_but_the_examples() -> None:
    resources = kustomization()["resources"]
    for name in resources:
        assert (K8S / name).is_file(), f"kustomization.yaml lists missing {name}"
    for path in K8S.glob("*.yaml"):
        if path.name == "kustomization.yaml":
            continue
        listed = path.name in resources
        example = path.name.endswith(".example.yaml")
        assert listed != example, f"{path.name}: list it, or name it *.example.yaml (not both)"


@pytest.mark.parametrize(
    "path",
    sorted([*K8S.glob("*.example.yaml"), *CERT_MANAGER.glob("*.example.yaml")]),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_example_secrets_hold_placeholders_only(path: Path) -> None:
    for doc in documents(path):
        if doc["kind"] != "Secret":
            continue
        assert "data" not in doc, "use stringData with visible placeholders"
        for key, value in doc["stringData"].items():
            assert "REPLACE" in value, f"{path.name}: {key} does not look like a placeholder"


# ----------------------------------------------------------------------------- the sidecar


def test_ddnsd_container_listens_on_the_pod_network() -> None:
    c = container("ddnsd")
    assert env_of(c)["DDNSD_HTTP__LISTEN"] == f"0.0.0.0:{PORT}"
    assert [p["containerPort"] for p in c["ports"]] == [PORT]


@pytest.mark.parametrize(
    ("probe", "path"),
    [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")],
)
def test_ddnsd_probes(probe: str, path: str) -> None:
    c = container("ddnsd")
    get = c[probe]["httpGet"]
    assert get["path"] == path
    assert port_number(c, get["port"]) == PORT


@pytest.mark.parametrize("name", ["app", "ddnsd"])
def test_restricted_security_context(name: str) -> None:
    """Effective settings (container overrides pod) meet the 'restricted' pod security level."""
    pod = pod_spec().get("securityContext", {})
    c = container(name)
    sc = {**pod, **c.get("securityContext", {})}
    assert sc.get("runAsNonRoot") is True
    assert sc.get("runAsUser", 0) != 0
    assert sc.get("allowPrivilegeEscalation") is False
    assert sc.get("readOnlyRootFilesystem") is True
    assert sc.get("capabilities", {}).get("drop") == ["ALL"]
    assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    assert pod_spec().get("automountServiceAccountToken") is False


def test_ddnsd_runs_as_the_image_user() -> None:
    sc = {**pod_spec()["securityContext"], **container("ddnsd")["securityContext"]}
    assert (sc["runAsUser"], sc["runAsGroup"]) == (UID, UID)
    assert pod_spec()["securityContext"]["fsGroup"] == UID


def test_transip_key_comes_from_a_secret_file() -> None:
    c = container("ddnsd")
    mount, vol = mount_for(c, "secret")
    assert mount.get("readOnly") is True
    assert vol["secret"]["defaultMode"] == 0o400
    items = {i["path"] for i in vol["secret"].get("items", [])}
    key_file = env_of(c)["DDNSD_TRANSIP__PRIVATE_KEY_FILE"]
    assert key_file.startswith(mount["mountPath"] + "/")
    assert not items or key_file.rsplit("/", 1)[1] in items
    # No secret in plain env values.
    assert not [k for k in env_of(c) if "PASSWORD" in k or "TOKEN" in k]


def test_config_comes_from_the_configmap() -> None:
    c = container("ddnsd")
    mount, vol = mount_for(c, "configMap")
    assert mount.get("readOnly") is True
    assert vol["configMap"]["name"] == one(K8S, "ConfigMap")["metadata"]["name"]
    config_file = env_of(c).get("DDNSD_CONFIG", str(DEFAULT_CONFIG))
    assert config_file == f"{mount['mountPath']}/config.toml"


def test_state_dir_is_writable_scratch() -> None:
    c = container("ddnsd")
    state = env_of(c).get("DDNSD_STATE__DIR", "/var/lib/ddnsd")
    (m,) = [m for m in c["volumeMounts"] if m["mountPath"] == state]
    assert "emptyDir" in volume(m["name"]) and not m.get("readOnly")
    assert [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"], "no writable /tmp"


def test_ddnsd_resources_are_bounded() -> None:
    r = container("ddnsd")["resources"]
    assert r["requests"]["memory"] and r["requests"]["cpu"] and r["limits"]["memory"]


def test_configmap_config_loads_with_the_container_environment(tmp_path: Path) -> None:
    """ddnsd's own loader accepts config.toml + the container env (secret paths faked)."""
    c = container("ddnsd")
    secret_mount, _ = mount_for(c, "secret")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    for name in ("transip.key", "httpreq.pw", "acmedns.pw"):
        (secrets_dir / name).write_text("placeholder\n")
    text = one(K8S, "ConfigMap")["data"]["config.toml"]
    text = text.replace(secret_mount["mountPath"], str(secrets_dir))
    path = tmp_path / "config.toml"
    path.write_text(text)
    env = {k: v.replace(secret_mount["mountPath"], str(secrets_dir)) for k, v in env_of(c).items()}
    env["DDNSD_STATE__DIR"] = str(tmp_path / "state")
    env.pop("DDNSD_CONFIG", None)
    settings = load(str(path), environ=env)
    assert settings.http.listen == f"0.0.0.0:{PORT}"
    assert settings.transip.private_key_file == secrets_dir / "transip.key"
    assert settings.acme.httpreq is not None and settings.acme.accounts


def test_app_container_reaches_ddnsd_on_localhost() -> None:
    env = env_of(container("app"))
    base = one(K8S, "ConfigMap")["data"]["config.toml"]
    httpreq = tomllib.loads(base)["acme"]["httpreq"]
    assert env["HTTPREQ_ENDPOINT"] == f"http://127.0.0.1:{PORT}{httpreq['base']}"
    assert env["HTTPREQ_USERNAME"] == httpreq["username"]


def test_service_selects_the_pod_and_exposes_ddnsd() -> None:
    svc = one(K8S, "Service")
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert deployment()["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"
    (port,) = svc["spec"]["ports"]
    assert port["port"] == PORT
    assert port_number(container("ddnsd"), port["targetPort"]) == PORT


def test_network_policy_lets_cert_manager_reach_ddnsd() -> None:
    policy = one(K8S, "NetworkPolicy")
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    rules = [
        r for r in policy["spec"]["ingress"] if any(p["port"] == PORT for p in r.get("ports", []))
    ]
    sources = [f["namespaceSelector"]["matchLabels"] for r in rules for f in r.get("from", [])]
    assert {"kubernetes.io/metadata.name": "cert-manager"} in sources


# ----------------------------------------------------------------------------- cert-manager


def acme_dns_solver() -> dict[str, Any]:
    issuer = one(CERT_MANAGER, "ClusterIssuer")
    solvers = [s["dns01"]["acmeDNS"] for s in issuer["spec"]["acme"]["solvers"]]
    assert len(solvers) == 1
    return dict(solvers[0])


def test_cluster_issuer_points_at_the_ddnsd_service() -> None:
    svc = one(K8S, "Service")["metadata"]["name"]
    host = acme_dns_solver()["host"]
    assert host in (
        f"http://{svc}.{namespace()}.svc.cluster.local:{PORT}",
        f"http://{svc}.{namespace()}.svc:{PORT}",
    )


def test_acme_dns_account_matches_ddnsd_config() -> None:
    ref = acme_dns_solver()["accountSecretRef"]
    secret = one(CERT_MANAGER, "Secret")
    assert secret["metadata"]["name"] == ref["name"]
    assert secret["metadata"]["namespace"] == "cert-manager"  # ClusterIssuer secrets live there
    accounts = json.loads(secret["stringData"][ref["key"]])
    toml = tomllib.loads(one(K8S, "ConfigMap")["data"]["config.toml"])
    (configured,) = toml["acme"]["accounts"]
    for domain, account in accounts.items():
        assert set(account) == {"username", "password", "fulldomain", "subdomain", "allowfrom"}
        assert account["username"] == configured["username"]
        assert account["fulldomain"] == configured["fqdn"]
        assert account["fulldomain"] == f"_acme-challenge.{domain}"
        # ddnsd accepts the fqdn's first label or the whole fqdn as "subdomain".
        assert account["subdomain"] in (configured["fqdn"].split(".")[0], configured["fqdn"])
        assert domain in toml["acme"]["zones"]


def test_certificate_uses_the_cluster_issuer() -> None:
    cert = one(CERT_MANAGER, "Certificate")
    issuer = one(CERT_MANAGER, "ClusterIssuer")
    assert cert["spec"]["issuerRef"] == {
        "kind": "ClusterIssuer",
        "name": issuer["metadata"]["name"],
    }
    assert cert["metadata"]["namespace"] == namespace()
