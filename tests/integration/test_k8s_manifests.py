"""infra/k8s: every manifest valid against the Kubernetes schemas, offline, and the rules kept.

The overlays are rendered by a small kustomize here (``render``): ``resources`` (files
and folders) and ``patches`` by path, merged as kustomize's strategic merge does for
what the manifests use (maps merged, lists of named items merged by name, a null value
deletes, other lists replaced). The manifests use nothing else, and the test holds them
to that. Where ``kubectl`` is installed its ``kustomize`` renders the same resources.
Each rendered resource, and each file of base/ alone, is validated with
kubernetes-validate (strict: unknown fields fail) against a recent Kubernetes and the
oldest one still commonly run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from chalicelib.config import Settings
from local.commands import WORKER_ONLY_ENV
from local.flags import declared
from tests.deploy_files import ROOT, made_secrets

K8S = ROOT / "infra" / "k8s"
OVERLAYS = ("s3", "fs")
VERSIONS = (kubernetes_validate.latest_version(), "1.30.0")
SETTINGS = {var.name for _name, spec in declared() for var in spec.env}
KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "patches"}

Resource = dict[str, Any]


def _merge(target: Any, patch: Any) -> Any:
    if isinstance(target, dict) and isinstance(patch, dict):
        out = dict(target)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(out[key], value) if key in out else value
        return out
    named = [*target, *patch] if isinstance(target, list) and isinstance(patch, list) else []
    if named and all(isinstance(i, dict) and "name" in i for i in named):
        out_list = list(target)
        for item in patch:
            at = [i for i, old in enumerate(out_list) if old["name"] == item["name"]]
            if at:
                out_list[at[0]] = _merge(out_list[at[0]], item)
            else:
                out_list.append(item)
        return out_list
    return patch


def _documents(path: Path) -> list[Resource]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def render(folder: Path) -> list[Resource]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert set(kustomization) <= KUSTOMIZATION_KEYS, f"{folder}: only resources and patches are rendered here"
    resources: list[Resource] = []
    for entry in kustomization["resources"]:
        path = (folder / entry).resolve()
        resources += render(path) if path.is_dir() else _documents(path)
    for patch_entry in kustomization.get("patches", []):
        assert set(patch_entry) == {"path"}, patch_entry
        for patch in _documents(folder / patch_entry["path"]):
            (at,) = [i for i, r in enumerate(resources) if _key(r) == _key(patch)]
            resources[at] = _merge(resources[at], patch)
    return resources


def _key(resource: Resource) -> tuple[str, str]:
    return resource["kind"], resource["metadata"]["name"]


def _by_key(resources: list[Resource]) -> dict[tuple[str, str], Resource]:
    out = {_key(r): r for r in resources}
    assert len(out) == len(resources), "a resource is declared twice"
    return out


def _normal(obj: Any) -> Any:
    """Named list items in name order (kustomize moves a patched item to the front)."""
    if isinstance(obj, dict):
        return {k: _normal(v) for k, v in obj.items()}
    if isinstance(obj, list):
        items = [_normal(v) for v in obj]
        if items and all(isinstance(i, dict) and "name" in i for i in items):
            items.sort(key=lambda i: str(i["name"]))
        return items
    return obj


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, dict[tuple[str, str], Resource]]:
    name = str(request.param)
    return name, _by_key(render(K8S / "overlays" / name))


def test_every_base_file_is_valid_alone() -> None:
    files = sorted((K8S / "base").glob("*.yaml"))
    assert len(files) >= 4
    for path in files:
        for doc in _documents(path):
            if doc["kind"] != "Kustomization":
                for version in VERSIONS:
                    kubernetes_validate.validate(doc, version, strict=True)


def test_every_rendered_resource_is_valid(overlay: tuple[str, dict[tuple[str, str], Resource]]) -> None:
    _name, resources = overlay
    for resource in resources.values():
        for version in VERSIONS:
            kubernetes_validate.validate(resource, version, strict=True)


def test_kubectl_kustomize_renders_the_same(overlay: tuple[str, dict[tuple[str, str], Resource]]) -> None:
    name, ours = overlay
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (the test's own rendering is validated above)")
    out = subprocess.run([kubectl, "kustomize", str(K8S / "overlays" / name)], capture_output=True, text=True,
                         timeout=60, check=True).stdout  # fmt: skip
    theirs = _by_key([d for d in yaml.safe_load_all(out) if d])
    assert set(theirs) == set(ours)
    for key, resource in ours.items():
        assert _normal(theirs[key]) == _normal(resource), key


def _container(resources: dict[tuple[str, str], Resource], deployment: str) -> Resource:
    (container,) = resources["Deployment", deployment]["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _variables(resources: dict[tuple[str, str], Resource], container: Resource) -> dict[str, str | None]:
    """The container's environment: its env, then what its envFrom brings (None: a Secret's)."""
    out: dict[str, str | None] = {e["name"]: e.get("value") for e in container.get("env", [])}  # valueFrom: None
    for source in container.get("envFrom", []):
        if ref := source.get("configMapRef"):
            out |= resources["ConfigMap", ref["name"]]["data"]
        else:
            out |= dict.fromkeys(resources["Secret", source["secretRef"]["name"]]["stringData"])
    return out


def test_settings_come_from_configmaps_and_secrets_and_are_documented(
    overlay: tuple[str, dict[tuple[str, str], Resource]],
) -> None:
    name, resources = overlay
    for deployment in ("deltadb-main", "deltadb-worker"):
        variables = _variables(resources, _container(resources, deployment))
        assert set(variables) <= SETTINGS, set(variables) - SETTINGS
        # valid with the Secrets filled in as their comments say (and the pod's name as worker id)
        made = made_secrets("k8s-admin-key-0123456789") | {"S3_ACCESS_KEY": "id", "S3_SECRET_KEY": "key"}
        settings = Settings.from_env({k: made.get(k, "pod-name") if v is None else v for k, v in variables.items()})
        assert settings.role == deployment.removeprefix("deltadb-")
    for (kind, _n), resource in resources.items():
        if kind == "Secret":  # placeholders only, never a real secret
            assert all(v.startswith("replace-with-") for v in resource["stringData"].values()), resource
    storage = Settings.from_env(resources["ConfigMap", "deltadb-storage"]["data"])
    assert storage.backend == name


def test_the_main_worker_holds_no_keys_and_reaches_the_workers_service(
    overlay: tuple[str, dict[tuple[str, str], Resource]],
) -> None:
    _name, resources = overlay
    main = _variables(resources, _container(resources, "deltadb-main"))
    assert not set(main) & set(WORKER_ONLY_ENV) and not any(k.startswith(("S3_", "AWS_")) for k in main)
    assert main["DELTADB_ROLE"] == "main" and main["DELTADB_INVOKER"] == "pool"
    service = resources["Service", "deltadb-worker"]
    (port,) = service["spec"]["ports"]
    assert main["DELTADB_WORKER_URLS"] == f"http://{service['metadata']['name']}:{port['port']}"
    worker = _variables(resources, _container(resources, "deltadb-worker"))
    assert worker["DELTADB_ROLE"] == "worker" and "DELTADB_MASTER_KEY" in worker
    assert "DELTADB_SESSION_SECRET" not in worker and "DELTADB_ADMIN_KEY_SHA256" not in worker
    assert _container(resources, "deltadb-worker")["args"][0] == "worker"


def test_pods_are_locked_down_probed_and_limited(overlay: tuple[str, dict[tuple[str, str], Resource]]) -> None:
    _name, resources = overlay
    for deployment in ("deltadb-main", "deltadb-worker"):
        pod = resources["Deployment", deployment]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
        container = _container(resources, deployment)
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp", "/secrets"}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert {m["name"] for m in container["volumeMounts"]} <= set(volumes)
        assert set(container["resources"]) == {"requests", "limits"}
        for probe in ("readinessProbe", "livenessProbe"):
            check = container[probe]
            if deployment == "deltadb-main":
                assert check["httpGet"]["path"] == "/health"
            else:
                assert check["tcpSocket"]["port"] == container["ports"][0]["name"]


def test_only_the_main_worker_reaches_the_workers(overlay: tuple[str, dict[tuple[str, str], Resource]]) -> None:
    _name, resources = overlay
    policy = resources["NetworkPolicy", "deltadb-worker-ingress"]["spec"]
    worker_labels = resources["Deployment", "deltadb-worker"]["spec"]["template"]["metadata"]["labels"]
    main_labels = resources["Deployment", "deltadb-main"]["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"] == worker_labels and policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": main_labels}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9000}]
    hpa = resources["HorizontalPodAutoscaler", "deltadb-worker"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "deltadb-worker" and hpa["minReplicas"] >= 1


def test_storage_per_overlay(overlay: tuple[str, dict[tuple[str, str], Resource]]) -> None:
    name, resources = overlay
    pod = resources["Deployment", "deltadb-worker"]["spec"]["template"]["spec"]
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    if name == "s3":  # no shared volume; credentials from their own Secret
        assert "emptyDir" in data and ("PersistentVolumeClaim", "deltadb-data") not in resources
        assert set(resources["Secret", "deltadb-s3"]["stringData"]) == {"S3_ACCESS_KEY", "S3_SECRET_KEY"}
    else:  # one ReadWriteMany claim shared by every worker pod, all on one node
        claim = resources["PersistentVolumeClaim", "deltadb-data"]
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        assert data == {"name": "data", "persistentVolumeClaim": {"claimName": "deltadb-data"}}
        (term,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
