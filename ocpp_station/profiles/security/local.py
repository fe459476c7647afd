"""What the installer gives the station on its command line (`--ca`, `--cert`, `--key`),
installed into its certificate keeper at start: the central system's root certificate(s) and the
station's own certificate chain and key (interface: `ocpp-station run`)."""

from __future__ import annotations

import logging
from datetime import datetime

from ocpp_station.profiles.security import pki
from ocpp_station.profiles.security.keeper import CertificateKeeper
from ocpp_station.storage.interface import RecordStore

log = logging.getLogger("ocpp_station.station")


def install_local(
    records: RecordStore,
    now: datetime,
    *,
    ca_pem: str | None = None,
    cert_pem: str | None = None,
    key_pem: str | None = None,
) -> None:
    """Install the roots of `ca_pem` as CentralSystemRootCertificates and `cert_pem`/`key_pem`
    as the station's certificate; CertificateError (a one-line reason) for what cannot be used.
    Installing what is installed already changes nothing."""
    keeper = CertificateKeeper(records)
    if ca_pem is not None:
        for cert in pki.load_chain(ca_pem):
            if not pki.is_ca(cert):
                raise pki.CertificateError(
                    f"{cert.subject.rfc4514_string()} is not a CA certificate"
                )
            if not keeper.has(pki.CENTRAL_SYSTEM_ROOT, cert):
                keeper.add(pki.CENTRAL_SYSTEM_ROOT, cert)
                log.info("installed central system root %s", cert.subject.rfc4514_string())
    if (cert_pem is None) != (key_pem is None):
        raise pki.CertificateError("a station certificate needs its key, and a key its certificate")
    if cert_pem is None or key_pem is None:
        return
    chain = pki.load_chain(cert_pem)
    key = pki.load_key(key_pem)
    if not pki.key_matches(chain[0], key):
        raise pki.CertificateError("the key does not belong to the station certificate")
    if not pki.valid_at(chain[0], now):
        raise pki.CertificateError("the station certificate is not valid now")
    current = keeper.station_certificate()
    if current is not None and pki.fingerprint(current.leaf) == pki.fingerprint(chain[0]):
        return
    keeper.set_station_certificate(chain, pki.key_pem(key))
    log.info("installed station certificate %s", chain[0].subject.rfc4514_string())
