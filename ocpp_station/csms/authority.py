"""The central system's small certificate authority (security whitepaper §2.6): one root that
signs the central system's TLS server certificate and the stations' certificates (their CSRs
from SignCertificate.req, or certificates issued for a station's `--cert`).

Kept in a folder when given one (the root's key readable by its user alone), so stations that
trust the root stay trusting it across restarts; in memory otherwise (tests, the conformance
tool).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocpp_station.tls import load_cert_chain

ROOT_FILE, KEY_FILE = "csms-root.pem", "csms-root.key"
# A root lasts ten years; what it signs, one year (a station asks again a month before, A03).
ROOT_DAYS, LEAF_DAYS = 3650, 365


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _host_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


class CertificateAuthority:
    def __init__(self, key: ec.EllipticCurvePrivateKey, root: x509.Certificate) -> None:
        self.key = key
        self.root = root

    @classmethod
    def generate(
        cls, name: str = "ocpp-station CSMS root", organization: str = "ocpp-station"
    ) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        subject = _name(name, organization)
        root = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=ROOT_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, root)

    @classmethod
    def in_folder(cls, folder: Path) -> CertificateAuthority:
        """The authority kept in `folder`, made there on first use."""
        cert_path, key_path = folder / ROOT_FILE, folder / KEY_FILE
        if cert_path.exists() and key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_path}: not the EC key this authority makes")
            return cls(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        authority = cls.generate()
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(_key_pem(authority.key))
        cert_path.write_text(authority.root_pem)
        return authority

    @property
    def root_pem(self) -> str:
        return _pem(self.root)

    def _issue(
        self,
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey | object,
        usage: x509.ObjectIdentifier,
        *,
        hosts: Iterable[str] = (),
        days: int = LEAF_DAYS,
        not_before: datetime | None = None,
    ) -> x509.Certificate:
        start = not_before or datetime.now(UTC) - timedelta(minutes=5)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.root.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        names = _host_names(hosts)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def sign_csr(self, csr_pem: str, *, days: int = LEAF_DAYS) -> str:
        """The station certificate for a SignCertificate.req's CSR, as CertificateSigned.req's
        certificateChain: the leaf (its subject as the CSR asks), signed by the root.
        ValueError for a CSR that does not parse or whose signature is wrong."""
        csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
        if not csr.is_signature_valid:
            raise ValueError("the CSR's signature is wrong")
        cert = self._issue(
            csr.subject, csr.public_key(), ExtendedKeyUsageOID.CLIENT_AUTH, days=days
        )
        return _pem(cert)

    def issue_station(self, serial: str, organization: str) -> tuple[str, str]:
        """(certificate PEM, key PEM) of a station: CN=serial, O=organization (A00.FR.511)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._issue(
            _name(serial, organization), key.public_key(), ExtendedKeyUsageOID.CLIENT_AUTH
        )
        return _pem(cert), _key_pem(key)

    def server_context(
        self, hosts: Iterable[str] = ("127.0.0.1", "localhost"), *, client_certificates: bool = True
    ) -> ssl.SSLContext:
        """A TLS server context with a certificate for `hosts`, TLS 1.2 at least; asking for a
        station certificate signed by this root when `client_certificates` (profile 3; a station
        without one still connects, for profiles 2)."""
        hosts = list(hosts)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._issue(
            _name(hosts[0] if hosts else "localhost", "ocpp-station"),
            key.public_key(),
            ExtendedKeyUsageOID.SERVER_AUTH,
            hosts=hosts,
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        load_cert_chain(context, _pem(cert), _key_pem(key))
        if client_certificates:
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_verify_locations(cadata=self.root_pem)
        return context
