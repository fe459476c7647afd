"""Where the station keeps its certificates and its key: records of its store (kinds
`certificate` and `station_identity`), so they live in the state folder's database (mode 0600)
for one station, and in a fleet's database per station, surviving restarts like the rest.

Root certificates are kept by type (CentralSystemRootCertificate, ManufacturerRootCertificate),
each under its SHA-256 fingerprint. The station's own certificate chain and private key are one
record; the key of a CSR waiting for its certificate is another, so the private key never
leaves the station (A02.FR.05): nothing here is ever sent or shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from ocpp_station.profiles.security import pki
from ocpp_station.storage.interface import RecordStore

CERTIFICATES = "certificate"
IDENTITY = "station_identity"
CURRENT, PREVIOUS, PENDING_KEY = "current", "previous", "pending_key"


@dataclass(frozen=True, slots=True)
class Installed:
    """One installed root certificate."""

    type: str
    cert: x509.Certificate
    # Kept only until a connection succeeds with the root that replaced it (M05.FR.11-13).
    fallback: bool = False

    @property
    def key(self) -> str:
        return f"{self.type}/{pki.fingerprint(self.cert)}"


@dataclass(frozen=True, slots=True)
class StationCertificate:
    chain: list[x509.Certificate]  # leaf first
    key_pem: str  # the private key, PEM: for the TLS context only

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    def chain_pem(self) -> str:
        return "".join(pki.pem(cert) for cert in self.chain)


class CertificateKeeper:
    __slots__ = ("records",)

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    # -- roots ------------------------------------------------------------------------------
    def roots(self, cert_type: str | None = None) -> list[Installed]:
        """Installed roots of `cert_type` (all types when None), oldest first."""
        found: list[Installed] = []
        for value in self.records.records(CERTIFICATES).values():
            if cert_type is not None and value.get("type") != cert_type:
                continue
            try:
                cert = pki.load_one(value["pem"])
            except (pki.CertificateError, KeyError, TypeError):
                continue  # a record no certificate can be read from is no root
            found.append(Installed(value["type"], cert, bool(value.get("fallback"))))
        found.sort(key=lambda entry: entry.cert.not_valid_before_utc)
        return found

    def count(self) -> int:
        return len(self.records.records(CERTIFICATES))

    def has(self, cert_type: str, cert: x509.Certificate) -> bool:
        key = Installed(cert_type, cert).key
        return self.records.record_get(CERTIFICATES, key) is not None

    def add(self, cert_type: str, cert: x509.Certificate, *, fallback: bool = False) -> None:
        entry = Installed(cert_type, cert, fallback)
        value = {"type": cert_type, "pem": pki.pem(cert), "fallback": fallback}
        self.records.record_put(CERTIFICATES, entry.key, value)

    def remove(self, entry: Installed) -> None:
        self.records.record_delete(CERTIFICATES, entry.key)

    def drop_fallbacks(self, cert_type: str) -> int:
        """Forget the fallback roots of `cert_type` (a connection with the new one worked)."""
        gone = [entry for entry in self.roots(cert_type) if entry.fallback]
        with self.records.atomic():
            for entry in gone:
                self.remove(entry)
        return len(gone)

    # -- the station's own certificate -----------------------------------------------------------
    def station_certificate(self, now: datetime | None = None) -> StationCertificate | None:
        """The certificate the station presents (profile 3): the current one, or the previous
        one while the current is not valid yet (A02.FR.08)."""
        for name in (CURRENT, PREVIOUS):
            found = self._identity(name)
            if found is not None and (now is None or pki.valid_at(found.leaf, now)):
                return found
        return None

    def _identity(self, name: str) -> StationCertificate | None:
        value = self.records.record_get(IDENTITY, name)
        if not isinstance(value, dict):
            return None
        try:
            return StationCertificate(pki.load_chain(value["chain"]), str(value["key"]))
        except (pki.CertificateError, KeyError):
            return None

    def set_station_certificate(self, chain: list[x509.Certificate], key_pem: str) -> None:
        """The new certificate becomes current; the one before is kept as a fallback
        (A02.FR.10)."""
        current = self.records.record_get(IDENTITY, CURRENT)
        with self.records.atomic():
            if current is not None:
                self.records.record_put(IDENTITY, PREVIOUS, current)
            self.records.record_put(
                IDENTITY, CURRENT, {"chain": "".join(pki.pem(c) for c in chain), "key": key_pem}
            )

    def is_station_certificate(self, cert: x509.Certificate) -> bool:
        """`cert` is (in) a chain of the station's own: never deletable (M04.FR.05)."""
        mark = pki.fingerprint(cert)
        for name in (CURRENT, PREVIOUS):
            found = self._identity(name)
            if found is not None and any(pki.fingerprint(c) == mark for c in found.chain):
                return True
        return False

    def station_chains(self) -> list[list[x509.Certificate]]:
        return [
            found.chain
            for name in (CURRENT, PREVIOUS)
            if (found := self._identity(name)) is not None
        ]

    # -- the key of a CSR waiting for its certificate -------------------------------------------
    def pending_key(self) -> str | None:
        value = self.records.record_get(IDENTITY, PENDING_KEY)
        return str(value) if isinstance(value, str) else None

    def set_pending_key(self, key_pem: str | None) -> None:
        if key_pem is None:
            self.records.record_delete(IDENTITY, PENDING_KEY)
        else:
            self.records.record_put(IDENTITY, PENDING_KEY, key_pem)
