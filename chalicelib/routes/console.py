"""The web admin console: ``GET /`` (its page) and ``GET /console/{asset}`` (its allow-listed files).

Public: the files hold no data; everything the console shows it fetches with the
signed-in credential. Every console response carries a strict Content-Security-Policy
(no inline script or style, nothing from another origin, no framing), ``nosniff`` and
``no-referrer``. ``Cache-Control: no-cache`` with an ETag: a browser revalidates each
load (304 when unchanged), so a new release is picked up at once.
"""

from __future__ import annotations

from chalice.app import Response

from chalicelib import console_assets
from chalicelib.console_assets import INDEX, Asset
from chalicelib.errors import NotFound
from chalicelib.routes.responses import Headers
from chalicelib.routes.table import PUBLIC, RouteRequest, RouteTable

routes = RouteTable()

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors' predecessor, for older browsers
    "Cache-Control": "no-cache",
}


@routes.get("/", access=PUBLIC)
def console_page(req: RouteRequest) -> Response:
    found = console_assets.asset(INDEX)
    assert found is not None  # INDEX is in the allow-list
    return _serve(req, found)


@routes.get("/console/{asset}", access=PUBLIC)
def console_asset(req: RouteRequest, asset: str) -> Response:
    found = console_assets.asset(asset) if asset != INDEX else None  # the page is served at / only
    if found is None:
        raise NotFound("not found")
    return _serve(req, found)


def _serve(req: RouteRequest, found: Asset) -> Response:
    headers: Headers = {**SECURITY_HEADERS, "ETag": found.etag}
    if found.matches(req.header("if-none-match")):
        return Response(body="", status_code=304, headers=headers)
    return Response(body=found.text, status_code=200, headers={**headers, "Content-Type": found.content_type})
