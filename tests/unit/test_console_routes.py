"""The console's routes: allow-listed files with their types and security headers, no catch-all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chalicelib.bootstrap import Runtime
from chalicelib.console_assets import ASSETS, INDEX
from chalicelib.routes.console import CSP
from tests.conftest import AppClient, make_settings

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "chalicelib" / "console"
NOT_INDEX = sorted(set(ASSETS) - {INDEX})


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> AppClient:
    return AppClient(Runtime(make_settings(tmp_path_factory.mktemp("console"))))


def assert_secured(headers: dict[str, str]) -> None:
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-cache"


def test_the_page_is_served_at_the_root(client: AppClient) -> None:
    r = client.http.get("/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert_secured(r.headers)
    assert r.body == (FILES / INDEX).read_bytes()


@pytest.mark.parametrize("name", NOT_INDEX)
def test_each_file_is_served_with_its_type(client: AppClient, name: str) -> None:
    r = client.http.get(f"/console/{name}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == ASSETS[name]
    assert_secured(r.headers)
    assert r.body == (FILES / name).read_bytes()


@pytest.mark.parametrize(
    "name", ["nope.js", INDEX, "APP.JS", "app.js.map", "..%2Fopenapi.json", "%2e%2e", "app.js%00", ".", "console"]
)
def test_any_other_name_is_404_json(client: AppClient, name: str) -> None:
    r = client.http.get(f"/console/{name}")
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json"
    assert json.loads(r.body) == {"error": "not found"}


@pytest.mark.parametrize(("method", "path"), [("OPTIONS", "/"), ("POST", "/"), ("OPTIONS", "/console/app.js")])
def test_other_methods_are_405_with_allow(client: AppClient, method: str, path: str) -> None:
    r = client.http.request(method, path, headers={}, body=b"")
    assert r.status_code == 405
    # OPTIONS: the route table's refusal; other methods: Chalice's own 405, as on every path
    assert r.headers["Allow"] == ("GET" if method == "OPTIONS" else "GET, OPTIONS")
    assert set(json.loads(r.body)) == {"error"}


def test_revalidation_answers_304_while_unchanged(client: AppClient) -> None:
    first = client.http.get("/console/app.js")
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = client.http.get("/console/app.js", headers={"If-None-Match": sent})
        assert again.status_code == 304, sent
        assert again.body == b""
        assert again.headers["ETag"] == etag
        assert_secured(again.headers)
    assert client.http.get("/console/app.js", headers={"If-None-Match": '"stale"'}).status_code == 200
    assert client.http.get("/console/app.css").headers["ETag"] != etag  # per file


def test_every_shipped_file_is_listed_and_packaged() -> None:
    assert sorted(p.name for p in FILES.iterdir()) == sorted(ASSETS)
    assert '"console/*"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_the_document_names_exactly_the_allow_list() -> None:
    doc = json.loads((ROOT / "chalicelib" / "openapi.json").read_text(encoding="utf-8"))
    (param,) = doc["paths"]["/console/{asset}"]["parameters"]
    assert sorted(param["schema"]["enum"]) == NOT_INDEX


def test_the_page_references_only_allow_listed_files_and_nothing_inline() -> None:
    html = (FILES / INDEX).read_text(encoding="utf-8")
    referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert referenced and all(
        ref.startswith("console/") and ref.removeprefix("console/") in ASSETS for ref in referenced
    )
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []  # every script is a file
    assert "<style" not in html and "style=" not in html
    assert re.search(r"\son[a-z]+=", html) is None  # no inline handlers


@pytest.mark.parametrize("name", [n for n in NOT_INDEX if n.endswith(".js")])
def test_scripts_import_only_allow_listed_files_and_never_build_markup_from_strings(name: str) -> None:
    source = (FILES / name).read_text(encoding="utf-8")
    for imported in re.findall(r'from "\./([^"]+)"', source):
        assert imported in ASSETS, imported
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        'setAttribute("style',
    ):
        assert sink not in source, (name, sink)
    assert "localStorage" not in source and "document.cookie" not in source


BROWSER_ACCEPT = {
    INDEX: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "icon.svg": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
}


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_through_the_lambda_entry_point_every_file_is_text_not_base64(client: AppClient, name: str) -> None:
    """What API Gateway gets from the Lambda: plain text bodies (no console type is a binary type),
    which it passes through unchanged; so the deployed API serves the console as it is."""
    from chalicelib.webapp import create_app
    from local.gateway_request import LambdaContext, LocalRequest

    app = create_app(client.runtime)
    assert not {t.split(";")[0] for t in ASSETS.values()} & set(app.api.binary_types)
    path = "/" if name == INDEX else f"/console/{name}"
    accept = BROWSER_ACCEPT.get(name, "*/*")
    resource = "/" if name == INDEX else "/console/{asset}"
    context = LambdaContext(app.app_name)
    params = None if name == INDEX else {"asset": name}
    request = LocalRequest(
        method="GET", raw_path=path, resource=resource, headers={"accept": accept}, query=None, path_params=params,
        body=b"", source_ip="127.0.0.1", stage="api", lambda_context=context,
    )  # fmt: skip
    reply = app(request.to_original_event(), context)  # Chalice's Lambda handler, as deployed
    assert reply["statusCode"] == 200
    assert reply.get("isBase64Encoded", False) is False
    assert reply["body"] == (FILES / name).read_text(encoding="utf-8")
    assert reply["headers"]["Content-Type"] == ASSETS[name]
