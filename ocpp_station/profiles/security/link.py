"""The security profile in force, as the runtime's ConnectionPolicy (whitepaper §2, use case
A05): which URL scheme, which TLS context, which password.

- Profile 0: the URL as configured; Basic auth when an AuthorizationKey is set.
- Profile 1: Basic auth with the AuthorizationKey on the URL as configured (ws://).
- Profile 2: wss:// (the scheme follows the profile, host and port stay), the central system's
  certificate checked against the installed CentralSystemRootCertificates (the system trust
  store when none is installed) and its name against the host; Basic auth.
- Profile 3: as 2, with the station's certificate as TLS client certificate; no password.
TLS 1.2 at least (A00.FR.312); no TLS compression (the ssl module never offers it).

A SecurityProfile may only go up, and only with its prerequisites (A05.FR.01-04, a guard on the
key). The new profile is tried on the next connection; when FALLBACK_AFTER attempts in a row
fail, the station goes back to the profile it had (A05.FR.08) and says so in a security event.
Connection failures that are security events (a central system certificate refused, an old TLS
version, no common cipher suite, a refused password) are raised once per run of failures.
"""

from __future__ import annotations

import logging
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cryptography import x509

from ocpp_station.profiles.security import pki
from ocpp_station.profiles.security.certificates import Certificates
from ocpp_station.profiles.security.keeper import CertificateKeeper
from ocpp_station.station.link import Target, authorization_key, password_of
from ocpp_station.station.service import Payload, Service, on_config
from ocpp_station.tls import load_cert_chain
from ocpp_station.transport.client import HandshakeRejected, describe_failure

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

KIND = "security"
TRIAL = "profile_trial"
# Attempts in a row the new profile may fail before the station falls back (A05.FR.08).
FALLBACK_AFTER = 3


