"""The web page on the control address: static files shipped in the package (control/web/),
no build step. One page serves a station and, in fleet mode, a fleet with its station picker;
the page reads everything through the same HTTP API a script uses."""

from __future__ import annotations

from functools import cache
from importlib import resources

from aiohttp import web

# name -> content type; nothing else is served.
FILES = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "style.css": "text/css",
}
MODES = ("station", "fleet")
# The page runs our own script and style only, never one a frame smuggles in.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def static_file(name: str) -> str:
    return (resources.files("ocpp_station.control") / "web" / name).read_text("utf-8")


def page_text(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"the page's mode is one of {MODES}, not {mode!r}")
    return static_file("index.html").replace('data-mode="station"', f'data-mode="{mode}"')


def add_page_routes(app: web.Application, mode: str) -> None:
    """`/` (the page) and `/static/{name}` (its script and style)."""
    text = page_text(mode)

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/html", headers=HEADERS)

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = FILES.get(name)
        if kind is None or name == "index.html":
            raise web.HTTPNotFound(reason=f"no file {name!r}")
        return web.Response(text=static_file(name), content_type=kind, headers=HEADERS)

    app.router.add_get("/", page)
    app.router.add_get("/static/{name}", asset)
