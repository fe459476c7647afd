"""The certificate work of the security extensions, on `cryptography`: reading PEM, the
CertificateHashData of a certificate, chain checks, the station's key pair and CSR, and the
firmware signature (security whitepaper edition 3, §2.6, §4, use cases A02, M03-M05, L01).

Pure functions over certificates and bytes: the keeper (keeper.py) stores, the services decide.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

CENTRAL_SYSTEM_ROOT = "CentralSystemRootCertificate"
MANUFACTURER_ROOT = "ManufacturerRootCertificate"
ROOT_TYPES = (CENTRAL_SYSTEM_ROOT, MANUFACTURER_ROOT)

# HashAlgorithmEnumType (whitepaper §6.4) -> the hash.
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CertificateError(ValueError):
    """A certificate, chain or key that cannot be used; the message says why in one line."""


def load_chain(text: str) -> list[x509.Certificate]:
    """Every certificate of a PEM text, in order; CertificateError when there is none or one
    does not parse."""
    try:
        chain = x509.load_pem_x509_certificates(text.encode("ascii", "strict"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise CertificateError(f"not PEM certificates: {exc}") from None
    if not chain:
        raise CertificateError("no certificate in the PEM text")
    return chain


def load_one(text: str) -> x509.Certificate:
    """The one certificate of a PEM text (InstallCertificate carries exactly one)."""
    chain = load_chain(text)
    if len(chain) != 1:
        raise CertificateError(f"expected one certificate, got {len(chain)}")
    return chain[0]


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return bool(constraints.ca)


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """`issuer` signed `cert` (names and signature checked)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def ends_at(cert: x509.Certificate, root: x509.Certificate) -> bool:
    """`cert` is `root`, or `root` signed it: a chain ending in `cert` leads to `root`."""
    return fingerprint(root) == fingerprint(cert) or issued_by(cert, root)


def is_root(cert: x509.Certificate) -> bool:
    """A self-signed CA certificate: what the root certificate types hold (whitepaper §2.6.2)."""
    return is_ca(cert) and issued_by(cert, cert)


def valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def hash_data(
    cert: x509.Certificate, issuer: x509.Certificate, algorithm: str = "SHA256"
) -> dict[str, str]:
    """CertificateHashData (whitepaper §6.1, edition 3): the OCSP CertID of RFC 6960 — the
    hashes of the issuer's DER name and of its public key's bit string, and the serial number
    in hex without leading zeros. Computed by cryptography's OCSP request builder, which
    implements exactly that."""
    hash_type = HASHES.get(algorithm)
    if hash_type is None:
        raise CertificateError(f"unknown hash algorithm {algorithm!r}")
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hash_type()).build()
    return {
        "hashAlgorithm": algorithm,
        "issuerNameHash": request.issuer_name_hash.hex(),
        "issuerKeyHash": request.issuer_key_hash.hex(),
        "serialNumber": format(request.serial_number, "x"),
    }


def same_hash(a: dict[str, str], b: dict[str, str]) -> bool:
    """Two CertificateHashData name one certificate: case-insensitive, as the whitepaper's
    identifierString and hex fields are; leading zeros of the serial number ignored."""

    def norm(data: dict[str, str]) -> tuple[str, ...]:
        return (
            str(data.get("hashAlgorithm", "")).upper(),
            str(data.get("issuerNameHash", "")).lower(),
            str(data.get("issuerKeyHash", "")).lower(),
            str(data.get("serialNumber", "")).lower().lstrip("0") or "0",
        )

    return norm(a) == norm(b)


def issuer_of(cert: x509.Certificate, candidates: Iterable[x509.Certificate]) -> x509.Certificate:
    """The certificate among `candidates` (or `cert` itself when self-signed) that signed it;
    `cert` when none did (its hash data then names it by its own key, as a root's does)."""
    for candidate in candidates:
        if issued_by(cert, candidate):
            return candidate
    return cert


def check_chain(
    chain: Sequence[x509.Certificate], roots: Sequence[x509.Certificate], now: datetime
) -> None:
    """Leaf first: every certificate valid now, each signed by the next, and the last one
    signed by one of `roots` (or being one). CertificateError saying what failed."""
    for index, cert in enumerate(chain):
        if not valid_at(cert, now):
            raise CertificateError(
                f"certificate {index + 1} of the chain is not valid now"
                f" ({cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})"
            )
        if index + 1 < len(chain) and not issued_by(cert, chain[index + 1]):
            raise CertificateError(f"certificate {index + 1} is not signed by the next one")
    last = chain[-1]
    if not roots:
        raise CertificateError("no root certificate installed to check the chain against")
    for root in roots:
        if ends_at(last, root):
            if not valid_at(root, now):
                raise CertificateError("the root the chain ends at is not valid now")
            return
    raise CertificateError("the chain does not lead to an installed root certificate")


def subject_attribute(cert: x509.Certificate | x509.CertificateSigningRequest, oid: object) -> str:
    values = cert.subject.get_attributes_for_oid(oid)  # type: ignore[arg-type]
    return str(values[0].value) if values else ""


def common_name(cert: x509.Certificate | x509.CertificateSigningRequest) -> str:
    return subject_attribute(cert, NameOID.COMMON_NAME)


def organization(cert: x509.Certificate | x509.CertificateSigningRequest) -> str:
    return subject_attribute(cert, NameOID.ORGANIZATION_NAME)


# -- the station's own key and certificate (A02) -----------------------------------------------


def new_key() -> PrivateKey:
    """A fresh key pair, made on the station (A02.FR.02): EC P-256, above the 224 bits
    A00.FR.503 asks, and cheap to make."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_key(text: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise CertificateError(f"not a usable PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateError("the private key must be EC or RSA")
    return key


def make_csr(key: PrivateKey, *, organization_name: str, serial: str) -> str:
    """The PEM CSR of SignCertificate.req: O=CpoName (A02.FR.13), CN=the station's serial
    number (A00.FR.511), signed with SHA-256."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization_name),
            x509.NameAttribute(NameOID.COMMON_NAME, serial),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def key_matches(cert: x509.Certificate, key: PrivateKey) -> bool:
    def spki(public: object) -> bytes:
        return public.public_bytes(  # type: ignore[attr-defined,no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    return spki(cert.public_key()) == spki(key.public_key())


# -- signed firmware (L01) -----------------------------------------------------------------------


def signature_valid(cert: x509.Certificate, data: bytes, signature_b64: str) -> bool:
    """The base64 `signature` over `data` by the signing certificate's key, SHA-256 (L01.FR.04):
    RSA-PSS as the whitepaper names it, PKCS#1 v1.5 as `openssl dgst -sha256 -sign` makes it,
    ECDSA for an EC key."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    public = cert.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            for scheme in (
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                padding.PKCS1v15(),
            ):
                try:
                    public.verify(signature, data, scheme, hashes.SHA256())
                    return True
                except InvalidSignature:
                    continue
            return False
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False
