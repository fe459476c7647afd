"""Certificate management (whitepaper use cases A02, A03, M03, M04, M05) and
ExtendedTriggerMessage (§5.6).

- InstallCertificate: a root (a self-signed CA certificate) of either type, within
  CertificateStoreMaxLength; with AdditionalRootCertificateCheck, a new CentralSystemRoot must be
  signed by the one installed, which stays as a fallback until a connection with the new one
  works (M05.FR.08-13). A refused CentralSystemRoot also raises InvalidCentralSystemCertificate
  (the test tool's TC_078 expects it).
- GetInstalledCertificateIds and DeleteCertificate by CertificateHashData (SHA256, SHA384 or
  SHA512); the station's own certificate is never deleted (M04.FR.05), nor the
  CentralSystemRoot the connection relies on (M04.FR.06).
- SignChargePointCertificate: a new key pair made here and a CSR (O=CpoName, CN=serial) in
  SignCertificate.req; CertificateSigned then checks the chain (our key, valid dates, signed up
  to an installed CentralSystemRoot where there is one) and keeps it for the next connection, or
  is Rejected with InvalidChargePointCertificate (A02.FR.06-07, TC_077).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cryptography import x509

from ocpp_station.profiles.security import pki
from ocpp_station.profiles.security.keeper import CertificateKeeper
from ocpp_station.rpc.errors import ConnectionLost
from ocpp_station.station.service import Payload, Service, after, handles

if TYPE_CHECKING:
    from ocpp_station.profiles.remote_trigger.service import TriggerService
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

SIGN_CERTIFICATE = "SignChargePointCertificate"
# A03: the station asks for a new certificate this long before its own expires.
RENEW_BEFORE = timedelta(days=30)


class Certificates(Service):
    __slots__ = ("_csr_task", "ctx", "keeper", "server_leaf", "triggers")

    def __init__(
        self, ctx: StationContext, keeper: CertificateKeeper, triggers: TriggerService | None
    ) -> None:
        self.ctx = ctx
        self.keeper = keeper
        self.triggers = triggers
        # The central system's certificate on the TLS connection now (set by the link).
        self.server_leaf: x509.Certificate | None = None
        self._csr_task: asyncio.Task[Any] | None = None

    # -- roots ---------------------------------------------------------------------------------
    @handles("InstallCertificate")
    def install_certificate(self, request: Payload) -> Payload:
        cert_type = request["certificateType"]
        try:
            cert = pki.load_one(request["certificate"])
            self._check_new_root(cert_type, cert)
        except pki.CertificateError as exc:
            log.info("InstallCertificate %s rejected: %s", cert_type, exc)
            if cert_type == pki.CENTRAL_SYSTEM_ROOT:
                self.ctx.events.security_event.emit("InvalidCentralSystemCertificate", str(exc))
            return {"status": "Rejected"}
        if self.keeper.has(cert_type, cert):
            return {"status": "Accepted"}  # installed already: nothing changes
        try:
            with self.keeper.records.atomic():
                if self._single_root(cert_type):
                    for old in self.keeper.roots(cert_type):
                        self.keeper.remove(old)
                        self.keeper.add(cert_type, old.cert, fallback=True)
                self.keeper.add(cert_type, cert)
        except Exception:
            log.exception("InstallCertificate %s: the store failed", cert_type)
            return {"status": "Failed"}  # M05.FR.04
        log.info("installed %s %s", cert_type, cert.subject.rfc4514_string())
        return {"status": "Accepted"}

    def _single_root(self, cert_type: str) -> bool:
        return cert_type == pki.CENTRAL_SYSTEM_ROOT and self.ctx.config.get_bool(
            "AdditionalRootCertificateCheck"
        )

    def _check_new_root(self, cert_type: str, cert: x509.Certificate) -> None:
        if cert_type not in pki.ROOT_TYPES:
            raise pki.CertificateError(f"unknown certificate type {cert_type}")
        now = self.ctx.clock.now()
        if not pki.valid_at(cert, now):
            raise pki.CertificateError("the certificate is not valid now")
        if self.keeper.has(cert_type, cert):
            return
        current = [entry for entry in self.keeper.roots(cert_type) if not entry.fallback]
        if self._single_root(cert_type) and current:
            # M05.FR.09-10: the new root must be signed by the one it replaces.
            if not (pki.is_ca(cert) and any(pki.issued_by(cert, e.cert) for e in current)):
                raise pki.CertificateError("the new root is not signed by the installed one")
        elif not pki.is_root(cert):
            raise pki.CertificateError("not a root: a self-signed CA certificate is needed")
        if self.keeper.count() >= self.ctx.config.get_int("CertificateStoreMaxLength"):
            raise pki.CertificateError("the certificate store is full")  # M05.FR.03

    def connected_with(self, leaf: x509.Certificate | None) -> None:
        """A TLS connection is open with this server certificate: a new CentralSystemRoot has
        proven itself, so the fallback goes (M05.FR.12)."""
        self.server_leaf = leaf
        if leaf is None:
            return
        roots = self.keeper.roots(pki.CENTRAL_SYSTEM_ROOT)
        if any(not e.fallback and pki.ends_at(leaf, e.cert) for e in roots) and any(
            e.fallback for e in roots
        ):
            dropped = self.keeper.drop_fallbacks(pki.CENTRAL_SYSTEM_ROOT)
            log.info("the new central system root works: %d fallback root(s) removed", dropped)

    @handles("GetInstalledCertificateIds")
    def get_installed(self, request: Payload) -> Payload:
        cert_type = request["certificateType"]
        entries = self.keeper.roots(cert_type)
        if not entries:
            return {"status": "NotFound"}  # M03.FR.02
        data = [pki.hash_data(e.cert, e.cert) for e in entries]
        return {"status": "Accepted", "certificateHashData": data}

    @handles("DeleteCertificate")
    def delete_certificate(self, request: Payload) -> Payload:
        wanted = request["certificateHashData"]
        algorithm = str(wanted.get("hashAlgorithm", "")).upper()
        if algorithm not in pki.HASHES:
            return {"status": "NotFound"}
        roots = [entry.cert for entry in self.keeper.roots()]
        for chain in self.keeper.station_chains():
            for index, cert in enumerate(chain):
                issuer = chain[index + 1] if index + 1 < len(chain) else pki.issuer_of(cert, roots)
                if pki.same_hash(pki.hash_data(cert, issuer, algorithm), wanted):
                    log.info("DeleteCertificate refused: the station's own certificate")
                    return {"status": "Failed"}  # M04.FR.05
        for entry in self.keeper.roots():
            if not pki.same_hash(pki.hash_data(entry.cert, entry.cert, algorithm), wanted):
                continue
            if entry.type == pki.CENTRAL_SYSTEM_ROOT and self._in_use(entry.cert):
                log.info("DeleteCertificate refused: the connection relies on that root")
                return {"status": "Failed"}  # M04.FR.06
            self.keeper.remove(entry)
            log.info("deleted %s %s", entry.type, entry.cert.subject.rfc4514_string())
            return {"status": "Accepted"}
        return {"status": "NotFound"}

    def _in_use(self, cert: x509.Certificate) -> bool:
        """The TLS connection (profile 2 or 3) relies on this root: it signed the server's
        certificate, or it is the last central system root the next connection could use."""
        if self.ctx.config.get_int("SecurityProfile") < 2:
            return False
        leaf = self.server_leaf
        if leaf is not None and pki.ends_at(leaf, cert):
            return True
        return len(self.keeper.roots(pki.CENTRAL_SYSTEM_ROOT)) <= 1

    # -- ExtendedTriggerMessage ------------------------------------------------------------------
    @handles("ExtendedTriggerMessage")
    def extended_trigger(self, request: Payload) -> Payload:
        message = request["requestedMessage"]
        if message == SIGN_CERTIFICATE:
            # Whitepaper A02 prerequisite: CpoName must be set.
            return {"status": "Accepted" if self.ctx.config.get("CpoName") else "Rejected"}
        source = self._source(message)
        if source is None:
            return {"status": "NotImplemented"}
        return {"status": "Accepted" if source.accepts(request.get("connectorId")) else "Rejected"}

    @after("ExtendedTriggerMessage")
    def extended_triggered(self, request: Payload, response: Payload) -> None:
        # The .conf goes first, as with TriggerMessage (§5.6 "same semantics").
        if response["status"] != "Accepted":
            return
        message = request["requestedMessage"]
        if message == SIGN_CERTIFICATE:
            self.request_certificate()
            return
        source = self._source(message)
        if source is not None:
            source.send(request.get("connectorId"))

    # ExtendedTriggerMessage names the signed firmware's notification by the legacy name.
    _ALIASES = {"FirmwareStatusNotification": "SignedFirmwareStatusNotification"}

    def _source(self, message: str) -> Any:
        if self.triggers is None:
            return None
        return self.triggers.source(self._ALIASES.get(message, message))

    # -- the station's certificate (A02, A03) ------------------------------------------------
    def request_certificate(self) -> None:
        """Make a new key pair and send its CSR in SignCertificate.req."""
        if self._csr_task is not None and not self._csr_task.done():
            return
        self._csr_task = self.ctx.spawn(self._sign_certificate())

    async def _sign_certificate(self) -> None:
        key = await asyncio.to_thread(pki.new_key)
        csr = pki.make_csr(
            key, organization_name=self.ctx.config.get("CpoName"), serial=self._serial()
        )
        # The key waits here, and only here, for its certificate (A02.FR.05).
        self.keeper.set_pending_key(pki.key_pem(key))
        try:
            answer = await self.ctx.sender.request("SignCertificate", {"csr": csr})
        except (ConnectionLost, TimeoutError) as exc:
            log.warning("SignCertificate not answered: %s", exc)
            return
        log.info("SignCertificate %s", answer.get("status"))

    def _serial(self) -> str:
        """The CN of the station's certificate (A00.FR.511): its serial number, else (a station
        built without one) its identity."""
        return self.ctx.info.serial or self.ctx.identity

    def on_accepted(self) -> None:
        # A03: about a month before the station's certificate expires, ask for a new one.
        current = self.keeper.station_certificate()
        if current is None or not self.ctx.config.get("CpoName"):
            return
        if current.leaf.not_valid_after_utc - self.ctx.clock.now() < RENEW_BEFORE:
            log.info("the station certificate expires soon: asking for a new one")
            self.request_certificate()

    @handles("CertificateSigned")
    def certificate_signed(self, request: Payload) -> Payload:
        text = request["certificateChain"]
        try:
            chain = self._check_signed(text)
        except pki.CertificateError as exc:
            log.info("CertificateSigned rejected: %s", exc)
            self.ctx.events.security_event.emit("InvalidChargePointCertificate", str(exc))
            return {"status": "Rejected"}
        key = self.keeper.pending_key()
        assert key is not None  # checked by _check_signed
        with self.keeper.records.atomic():
            self.keeper.set_station_certificate(chain, key)
            self.keeper.set_pending_key(None)
        log.info(
            "new station certificate %s, used from the next connection",
            chain[0].subject.rfc4514_string(),
        )
        return {"status": "Accepted"}

    def _check_signed(self, text: str) -> list[x509.Certificate]:
        limit = self.ctx.config.get_int("CertificateSignedMaxChainSize")
        if len(text) > limit:
            raise pki.CertificateError(f"the chain is longer than {limit} characters")
        chain = pki.load_chain(text)
        key_text = self.keeper.pending_key()
        if key_text is None:
            raise pki.CertificateError("no certificate was asked for (no CSR pending)")
        if not pki.key_matches(chain[0], pki.load_key(key_text)):
            raise pki.CertificateError("the certificate is not for the key of our CSR")
        now = self.ctx.clock.now()
        if chain[0].not_valid_after_utc < now:
            raise pki.CertificateError("the certificate has expired")
        serial = self._serial()
        if pki.common_name(chain[0]) != serial:
            raise pki.CertificateError(f"the certificate's CN is not the serial number {serial}")
        roots = [e.cert for e in self.keeper.roots(pki.CENTRAL_SYSTEM_ROOT)]
        if roots:
            # Part of the CPO's hierarchy (A02.FR.06): up to an installed root. Dates are checked
            # at the leaf's start, which may lie ahead (A02.FR.08).
            check_time = max(now, chain[0].not_valid_before_utc)
            pki.check_chain(chain, roots, check_time)
        else:
            for index in range(len(chain) - 1):
                if not pki.issued_by(chain[index], chain[index + 1]):
                    raise pki.CertificateError(f"certificate {index + 1} is not signed by the next")
        return chain
