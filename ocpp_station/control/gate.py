"""The control API's gate: only the operator's own page and tools act on the station.

Any web page the operator visits can send requests to 127.0.0.1: a cross-site form posts
without asking, and a name of the attacker's that resolves to 127.0.0.1 (DNS rebinding) even
reads the answers. So the gate refuses
- a Host the server is not known by, when it listens on loopback (rebinding);
- a change (POST, PUT, DELETE) from another origin: its Origin or Sec-Fetch-Site says so;
- a body that is not declared JSON (a form cannot send `application/json` across sites
  without a CORS preflight, which this server never grants);
- with a token (`--control-token`, or one made at start on a non-loopback address), any
  request without it: `Authorization: Bearer TOKEN`, or the page's cookie, which opening
  `/?token=TOKEN` once sets (SameSite=Strict: another site's requests do not carry it).
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TOKEN_COOKIE = "ocpp_station_token"
# The largest request body the API reads: its bodies are a few fields.
MAX_BODY = 64 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps the API on this machine."""
    name = host.strip("[]").casefold()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(18)


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _host_name(host_header: str) -> str:
    """The name part of a Host header ("[::1]:8180" -> "::1", "a.b:80" -> "a.b")."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0].casefold()
    name = host_header.rpartition(":")[0] if ":" in host_header else host_header
    return name.casefold()


class Gate:
    """The checks above for one API; `loopback`: it listens on loopback only."""

    def __init__(self, *, loopback: bool = True, token: str | None = None) -> None:
        self.loopback = loopback
        self.token = token
        self.generated = False

    @classmethod
    def for_address(cls, host: str, token: str | None) -> Gate:
        """The gate of an API listening on `host`: off loopback, never without a token (one
        is made when none is given: `generated`, for the caller to print)."""
        loopback = is_loopback(host)
        gate = cls(loopback=loopback, token=token)
        if token is None and not loopback:
            gate.token = new_token()
            gate.generated = True
        return gate

    def announce(self) -> None:
        """Print a token the operator did not choose (the line after `control: URL`)."""
        if self.generated:
            print(f"control-token: {self.token}", flush=True)

    def why_refused(self, request: web.Request) -> tuple[int, str] | None:
        host = request.headers.get("Host", "")
        if self.loopback and not is_loopback(_host_name(host)):
            return 403, f"this API answers to localhost only, not to the name {host!r}"
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("Origin")
            if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
                return 403, f"a request from the page of another site ({origin}) is refused"
            site = request.headers.get("Sec-Fetch-Site")
            if site is not None and site not in ("same-origin", "none"):
                return 403, "a request from the page of another site is refused"
            if request.body_exists and request.content_type != "application/json":
                return 415, "a request body must be JSON (Content-Type: application/json)"
        if self.token is not None and not self._has_token(request):
            return 401, (
                "this API needs its token: the header 'Authorization: Bearer TOKEN', "
                "or open the page once as /?token=TOKEN"
            )
        return None

    def _has_token(self, request: web.Request) -> bool:
        assert self.token is not None
        offered = [request.cookies.get(TOKEN_COOKIE, "")]
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.casefold() == "bearer":
            offered.append(value.strip())
        if request.method == "GET" and request.path == "/":
            offered.append(request.query.get("token", ""))
        return any(secrets.compare_digest(o.encode(), self.token.encode()) for o in offered)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal = self.why_refused(request)
        if refusal is not None:
            return _refuse(*refusal)
        response = await handler(request)
        if self.token is not None and request.path == "/" and not response.prepared:
            # The page's own requests (fetch, EventSource) carry the token from now on.
            response.set_cookie(
                TOKEN_COOKIE, self.token, httponly=True, samesite="Strict", path="/"
            )
        return response