def failure_event(exc: BaseException) -> str | None:
    """The security event a failed connection attempt is (whitepaper §2.4, §8), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return "InvalidCentralSystemCertificate"
        if isinstance(current, ssl.SSLError):
            reason = str(current.reason or "").upper()
            if "VERSION" in reason or "UNSUPPORTED_PROTOCOL" in reason:
                return "InvalidTLSVersion"
            if "CIPHER" in reason or "HANDSHAKE_FAILURE" in reason:
                return "InvalidTLSCipherSuite"
        if isinstance(current, HandshakeRejected) and current.status == 401:
            return "FailedToAuthenticationAtCentralSystem"
        current = current.__cause__ or current.__context__
    return None


def with_scheme(url: str, secure: bool) -> str:
    parts = urlsplit(url)
    scheme = "wss" if secure else parts.scheme
    return parts._replace(scheme=scheme).geturl()


class SecurityLink(Service):
    __slots__ = (
        "_changing_from",
        "_failures",
        "_reported",
        "certificates",
        "ctx",
        "keeper",
    )

    retarget_keys = frozenset({"AuthorizationKey", "SecurityProfile"})

    def __init__(
        self, ctx: StationContext, keeper: CertificateKeeper, certificates: Certificates
    ) -> None:
        self.ctx = ctx
        self.keeper = keeper
        self.certificates = certificates
        self._failures = 0
        self._reported: set[str] = set()
        # The profile a ChangeConfiguration being applied leaves (set by the guard).
        self._changing_from: int | None = None
        ctx.config.guard("SecurityProfile", self._check_profile)

    # -- the key --------------------------------------------------------------------------------
    def _check_profile(self, value: str, running: str | None) -> None:
        new, old = int(value), int(running or 0)
        if new <= old:
            raise ValueError(f"a security profile only goes up ({old} now)")  # A05.FR.01
        if new in (1, 2) and password_of(authorization_key(self.ctx.config)) is None:
            raise ValueError(f"profile {new} needs an AuthorizationKey")  # A05.FR.02
        now = self.ctx.clock.now()
        roots = self.keeper.roots(pki.CENTRAL_SYSTEM_ROOT)
        if new >= 2 and not any(pki.valid_at(e.cert, now) for e in roots):
            raise ValueError(f"profile {new} needs a CentralSystemRootCertificate")  # A05.FR.03
        if new == 3 and self.keeper.station_certificate(now) is None:
            raise ValueError("profile 3 needs a valid station certificate")  # A05.FR.04
        self._changing_from = self._committed()

    @on_config("SecurityProfile")
    def _profile_changed(self, value: str) -> None:
        previous, self._changing_from = self._changing_from, None
        if previous is None:
            # Set locally (the installer's --config, or a fallback): the guard of
            # ChangeConfiguration did not run, and there is no trial.
            return
        self.ctx.store.record_put(KIND, TRIAL, {"from": previous, "to": int(value)})
        self._failures = 0
        self.ctx.events.security_event.emit(
            "ReconfigurationOfSecurityParameters", f"SecurityProfile {previous} to {value}"
        )

    @on_config("AuthorizationKey")
    def _key_changed(self, value: str) -> None:
        # Never the value: it is a secret.
        self.ctx.events.security_event.emit(
            "ReconfigurationOfSecurityParameters", "AuthorizationKey changed"
        )

    def _trial(self) -> dict[str, int] | None:
        value = self.ctx.store.record_get(KIND, TRIAL)
        return value if isinstance(value, dict) else None

    def _committed(self) -> int:
        """The profile the station last connected with (the running one when no trial)."""
        trial = self._trial()
        if trial is not None:
            return int(trial["from"])
        return self.ctx.config.get_int("SecurityProfile")

    def snapshot(self, view: Payload) -> None:
        view["securityProfile"] = self.ctx.config.get_int("SecurityProfile")

    # -- ConnectionPolicy -----------------------------------------------------------------------
    def target(self, url: str) -> Target:
        profile = self.ctx.config.get_int("SecurityProfile")
        secure = profile >= 2 or urlsplit(url).scheme.lower() == "wss"
        password = None if profile == 3 else password_of(authorization_key(self.ctx.config))
        context = self._tls_context(profile) if secure else None
        return Target(with_scheme(url, profile >= 2), context, password)

    def _tls_context(self, profile: int) -> ssl.SSLContext:
        roots = self.keeper.roots(pki.CENTRAL_SYSTEM_ROOT)
        if roots:
            # Only the installed roots are trusted (A00.FR.307): not the system's store too.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.load_verify_locations(cadata="".join(pki.pem(e.cert) for e in roots))
        else:
            context = ssl.create_default_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if profile == 3:
            mine = self.keeper.station_certificate(self.ctx.clock.now())
            if mine is None:
                log.warning("security profile 3 without a valid station certificate")
            else:
                load_cert_chain(context, mine.chain_pem(), mine.key_pem)
        return context

    def failed(self, exc: BaseException) -> bool:
        event = failure_event(exc)
        if event is not None and event not in self._reported:
            self._reported.add(event)
            self.ctx.events.security_event.emit(event, describe_failure(exc))
        trial = self._trial()
        if trial is None:
            return False
        self._failures += 1
        if self._failures < FALLBACK_AFTER:
            return False
        back = int(trial["from"])
        log.warning(
            "security profile %s cannot connect (%d tries): back to profile %d",
            trial["to"],
            self._failures,
            back,
        )
        with self.ctx.store.atomic():
            self.ctx.store.record_delete(KIND, TRIAL)
            self.ctx.config.set_initial("SecurityProfile", str(back))
        self._failures = 0
        self.ctx.events.security_event.emit(
            "ReconfigurationOfSecurityParameters",
            f"SecurityProfile back to {back}: profile {trial['to']} could not connect",
        )
        return True

    def opened(self, server_certificate: bytes | None) -> None:
        self._reported.clear()
        self._failures = 0
        if self._trial() is not None:
            log.info("security profile %d connected", self.ctx.config.get_int("SecurityProfile"))
            self.ctx.store.record_delete(KIND, TRIAL)
        leaf = x509.load_der_x509_certificate(server_certificate) if server_certificate else None
        self.certificates.connected_with(leaf)
