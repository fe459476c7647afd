"""The security extensions on the behaviour core (whitepaper edition 3): certificate management
(M03-M05, A02), SecurityProfile and its prerequisites (A05), the link each profile makes, the
security events and their log (A04), GetLog (N01) and signed firmware (L01), on the virtual
clock with the central system faked."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import ssl
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ocpp_station import timefmt
from ocpp_station.clock import VirtualClock
from ocpp_station.csms.authority import CertificateAuthority
from ocpp_station.profiles.firmware.update import FirmwareUpdate, Update
from ocpp_station.profiles.security import events, pki
from ocpp_station.profiles.security.certificates import Certificates
from ocpp_station.profiles.security.events import SecurityEvents
from ocpp_station.profiles.security.keeper import CertificateKeeper
from ocpp_station.profiles.security.link import FALLBACK_AFTER, SecurityLink, failure_event
from ocpp_station.profiles.security.local import install_local
from ocpp_station.profiles.security.logs import log_file_name
from ocpp_station.profiles.security.signed_firmware import SignedFirmware
from ocpp_station.rpc.errors import NotSupported
from ocpp_station.station.link import password_of
from ocpp_station.storage.memory import MemoryStore
from ocpp_station.transport.client import HandshakeRejected
from tests.unit.harness import Harness
from tests.unit.profiles.test_firmware import Files, booted, eventually

ROOT, MAKER = "CentralSystemRootCertificate", "ManufacturerRootCertificate"
URL = "ws://csms.example:9000/CP-1"


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return CertificateAuthority.generate()


@pytest.fixture(scope="module")
def maker() -> CertificateAuthority:
    return CertificateAuthority.generate("maker root")


async def booted_now(tmp_path: Path, files: Files | None = None) -> Harness:
    """A booted station whose clock reads the real time: the certificates made here are valid
    from a few minutes ago."""
    return await booted(tmp_path, files, clock=VirtualClock(datetime.now(UTC)))


def sent(h: Harness, action: str) -> list[dict[str, Any]]:
    return h.csms.of(action)


def event_types(h: Harness) -> list[str]:
    return [p["type"] for p in sent(h, "SecurityEventNotification")]


def with_certificate(h: Harness, authority: CertificateAuthority) -> str:
    """The authority's root and a station certificate it issued (CN the serial, O "CPO"),
    installed as --ca, --cert and --key would; the certificate's PEM."""
    cert_pem, key_pem = authority.issue_station("OS-DC-000001", "CPO")
    install_local(
        h.store, h.clock.now(), ca_pem=authority.root_pem, cert_pem=cert_pem, key_pem=key_pem
    )
    return cert_pem


async def install(h: Harness, kind: str, pem_text: str) -> str:
    answer = await h.request(
        "InstallCertificate", {"certificateType": kind, "certificate": pem_text}
    )
    return str(answer["status"])


# ---------------------------------------------------------------------------- the hash data


def test_hash_data_is_the_ocsp_cert_id_of_the_certificate(authority: CertificateAuthority) -> None:
    """Whitepaper §6.1 (edition 3): issuerNameHash over the issuer's DER name, issuerKeyHash
    over the public key's bit string, the serial in hex without leading zeros."""
    root = authority.root
    data = pki.hash_data(root, root, "SHA384")
    name_der = root.issuer.public_bytes()
    key_bits = root.public_key().public_bytes(  # an EC key's bit string is its X9.62 point
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert data == {
        "hashAlgorithm": "SHA384",
        "issuerNameHash": hashlib.sha384(name_der).hexdigest(),
        "issuerKeyHash": hashlib.sha384(key_bits).hexdigest(),
        "serialNumber": format(root.serial_number, "x"),
    }
    assert not data["serialNumber"].startswith("0")
    with pytest.raises(pki.CertificateError, match="unknown hash algorithm"):
        pki.hash_data(root, root, "MD5")


def test_hash_data_compare_without_case_or_leading_zeros() -> None:
    a = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "AB",
        "issuerKeyHash": "CD",
        "serialNumber": "0FF",
    }
    b = {
        "hashAlgorithm": "sha256",
        "issuerNameHash": "ab",
        "issuerKeyHash": "cd",
        "serialNumber": "ff",
    }
    assert pki.same_hash(a, b)
    assert not pki.same_hash(a, {**b, "serialNumber": "fe"})
    assert not pki.same_hash(a, {**b, "hashAlgorithm": "SHA512"})
    assert not pki.same_hash(a, {**b, "issuerKeyHash": "ce"})
    assert not pki.same_hash(a, {**b, "issuerNameHash": "ac"})


def test_roots_chains_and_validity(authority: CertificateAuthority) -> None:
    leaf_pem, _ = authority.issue_station("SN-1", "CPO")
    leaf = pki.load_one(leaf_pem)
    now = datetime.now(UTC)
    assert pki.is_root(authority.root) and not pki.is_root(leaf)
    assert pki.issued_by(leaf, authority.root) and not pki.issued_by(authority.root, leaf)
    pki.check_chain([leaf], [authority.root], now)
    pki.check_chain([leaf, authority.root], [authority.root], now)
    stranger = CertificateAuthority.generate("stranger")
    with pytest.raises(
        pki.CertificateError, match=r"^the chain does not lead to an installed root certificate$"
    ):
        pki.check_chain([leaf], [stranger.root], now)
    with pytest.raises(pki.CertificateError, match="not signed by the next"):
        pki.check_chain([leaf, stranger.root], [stranger.root], now)
    with pytest.raises(pki.CertificateError, match="not valid now"):
        pki.check_chain([leaf], [authority.root], now + timedelta(days=400))
    with pytest.raises(
        pki.CertificateError, match=r"^no root certificate installed to check the chain against$"
    ):
        pki.check_chain([leaf], [], now)
    with pytest.raises(pki.CertificateError, match="expected one certificate"):
        pki.load_one(leaf_pem + authority.root_pem)
    with pytest.raises(pki.CertificateError, match="not PEM"):
        pki.load_chain("-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n")
    with pytest.raises(pki.CertificateError):
        pki.load_chain("")


def test_firmware_signatures_rsa_pss_pkcs1_and_ecdsa(authority: CertificateAuthority) -> None:
    data = b"firmware image" * 100
    ec_pem, ec_key_pem = authority.issue_station("signer", "Maker")
    ec_key = serialization.load_pem_private_key(ec_key_pem.encode(), None)
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey)
    ec_cert = pki.load_one(ec_pem)
    good = base64.b64encode(ec_key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()
    assert pki.signature_valid(ec_cert, data, good)
    assert not pki.signature_valid(ec_cert, data + b"!", good)
    assert not pki.signature_valid(ec_cert, data, "not base64 at all!")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "rsa signer")])
    now = datetime.now(UTC)
    rsa_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(rsa_key, hashes.SHA256())
    )
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    for scheme in (pss, padding.PKCS1v15()):
        signature = base64.b64encode(rsa_key.sign(data, scheme, hashes.SHA256())).decode()
        assert pki.signature_valid(rsa_cert, data, signature)
        assert not pki.signature_valid(rsa_cert, b"other", signature)


def test_password_of_an_authorization_key() -> None:
    """A00.FR.205: a key of 16-20 bytes in hex is those bytes; other text is itself."""
    assert password_of(b"OCA_OCTT_admin_test".hex()) == b"OCA_OCTT_admin_test"
    assert password_of("ab" * 20) == bytes([0xAB]) * 20
    assert password_of("ab" * 21) == ("ab" * 21).encode()  # 21 bytes: not a key in hex
    assert password_of("ab" * 15) == ("ab" * 15).encode()  # 15 bytes: too short for one
    assert password_of("station-password-1") == b"station-password-1"
    assert password_of("") is None


def test_local_credentials_are_checked_before_they_are_kept(
    authority: CertificateAuthority,
) -> None:
    store = MemoryStore()
    now = datetime.now(UTC)
    cert_pem, key_pem = authority.issue_station("SN-1", "CPO")
    other_pem, _ = authority.issue_station("SN-2", "CPO")
    with pytest.raises(pki.CertificateError, match="not a CA"):
        install_local(store, now, ca_pem=cert_pem)
    with pytest.raises(pki.CertificateError, match="needs its key"):
        install_local(store, now, cert_pem=cert_pem)
    with pytest.raises(pki.CertificateError, match="does not belong"):
        install_local(store, now, cert_pem=other_pem, key_pem=key_pem)
    with pytest.raises(pki.CertificateError, match="not valid now"):
        install_local(store, now + timedelta(days=400), cert_pem=cert_pem, key_pem=key_pem)
    install_local(store, now, ca_pem=authority.root_pem, cert_pem=cert_pem, key_pem=key_pem)
    install_local(store, now, ca_pem=authority.root_pem, cert_pem=cert_pem, key_pem=key_pem)
    keeper = CertificateKeeper(store)
    assert [e.cert for e in keeper.roots(ROOT)] == [authority.root]
    mine = keeper.station_certificate(now)
    assert mine is not None and mine.chain_pem() == cert_pem
    assert keeper.station_chains() == [mine.chain]  # installing it again kept no "previous"


# ---------------------------------------------------------------------------- roots (M03-M05)


async def test_install_list_and_delete_roots(
    tmp_path: Path, authority: CertificateAuthority, maker: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    assert await h.request("GetInstalledCertificateIds", {"certificateType": ROOT}) == {
        "status": "NotFound"
    }
    assert await install(h, ROOT, authority.root_pem) == "Accepted"
    assert await install(h, ROOT, authority.root_pem) == "Accepted"  # again: nothing new
    assert await install(h, MAKER, maker.root_pem) == "Accepted"
    listed = await h.request("GetInstalledCertificateIds", {"certificateType": ROOT})
    assert listed == {
        "status": "Accepted",
        "certificateHashData": [pki.hash_data(authority.root, authority.root)],
    }
    for algorithm in ("SHA256", "SHA384", "SHA512"):
        extra = CertificateAuthority.generate(algorithm)
        assert await install(h, MAKER, extra.root_pem) == "Accepted"
        data = pki.hash_data(extra.root, extra.root, algorithm)
        data["serialNumber"] = "00" + data["serialNumber"].upper()
        assert await h.request("DeleteCertificate", {"certificateHashData": data}) == {
            "status": "Accepted"
        }
        assert await h.request("DeleteCertificate", {"certificateHashData": data}) == {
            "status": "NotFound"
        }
    makers = await h.request("GetInstalledCertificateIds", {"certificateType": MAKER})
    assert makers["certificateHashData"] == [pki.hash_data(maker.root, maker.root)]
    unknown = {**pki.hash_data(maker.root, maker.root), "hashAlgorithm": "MD5"}
    assert await h.request("DeleteCertificate", {"certificateHashData": unknown}) == {
        "status": "NotFound"
    }
    await h.close()


async def test_what_is_not_a_root_is_rejected_with_the_event(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    leaf, _ = authority.issue_station("SN-1", "CPO")
    assert await install(h, ROOT, leaf) == "Rejected"
    assert await install(h, MAKER, leaf) == "Rejected"
    assert await install(h, ROOT, "garbage") == "Rejected"
    await h.settle()
    # Whitepaper §8 / TC_078: a refused central system root is InvalidCentralSystemCertificate.
    assert event_types(h) == ["InvalidCentralSystemCertificate"] * 2
    h.clock.set_time(datetime.now(UTC) + timedelta(days=4000))
    assert await install(h, ROOT, authority.root_pem) == "Rejected"  # expired by then
    await h.close()


async def test_the_store_holds_certificate_store_max_length_roots(tmp_path: Path) -> None:
    h = await booted_now(tmp_path)
    h.config.set_fixed("CertificateStoreMaxLength", "2")
    roots = [CertificateAuthority.generate(f"r{i}") for i in range(3)]
    assert await install(h, MAKER, roots[0].root_pem) == "Accepted"
    assert await install(h, ROOT, roots[1].root_pem) == "Accepted"
    assert await install(h, ROOT, roots[2].root_pem) == "Rejected"  # M05.FR.03
    await h.close()


def cross_signed(new: CertificateAuthority, old: CertificateAuthority) -> x509.Certificate:
    """The new root's certificate signed by the old root (M05.FR.09's replacement)."""
    return (
        x509.CertificateBuilder()
        .subject_name(new.root.subject)
        .issuer_name(old.root.subject)
        .public_key(new.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(new.root.not_valid_before_utc)
        .not_valid_after(new.root.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(old.key, hashes.SHA256())
    )


async def test_a_single_root_is_replaced_only_by_one_it_signed(tmp_path: Path) -> None:
    """AdditionalRootCertificateCheck (M05.FR.08-13): the new root must be signed by the old,
    which stays as a fallback until a connection with the new one works."""
    h = await booted_now(tmp_path)
    h.config.set_fixed("AdditionalRootCertificateCheck", "true")
    old = CertificateAuthority.generate("old root")
    assert await install(h, ROOT, old.root_pem) == "Accepted"
    assert await install(h, ROOT, CertificateAuthority.generate("other").root_pem) == "Rejected"
    new = CertificateAuthority.generate("new root")
    cross = cross_signed(new, old)
    assert await install(h, ROOT, pki.pem(cross)) == "Accepted"
    keeper = CertificateKeeper(h.store)
    kept = {pki.fingerprint(e.cert): e.fallback for e in keeper.roots(ROOT)}
    assert kept == {pki.fingerprint(old.root): True, pki.fingerprint(cross): False}
    service = h.service(Certificates)
    service.connected_with(pki.load_one(old.issue_station("SN", "O")[0]))  # the old one still
    assert len(keeper.roots(ROOT)) == 2
    server = new._issue(
        new.root.subject, new.key.public_key(), x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
    )
    service.connected_with(server)
    assert [e.cert for e in keeper.roots(ROOT)] == [cross]
    await h.close()


async def test_the_station_certificate_and_the_root_in_use_are_never_deleted(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    cert_pem = with_certificate(h, authority)
    mine = pki.load_one(cert_pem)
    data = pki.hash_data(mine, authority.root)
    assert await h.request("DeleteCertificate", {"certificateHashData": data}) == {
        "status": "Failed"
    }
    root = pki.hash_data(authority.root, authority.root)
    h.config.set_initial("SecurityProfile", "2")
    assert await h.request("DeleteCertificate", {"certificateHashData": root}) == {
        "status": "Failed"
    }
    other = CertificateAuthority.generate("second")
    assert await install(h, ROOT, other.root_pem) == "Accepted"
    h.service(Certificates).connected_with(mine)  # signed by the first root: it is in use
    assert await h.request("DeleteCertificate", {"certificateHashData": root}) == {
        "status": "Failed"
    }
    second = pki.hash_data(other.root, other.root)
    assert await h.request("DeleteCertificate", {"certificateHashData": second}) == {
        "status": "Accepted"
    }
    await h.close()


# ------------------------------------------------------------------ the station's certificate


async def csr_of(h: Harness) -> str:
    """ExtendedTriggerMessage(SignChargePointCertificate) -> the CSR of SignCertificate."""
    answer = await h.request(
        "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
    )
    assert answer == {"status": "Accepted"}
    await eventually(h, lambda: bool(sent(h, "SignCertificate")), step=0.1)
    return str(sent(h, "SignCertificate")[-1]["csr"])


async def test_a_csr_needs_cpo_name_and_names_the_serial(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    answer = await h.request(
        "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
    )
    assert answer == {"status": "Rejected"}  # A02: CpoName must be set
    h.config.set_initial("CpoName", "Example CPO")
    csr = x509.load_pem_x509_csr((await csr_of(h)).encode())
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == f"CN={h.station.ctx.info.serial},O=Example CPO"
    keeper = CertificateKeeper(h.store)
    key = pki.load_key(keeper.pending_key() or "")
    assert csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    await h.close()


async def test_certificate_signed_keeps_only_a_certificate_for_its_key(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    assert (
        await h.request(
            "CertificateSigned", {"certificateChain": authority.issue_station("x", "y")[0]}
        )
    ) == {"status": "Rejected"}  # no CSR pending
    h.config.set_initial("CpoName", "Example CPO")
    csr = await csr_of(h)
    assert await install(h, ROOT, authority.root_pem) == "Accepted"
    stranger = CertificateAuthority.generate("stranger")
    refusals = [
        authority.issue_station(h.station.ctx.info.serial or "", "Example CPO")[0],  # not our key
        stranger.sign_csr(csr),  # not under the installed root
        "x" * 10001,  # longer than CertificateSignedMaxChainSize
        "garbage",
    ]
    for chain in refusals:
        answer = await h.request("CertificateSigned", {"certificateChain": chain})
        assert answer == {"status": "Rejected"}
    expired = authority.sign_csr(csr, days=1)
    h.clock.set_time(h.clock.now() + timedelta(days=3))
    assert (await h.request("CertificateSigned", {"certificateChain": expired})) == {
        "status": "Rejected"
    }
    h.clock.set_time(h.clock.now() - timedelta(days=3))
    await h.settle()
    assert event_types(h).count("InvalidChargePointCertificate") == 6
    keeper = CertificateKeeper(h.store)
    assert keeper.station_certificate() is None
    good = authority.sign_csr(csr) + authority.root_pem
    assert await h.request("CertificateSigned", {"certificateChain": good}) == {
        "status": "Accepted"
    }
    mine = keeper.station_certificate(h.clock.now())
    assert mine is not None and pki.common_name(mine.leaf) == h.station.ctx.info.serial
    assert keeper.pending_key() is None
    await h.close()


async def test_extended_trigger_message_shares_the_trigger_sources(tmp_path: Path) -> None:
    h = await booted_now(tmp_path)
    for message in (
        "Heartbeat",
        "StatusNotification",
        "LogStatusNotification",
        "FirmwareStatusNotification",
    ):
        assert await h.request("ExtendedTriggerMessage", {"requestedMessage": message}) == {
            "status": "Accepted"
        }
    await h.settle()
    assert h.csms.actions()[:1] == ["Heartbeat"]
    assert sent(h, "LogStatusNotification") == [{"status": "Idle"}]
    # The signed firmware's notification, Idle while no update runs (L01.FR.28).
    assert sent(h, "SignedFirmwareStatusNotification") == [{"status": "Idle"}]
    assert sent(h, "FirmwareStatusNotification") == []
    answer = await h.request(
        "ExtendedTriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 9}
    )
    assert answer == {"status": "Rejected"}
    await h.close()


# ---------------------------------------------------------------------------- SecurityProfile (A05)


async def change(h: Harness, key: str, value: str) -> str:
    return str((await h.request("ChangeConfiguration", {"key": key, "value": value}))["status"])


async def test_security_profile_goes_up_only_with_its_prerequisites(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    assert await change(h, "SecurityProfile", "0") == "Rejected"  # A05.FR.01: not equal
    assert await change(h, "SecurityProfile", "1") == "Rejected"  # A05.FR.02: no key
    assert await change(h, "AuthorizationKey", "ab" * 16) == "Accepted"
    assert await change(h, "SecurityProfile", "2") == "Rejected"  # A05.FR.03: no root
    assert await install(h, ROOT, authority.root_pem) == "Accepted"
    assert await change(h, "SecurityProfile", "3") == "Rejected"  # A05.FR.04: no certificate
    assert await change(h, "SecurityProfile", "2") == "Accepted"
    assert await change(h, "SecurityProfile", "1") == "Rejected"
    assert h.config.get("SecurityProfile") == "2"
    await h.settle()
    infos = [p.get("techInfo") for p in sent(h, "SecurityEventNotification")]
    assert infos == ["AuthorizationKey changed", "SecurityProfile 0 to 2"]
    assert "ab" * 16 not in str(h.csms.sent)  # the key itself never goes out
    await h.close()


def link_of(h: Harness) -> SecurityLink:
    return h.service(SecurityLink)


async def test_each_profile_makes_its_own_link(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    link = link_of(h)
    target = link.target(URL)
    assert (target.url, target.ssl, target.password) == (URL, None, None)
    h.config.set_initial("AuthorizationKey", b"OCA_OCTT_admin_test".hex())
    assert link.target(URL).password == b"OCA_OCTT_admin_test"  # profile 0 with a key
    h.config.set_initial("SecurityProfile", "1")
    assert link.target(URL).url == URL
    with_certificate(h, authority)
    h.config.set_initial("SecurityProfile", "2")
    target = link.target(URL)
    assert target.url == "wss://csms.example:9000/CP-1"
    assert target.password == b"OCA_OCTT_admin_test"
    assert target.ssl is not None and target.ssl.verify_mode is ssl.CERT_REQUIRED
    assert target.ssl.check_hostname and target.ssl.minimum_version is ssl.TLSVersion.TLSv1_2
    # The installed root only (ssl writes serial numbers in hex, padded to whole bytes).
    assert [int(str(c["serialNumber"]), 16) for c in target.ssl.get_ca_certs()] == [
        authority.root.serial_number
    ]
    h.config.set_initial("SecurityProfile", "3")
    target = link.target(URL)
    assert target.password is None and target.url.startswith("wss://")
    await h.close()


async def test_a_new_profile_that_cannot_connect_falls_back(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    h.config.set_initial("AuthorizationKey", "ab" * 16)
    h.config.set_initial("SecurityProfile", "1")
    install_local(h.store, h.clock.now(), ca_pem=authority.root_pem)
    assert await change(h, "SecurityProfile", "2") == "Accepted"
    link = link_of(h)
    refused = ssl.SSLCertVerificationError(1, "certificate verify failed")
    refused.verify_message = "unable to get local issuer certificate"
    for _ in range(FALLBACK_AFTER - 1):
        assert link.failed(refused) is False
    assert h.config.get("SecurityProfile") == "2"
    assert link.failed(refused) is True
    assert h.config.get("SecurityProfile") == "1"
    assert h.store.records("security") == {}  # the trial is over
    await h.settle()
    events_sent = [(p["type"], p.get("techInfo")) for p in sent(h, "SecurityEventNotification")]
    assert events_sent == [
        ("ReconfigurationOfSecurityParameters", "AuthorizationKey changed"),
        ("ReconfigurationOfSecurityParameters", "SecurityProfile 1 to 2"),
        (  # once for the run of failures
            "InvalidCentralSystemCertificate",
            "TLS: the central system's certificate was not accepted"
            " (unable to get local issuer certificate)",
        ),
        (
            "ReconfigurationOfSecurityParameters",
            "SecurityProfile back to 1: profile 2 could not connect",
        ),
    ]
    # Once back on 1, failures are no trial: nothing more changes.
    for _ in range(FALLBACK_AFTER + 1):
        assert link.failed(refused) is False
    assert h.config.get("SecurityProfile") == "1"
    await h.close()


async def test_a_connection_ends_the_trial_and_the_run_of_failures(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    h.config.set_initial("AuthorizationKey", "ab" * 16)
    install_local(h.store, h.clock.now(), ca_pem=authority.root_pem)
    assert await change(h, "SecurityProfile", "2") == "Accepted"
    link = link_of(h)
    assert link.failed(HandshakeRejected(401, "Unauthorized")) is False
    assert link.failed(HandshakeRejected(401, "Unauthorized")) is False
    link.opened(None)
    assert h.store.records("security") == {}
    for _ in range(FALLBACK_AFTER):
        assert link.failed(HandshakeRejected(401, "Unauthorized")) is False
    assert h.config.get("SecurityProfile") == "2"
    await h.settle()
    assert event_types(h).count("FailedToAuthenticationAtCentralSystem") == 2
    await h.close()


def test_failures_that_are_security_events() -> None:
    assert failure_event(ssl.SSLCertVerificationError("bad")) == "InvalidCentralSystemCertificate"
    old = ssl.SSLError(1, "unsupported")
    old.reason = "UNSUPPORTED_PROTOCOL"
    assert failure_event(old) == "InvalidTLSVersion"
    weak = ssl.SSLError(1, "no cipher")
    weak.reason = "NO_SHARED_CIPHER"
    assert failure_event(weak) == "InvalidTLSCipherSuite"
    try:
        try:
            raise ssl.SSLCertVerificationError("bad")
        except ssl.SSLError as exc:
            raise ConnectionError("wrapped") from exc
    except ConnectionError as wrapped:
        assert failure_event(wrapped) == "InvalidCentralSystemCertificate"
    assert failure_event(HandshakeRejected(401, "Unauthorized")) == (
        "FailedToAuthenticationAtCentralSystem"
    )
    assert failure_event(HandshakeRejected(404, "Not Found")) is None
    assert failure_event(OSError("refused")) is None


# ---------------------------------------------------------------------------- events and the log


async def test_events_are_queued_logged_and_rolled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "LOG_SIZE", 3)
    h = Harness(2)
    h.csms.answer_boot("Accepted", 3600)
    service = h.service(SecurityEvents)
    service.raise_event("TamperDetectionActivated", "x" * 300)  # offline: queued
    assert h.station.sender.queued == 2  # with the StartupOfTheDevice of the power-up
    await h.boot()
    assert event_types(h) == ["StartupOfTheDevice", "TamperDetectionActivated"]
    assert len(sent(h, "SecurityEventNotification")[1]["techInfo"]) == 255
    for kind in ("MemoryExhaustion", "InvalidMessages", "AttemptedReplayAttacks"):
        service.raise_event(kind, None)
    assert [line.split(" ")[0] for _, line in service.lines()] == [
        "MemoryExhaustion",
        "InvalidMessages",
        "AttemptedReplayAttacks",
    ]
    with pytest.raises(ValueError, match="not a security event"):
        service.raise_event("SomethingElse", None)
    await h.request("Reset", {"type": "Soft"})
    await h.run_for(5)
    assert "ResetOrReboot" in event_types(h)
    await h.close()


async def test_get_log_uploads_the_security_log_with_its_request_id(tmp_path: Path) -> None:
    files = Files()
    h = await booted_now(tmp_path, files)
    h.service(SecurityEvents).raise_event("AttemptedReplayAttacks", None)
    await h.run_for(600, step=60)
    h.service(SecurityEvents).raise_event("InvalidMessages", "a frame that is no JSON")
    now = h.clock.now()
    request = {
        "logType": "SecurityLog",
        "requestId": 7,
        "log": {
            "remoteLocation": "ftp://files.example/logs/",
            "oldestTimestamp": timefmt.iso(now - timedelta(minutes=1)),
            "latestTimestamp": timefmt.iso(now + timedelta(minutes=1)),
        },
        "retries": 1,
        "retryInterval": 5,
    }
    answer = await h.request("GetLog", request)
    assert answer["status"] == "Accepted" and answer["filename"].startswith("security-log-")
    await eventually(h, lambda: len(sent(h, "LogStatusNotification")) == 2, step=0.5)
    assert sent(h, "LogStatusNotification") == [
        {"status": "Uploading", "requestId": 7},
        {"status": "Uploaded", "requestId": 7},
    ]
    [(url, data)] = files.uploads.items()
    assert url == f"ftp://files.example/logs/{answer['filename']}"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read("security.log").decode()
    assert "InvalidMessages a frame that is no JSON" in text
    assert "AttemptedReplayAttacks" not in text  # before oldestTimestamp
    await h.close()


async def test_get_log_retries_cancels_and_refuses(tmp_path: Path) -> None:
    files = Files()
    files.fail = 10
    h = await booted_now(tmp_path, files)
    base: dict[str, Any] = {
        "logType": "DiagnosticsLog",
        "requestId": 1,
        "retries": 1,
        "retryInterval": 5,
    }
    refused = await h.request("GetLog", {**base, "log": {"remoteLocation": "sftp://x/"}})
    assert refused == {"status": "Rejected"}
    location = {"log": {"remoteLocation": "https://files.example/up/"}}
    assert (await h.request("GetLog", {**base, **location}))["status"] == "Accepted"
    second = await h.request("GetLog", {**base, **location, "requestId": 2})
    assert second["status"] == "AcceptedCanceled"
    await eventually(
        h, lambda: sent(h, "LogStatusNotification")[-1]["status"] == "UploadFailure", step=1.0
    )
    assert sent(h, "LogStatusNotification") == [
        {"status": "Uploading", "requestId": 1},
        {"status": "Uploading", "requestId": 2},
        {"status": "UploadFailure", "requestId": 2},
    ]
    # The second GetLog's two tries, retryInterval apart (the first may have been cancelled
    # before its archive was written, or after its first try).
    times = [t for _, t in files.tries]
    assert len(times) in (2, 3) and times[-1] - times[-2] == pytest.approx(5)
    await h.close()


# ---------------------------------------------------------------------------- signed firmware (L01)

IMAGE = b"version: 2.0.0\n" + b"\x00" * 1000


def signer(maker: CertificateAuthority) -> tuple[str, ec.EllipticCurvePrivateKey]:
    cert_pem, key_pem = maker.issue_station("firmware signing", "Maker")
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert_pem, key


def signed_request(
    h: Harness, cert_pem: str, signature: str, request_id: int = 5, **firmware: Any
) -> dict[str, Any]:
    return {
        "requestId": request_id,
        "firmware": {
            "location": "https://files.example/fw.bin",
            "retrieveDateTime": timefmt.iso(h.clock.now()),
            "signingCertificate": cert_pem,
            "signature": signature,
            **firmware,
        },
    }


def signed_statuses(h: Harness) -> list[tuple[str, int | None]]:
    return [(p["status"], p.get("requestId")) for p in sent(h, "SignedFirmwareStatusNotification")]


async def test_a_signed_update_checks_the_signer_then_the_signature(
    tmp_path: Path, maker: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path, Files(IMAGE))
    cert_pem, key = signer(maker)
    signature = base64.b64encode(key.sign(IMAGE, ec.ECDSA(hashes.SHA256()))).decode()
    # L01.FR.24: no ManufacturerRootCertificate to check the signer against.
    answer = await h.request("SignedUpdateFirmware", signed_request(h, cert_pem, signature))
    assert answer == {"status": "InvalidCertificate"}
    await h.settle()
    assert event_types(h) == ["InvalidFirmwareSigningCertificate"]
    assert await install(h, MAKER, maker.root_pem) == "Accepted"
    # L01.FR.20: from now on only signed firmware.
    with pytest.raises(NotSupported):
        await h.request(
            "UpdateFirmware",
            {"location": "https://x/fw", "retrieveDate": timefmt.iso(h.clock.now())},
        )
    answer = await h.request("SignedUpdateFirmware", signed_request(h, cert_pem, signature))
    assert answer == {"status": "Accepted"}
    await eventually(h, lambda: ("Installed", 5) in signed_statuses(h), step=0.5)
    assert signed_statuses(h) == [
        (status, 5)
        for status in (
            "Downloading",
            "Downloaded",
            "SignatureVerified",
            "Installing",
            "InstallRebooting",
            "Installed",
        )
    ]
    assert h.reboots == ["Hard"] and h.csms.of("BootNotification")[-1]["firmwareVersion"] == "2.0.0"
    assert sent(h, "FirmwareStatusNotification") == []
    assert "FirmwareUpdated" in event_types(h)
    h.csms.clear()
    await h.request("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    await h.settle()
    assert signed_statuses(h) == [("Idle", None)]  # L01.FR.28: Idle after Installed
    await h.close()


async def test_a_bad_signature_installs_nothing(
    tmp_path: Path, maker: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path, Files(IMAGE))
    assert await install(h, MAKER, maker.root_pem) == "Accepted"
    cert_pem, key = signer(maker)
    wrong = base64.b64encode(key.sign(b"another image", ec.ECDSA(hashes.SHA256()))).decode()
    assert await h.request("SignedUpdateFirmware", signed_request(h, cert_pem, wrong)) == {
        "status": "Accepted"
    }
    await eventually(h, lambda: ("InvalidSignature", 5) in signed_statuses(h), step=0.5)
    await h.run_for(5)
    assert signed_statuses(h) == [("Downloading", 5), ("Downloaded", 5), ("InvalidSignature", 5)]
    assert sent(h, "FirmwareStatusNotification") == []  # nothing else follows
    techinfo = {p["type"]: p.get("techInfo") for p in sent(h, "SecurityEventNotification")}
    assert techinfo["InvalidFirmwareSignature"] == "https://files.example/fw.bin"
    assert h.reboots == []
    assert h.service(FirmwareUpdate).update is None
    h.csms.clear()
    await h.request("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    await h.settle()
    assert signed_statuses(h) == [("InvalidSignature", 5)]  # L01.FR.29: the last one sent
    await h.close()


async def test_a_new_signed_update_cancels_the_one_waiting(
    tmp_path: Path, maker: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path, Files(IMAGE))
    assert await install(h, MAKER, maker.root_pem) == "Accepted"
    cert_pem, key = signer(maker)
    signature = base64.b64encode(key.sign(IMAGE, ec.ECDSA(hashes.SHA256()))).decode()
    later = timefmt.iso(h.clock.now() + timedelta(hours=1))
    first = signed_request(h, cert_pem, signature, 1, retrieveDateTime=later)
    assert await h.request("SignedUpdateFirmware", first) == {"status": "Accepted"}
    install_at = timefmt.iso(h.clock.now() + timedelta(minutes=10))
    second = signed_request(h, cert_pem, signature, 2, installDateTime=install_at)
    assert await h.request("SignedUpdateFirmware", second) == {"status": "AcceptedCanceled"}
    await eventually(h, lambda: ("InstallScheduled", 2) in signed_statuses(h), step=0.5)
    assert h.reboots == []
    await h.run_for(600, step=10)
    await eventually(h, lambda: ("Installed", 2) in signed_statuses(h), step=0.5)
    assert [s for s, _ in signed_statuses(h)] == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "InstallScheduled",
        "Installing",
        "InstallRebooting",
        "Installed",
    ]
    assert {r for _, r in signed_statuses(h)} == {2}
    await h.close()


# ---------------------------------------------------------------------------- sharper edges


def test_failure_events_follow_the_reason_and_the_chain() -> None:
    for reason, kind in (
        ("TLSV1_ALERT_PROTOCOL_VERSION", "InvalidTLSVersion"),
        ("WRONG_VERSION_NUMBER", "InvalidTLSVersion"),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", "InvalidTLSCipherSuite"),
        ("NO_CIPHERS_AVAILABLE", "InvalidTLSCipherSuite"),
        (None, None),
        ("CERTIFICATE_UNKNOWN", None),
    ):
        error = ssl.SSLError(1, "tls")
        error.reason = reason  # type: ignore[assignment]  # None: an error without one
        assert failure_event(error) == kind, reason
    try:  # an implicit chain: the handshake's error while handling another
        try:
            raise HandshakeRejected(401, "Unauthorized")
        except HandshakeRejected:
            raise OSError("gone")  # noqa: B904 - the implicit chain is what is tested
    except OSError as outer:
        assert failure_event(outer) == "FailedToAuthenticationAtCentralSystem"
    looped = OSError("a")
    looped.__context__ = OSError("b")
    looped.__context__.__context__ = looped  # a cycle ends the walk
    assert failure_event(looped) is None


async def test_profile_rules_name_what_is_missing(
    tmp_path: Path, authority: CertificateAuthority, maker: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    link = link_of(h)
    with pytest.raises(ValueError, match=r"only goes up \(0 now\)"):
        link._check_profile("0", "0")
    with pytest.raises(ValueError, match="profile 2 needs an AuthorizationKey"):
        link._check_profile("2", "0")
    h.config.set_initial("AuthorizationKey", "ab" * 16)
    assert await install(h, MAKER, maker.root_pem) == "Accepted"  # not a central system root
    with pytest.raises(ValueError, match="profile 2 needs a CentralSystemRootCertificate"):
        link._check_profile("2", "0")
    install_local(h.store, h.clock.now(), ca_pem=authority.root_pem)
    with pytest.raises(ValueError, match="profile 3 needs a valid station certificate"):
        link._check_profile("3", "0")
    await h.close()
    # Profile 3 needs no password: a station without one goes there.
    h = await booted_now(tmp_path / "second")
    with_certificate(h, authority)
    assert await change(h, "SecurityProfile", "3") == "Accepted"
    assert h.station.snapshot(True)["securityProfile"] == 3
    await h.close()


async def test_an_expired_station_certificate_is_no_prerequisite(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    with_certificate(h, authority)
    h.clock.set_time(h.clock.now() + timedelta(days=400))
    h.config.set_initial("AuthorizationKey", "ab" * 16)
    with pytest.raises(ValueError, match="valid station certificate"):
        link_of(h)._check_profile("3", "0")
    await h.close()


async def test_upgrades_before_a_connection_fall_back_to_the_last_that_connected(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    """1 -> 2, then 2 -> 3 before any connection: the fallback is to 1, and the trial (kept in
    the store) outlives a restart, which counts its failures afresh."""
    h = await booted_now(tmp_path)
    with_certificate(h, authority)
    h.config.set_initial("AuthorizationKey", "ab" * 16)
    h.config.set_initial("SecurityProfile", "1")
    assert await change(h, "SecurityProfile", "2") == "Accepted"
    assert await change(h, "SecurityProfile", "3") == "Accepted"
    assert h.store.records("security") == {"profile_trial": {"from": 1, "to": 3}}
    link = link_of(h)
    assert link.failed(OSError("refused")) is False
    h2 = Harness(2, store=h.store, clock=h.clock)  # the power came back: a new station
    link2 = h2.service(SecurityLink)
    for _ in range(FALLBACK_AFTER - 1):
        assert link2.failed(OSError("refused")) is False
    assert link2.failed(OSError("refused")) is True
    assert h2.config.get("SecurityProfile") == "1"
    await h2.close()
    await h.close()


async def test_tls_contexts_trust_exactly_the_installed_roots(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    link = link_of(h)
    system = link.target("WSS://csms.example/CP-1")  # no root: the system's trust store
    assert system.url == "wss://csms.example/CP-1"
    assert system.ssl is not None and system.ssl.verify_mode is ssl.CERT_REQUIRED
    other = CertificateAuthority.generate("other")
    install_local(h.store, h.clock.now(), ca_pem=authority.root_pem + other.root_pem)
    target = link.target("wss://csms.example/CP-1")
    assert target.ssl is not None and len(target.ssl.get_ca_certs()) == 2
    await h.close()


async def test_profile_3_presents_the_station_certificate_in_a_real_handshake(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path)
    cert_pem, key_pem = authority.issue_station("OS-DC-000001", "Example CPO")
    install_local(
        h.store, h.clock.now(), ca_pem=authority.root_pem, cert_pem=cert_pem, key_pem=key_pem
    )
    h.config.set_initial("SecurityProfile", "3")
    target = link_of(h).target("ws://localhost:1/CP-1")
    assert target.ssl is not None
    seen: list[Any] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("ssl_object").getpeercert())
        writer.close()

    server = await asyncio.start_server(
        serve, "127.0.0.1", 0, ssl=authority.server_context(["localhost"])
    )
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=target.ssl, server_hostname="localhost"),
            5,
        )
        await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    [peer] = seen
    subject = {name: value for rdn in peer["subject"] for name, value in rdn}
    assert subject == {"commonName": "OS-DC-000001", "organizationName": "Example CPO"}
    await h.close()


async def test_an_opened_connection_drops_the_replaced_root(tmp_path: Path) -> None:
    h = await booted_now(tmp_path)
    h.config.set_fixed("AdditionalRootCertificateCheck", "true")
    old, new = CertificateAuthority.generate("old"), CertificateAuthority.generate("new")
    assert await install(h, ROOT, old.root_pem) == "Accepted"
    cross = cross_signed(new, old)
    maker_root = CertificateAuthority.generate("maker")
    assert await install(h, MAKER, maker_root.root_pem) == "Accepted"  # another type: no rule
    assert await install(h, ROOT, pki.pem(cross)) == "Accepted"
    server_pem, _ = new.issue_station("csms.example", "CSMS")
    der = pki.load_one(server_pem).public_bytes(serialization.Encoding.DER)
    link_of(h).opened(der)
    keeper = CertificateKeeper(h.store)
    assert [e.cert for e in keeper.roots(ROOT)] == [cross]
    assert [e.cert for e in keeper.roots(MAKER)] == [maker_root.root]
    await h.close()


async def test_refusals_say_why_in_the_event(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    """The techInfo of InvalidCentralSystemCertificate and InvalidChargePointCertificate names
    the reason: what a central system's operator reads."""
    h = await booted_now(tmp_path)
    h.config.set_fixed("CertificateStoreMaxLength", "1")
    leaf, _ = authority.issue_station("SN", "O")
    assert await install(h, ROOT, leaf) == "Rejected"
    assert await install(h, ROOT, authority.root_pem) == "Accepted"
    assert await install(h, ROOT, CertificateAuthority.generate("x").root_pem) == "Rejected"
    h.config.set_initial("CpoName", "Example CPO")
    h.config.set_fixed("CertificateSignedMaxChainSize", "5000")
    assert (await h.request("CertificateSigned", {"certificateChain": leaf}))[
        "status"
    ] == "Rejected"
    csr = await csr_of(h)
    serial = h.station.ctx.info.serial or ""
    other_cn = authority.sign_csr(
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "SN-9")]))
        .sign(pki.load_key(CertificateKeeper(h.store).pending_key() or ""), hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    for chain in ("y" * 5001, authority.issue_station(serial, "O")[0], other_cn):
        assert (await h.request("CertificateSigned", {"certificateChain": chain}))[
            "status"
        ] == "Rejected"
    assert (await h.request("CertificateSigned", {"certificateChain": authority.sign_csr(csr)}))[
        "status"
    ] == "Accepted"
    await h.settle()
    infos = [(p["type"], p.get("techInfo")) for p in sent(h, "SecurityEventNotification")]
    assert infos == [
        ("InvalidCentralSystemCertificate", "not a root: a self-signed CA certificate is needed"),
        ("InvalidCentralSystemCertificate", "the certificate store is full"),
        ("InvalidChargePointCertificate", "no certificate was asked for (no CSR pending)"),
        ("InvalidChargePointCertificate", "the chain is longer than 5000 characters"),
        ("InvalidChargePointCertificate", "the certificate is not for the key of our CSR"),
        (
            "InvalidChargePointCertificate",
            f"the certificate's CN is not the serial number {serial}",
        ),
    ]
    await h.close()


async def test_a_certificate_about_to_expire_is_renewed_once_accepted(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    """A03: a month before the station certificate expires, a new CSR goes at acceptance; not
    earlier, and not without CpoName."""
    h = await booted_now(tmp_path)
    cert_pem, key_pem = authority.issue_station("OS-DC-000001", "CPO")  # a year
    install_local(h.store, h.clock.now(), cert_pem=cert_pem, key_pem=key_pem)
    service = h.service(Certificates)
    service.on_accepted()
    h.clock.set_time(h.clock.now() + timedelta(days=340))
    service.on_accepted()  # 25 days left, but no CpoName
    await h.settle()
    assert sent(h, "SignCertificate") == []
    h.config.set_initial("CpoName", "Example CPO")
    h.clock.set_time(h.clock.now() - timedelta(days=6))  # 31 days left
    service.on_accepted()
    await h.settle()
    assert sent(h, "SignCertificate") == []
    h.clock.set_time(h.clock.now() + timedelta(days=2))  # 29 days left
    service.on_accepted()
    service.on_accepted()  # the first CSR is still being made: not a second
    await eventually(h, lambda: bool(sent(h, "SignCertificate")), step=0.1)
    await h.run_for(1)
    assert len(sent(h, "SignCertificate")) == 1
    service.on_accepted()  # that one is done: a new request makes a new CSR
    await eventually(h, lambda: len(sent(h, "SignCertificate")) == 2, step=0.1)
    await h.close()


async def test_a_signing_certificate_must_come_from_a_manufacturer_root(
    tmp_path: Path, authority: CertificateAuthority, maker: CertificateAuthority
) -> None:
    h = await booted_now(tmp_path, Files(IMAGE))
    assert await install(h, ROOT, authority.root_pem) == "Accepted"
    assert await install(h, MAKER, maker.root_pem) == "Accepted"
    wrong_pem, wrong_key = signer(authority)  # signed by the central system's root
    signature = base64.b64encode(wrong_key.sign(IMAGE, ec.ECDSA(hashes.SHA256()))).decode()
    answer = await h.request("SignedUpdateFirmware", signed_request(h, wrong_pem, signature))
    assert answer == {"status": "InvalidCertificate"}
    signed = h.service(SignedFirmware)
    good_pem, _ = signer(maker)
    update = Update.from_signed_request(signed_request(h, good_pem, signature))
    assert signed.verify(update, tmp_path / "absent.img") is False  # nothing to read
    image = tmp_path / "image.bin"
    image.write_bytes(IMAGE)
    update.signature = None
    assert signed.verify(update, image) is False
    await h.close()


async def test_log_names_windows_tries_and_triggers(tmp_path: Path) -> None:
    files = Files()
    files.fail = 1
    h = await booted_now(tmp_path, files)
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert log_file_name("CP 1/ä-x_y", "DiagnosticsLog", when) == (
        "diagnostics-log-CP_1__-x_y-20260304T050607Z.zip"
    )
    assert (
        log_file_name("x" * 80, "SecurityLog", when)
        == f"security-log-{'x' * 64}-20260304T050607Z.zip"
    )
    events_service = h.service(SecurityEvents)
    await h.run_for(30)  # the StartupOfTheDevice of the boot lies before the window
    events_service.raise_event("InvalidMessages", "first")
    start = h.clock.now()
    await h.run_for(60, step=30)
    events_service.raise_event("InvalidMessages", "second")
    stop = h.clock.now()
    await h.run_for(60, step=30)
    events_service.raise_event("InvalidMessages", "third")
    request = {
        "logType": "SecurityLog",
        "requestId": 3,
        "log": {
            "remoteLocation": "http://files.example/",
            "oldestTimestamp": timefmt.iso(start),
            "latestTimestamp": timefmt.iso(stop),
        },
    }
    await h.request("GetLog", request)
    await eventually(h, lambda: len(sent(h, "LogStatusNotification")) >= 2, step=0.5)
    # retries absent: one try, which failed
    assert sent(h, "LogStatusNotification")[-1] == {"status": "UploadFailure", "requestId": 3}
    assert len(files.tries) == 1
    await h.request("GetLog", {**request, "requestId": 4})
    await eventually(h, lambda: bool(files.uploads), step=0.5)
    [data] = files.uploads.values()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read("security.log").decode()
    assert [line.split(" ", 2)[2] for line in text.splitlines()] == ["first", "second"]
    h.csms.clear()
    await h.request("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"})
    await h.settle()
    assert sent(h, "LogStatusNotification") == [{"status": "Idle"}]
    await h.close()


async def test_a_diagnostics_log_is_the_diagnostics_archive(tmp_path: Path) -> None:
    files = Files()
    h = await booted_now(tmp_path, files)
    now = h.clock.now()
    window = {"oldestTimestamp": timefmt.iso(now - timedelta(hours=1))}
    request = {
        "logType": "DiagnosticsLog",
        "requestId": 9,
        "log": {"remoteLocation": "ftp://f/", **window},
    }
    answer = await h.request("GetLog", request)
    await eventually(h, lambda: bool(files.uploads), step=0.5)
    [(url, data)] = files.uploads.items()
    assert url == f"ftp://f/{answer['filename']}"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["ocpp.log", "station.log"]
        assert archive.read("station.log").decode().endswith("station now\n")  # not "old"
    assert not (tmp_path / answer["filename"]).exists()  # the archive is gone once sent
    await h.close()


def test_the_basic_link_is_the_url_and_the_key() -> None:
    store = MemoryStore()
    from ocpp_station import profiles
    from ocpp_station.station.link import BasicLink, Target, authorization_key

    config = profiles.configuration(
        connectors=1, measurands=frozenset({"Energy.Active.Import.Register"}), store=store
    )
    link = BasicLink(config)
    assert link.target(URL) == Target(URL, None, None)
    config.set_initial("AuthorizationKey", "ab" * 16)
    assert link.target(URL) == Target(URL, None, bytes([0xAB]) * 16)
    assert link.failed(OSError("x")) is False
    link.opened(None)  # nothing to learn: no error
    from ocpp_station.station.config import Configuration
    from ocpp_station.station.config_keys import KEYS

    bare = Configuration(
        profiles=("Core",),
        connectors=1,
        measurands=frozenset({"Energy.Active.Import.Register"}),
        table={k: v for k, v in KEYS.items() if k != "AuthorizationKey"},
    )
    assert authorization_key(bare) == ""
    assert password_of("ab" * 16) == bytes([0xAB]) * 16  # 16 bytes: the least a key may be


class SlowFiles(Files):
    """Uploads wait until released: an upload is under way for as long as the test wants."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def upload(self, source: Path, url: str) -> None:
        await self.release.wait()
        await super().upload(source, url)


async def test_a_trigger_during_an_upload_names_it(tmp_path: Path) -> None:
    files = SlowFiles()
    h = await booted_now(tmp_path, files)
    request = {"logType": "SecurityLog", "requestId": 12, "log": {"remoteLocation": "http://f/"}}
    await h.request("GetLog", request)
    await eventually(h, lambda: bool(sent(h, "LogStatusNotification")), step=0.5)
    await asyncio.sleep(0.05)  # the archive is written: the upload waits
    h.csms.clear()
    await h.request("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"})
    await h.settle()
    assert sent(h, "LogStatusNotification") == [{"status": "Uploading", "requestId": 12}]
    files.release.set()
    await eventually(h, lambda: len(sent(h, "LogStatusNotification")) == 2, step=0.5)
    assert sent(h, "LogStatusNotification")[-1] == {"status": "Uploaded", "requestId": 12}
    await h.close()


def test_chains_of_three_and_the_reasons_they_fail(authority: CertificateAuthority) -> None:
    """Leaf <- intermediate <- root: each link and each date checked, the reason numbered."""
    now = datetime.now(UTC)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter_name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "sub CA")])
    intermediate = (
        x509.CertificateBuilder()
        .subject_name(inter_name)
        .issuer_name(authority.root.subject)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(authority.key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "SN-3")]))
        .issuer_name(inter_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(inter_key, hashes.SHA256())
    )
    pki.check_chain([leaf, intermediate], [authority.root], now)
    pki.check_chain([leaf, intermediate, authority.root], [authority.root], now)
    with pytest.raises(
        pki.CertificateError, match=r"^certificate 2 is not signed by the next one$"
    ):
        pki.check_chain([leaf, intermediate, leaf], [authority.root], now)
    with pytest.raises(
        pki.CertificateError, match=r"^certificate 1 is not signed by the next one$"
    ):
        pki.check_chain([leaf, authority.root], [authority.root], now)
    with pytest.raises(pki.CertificateError, match=r"^certificate 2 of the chain is not valid now"):
        pki.check_chain([leaf, intermediate], [authority.root], now + timedelta(days=2))
    with pytest.raises(pki.CertificateError, match=r"^certificate 1 of the chain is not valid now"):
        pki.check_chain([leaf, intermediate], [authority.root], now + timedelta(days=40))
    assert not pki.is_root(intermediate)  # a CA, but not self-signed
    assert pki.issuer_of(leaf, [authority.root, intermediate]) is intermediate
    assert pki.issuer_of(intermediate, [leaf]) is intermediate  # no issuer among them: itself
    # Validity is inclusive at both ends.
    assert pki.valid_at(leaf, leaf.not_valid_before_utc)
    assert pki.valid_at(leaf, leaf.not_valid_after_utc)
    assert not pki.valid_at(leaf, leaf.not_valid_after_utc + timedelta(seconds=1))


def test_keys_and_names_the_station_cannot_use() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed_key = ed25519.Ed25519PrivateKey.generate()
    pem_text = ed_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(pki.CertificateError, match=r"^the private key must be EC or RSA$"):
        pki.load_key(pem_text)
    with pytest.raises(pki.CertificateError, match=r"^not a usable PEM private key"):
        pki.load_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "ed signer")])
    ed_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ed_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(ed_key, None)
    )
    signature = base64.b64encode(ed_key.sign(b"image")).decode()
    assert not pki.signature_valid(ed_cert, b"image", signature)  # not a scheme of L01.FR.04
    assert pki.organization(ed_cert) == "" and pki.common_name(ed_cert) == "ed signer"
    assert not pki.is_ca(ed_cert) and not pki.is_root(ed_cert)  # self-signed, but no CA
    with pytest.raises(pki.CertificateError, match=r"^not PEM certificates: "):
        pki.load_chain("no PEM here")


def test_the_keeper_keeps_the_previous_certificate_and_skips_broken_records(
    authority: CertificateAuthority,
) -> None:
    store = MemoryStore()
    keeper = CertificateKeeper(store)
    now = datetime.now(UTC)
    first_pem, first_key = authority.issue_station("SN-1", "CPO")
    second_pem, second_key = authority.issue_station("SN-1", "CPO")
    keeper.set_station_certificate(pki.load_chain(first_pem), first_key)
    keeper.set_station_certificate(pki.load_chain(second_pem), second_key)
    assert [pki.pem(c[0]) for c in keeper.station_chains()] == [second_pem, first_pem]
    mine = keeper.station_certificate(now)
    assert mine is not None and mine.chain_pem() == second_pem and mine.key_pem == second_key
    assert keeper.is_station_certificate(pki.load_one(first_pem))
    assert not keeper.is_station_certificate(authority.root)
    store.record_put("certificate", "0-broken", {"type": ROOT, "pem": "garbage"})
    keeper.add(ROOT, authority.root)
    assert [e.cert for e in keeper.roots(ROOT)] == [authority.root]
    assert keeper.has(ROOT, authority.root) and not keeper.has(MAKER, authority.root)
    assert keeper.count() == 2  # the broken record still takes its place


def test_shown_frames_hide_only_the_authorization_key() -> None:
    from ocpp_station.rpc.secrets import HIDDEN, shown_frame, shown_payload

    secret = [2, "7", "ChangeConfiguration", {"key": "authorizationKEY", "value": "ab" * 16}]
    assert shown_frame(secret) == [
        2,
        "7",
        "ChangeConfiguration",
        {"key": "authorizationKEY", "value": HIDDEN},
    ]
    assert secret[3]["value"] == "ab" * 16  # the frame itself is left alone
    for frame in (
        [2, "8", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}],
        [2, "9", "DataTransfer", {"vendorId": "x", "key": "AuthorizationKey", "value": "v"}],
        [3, "7", {"key": "AuthorizationKey", "value": "v"}],
        [2, "10", "ChangeConfiguration", {"key": "AuthorizationKey"}],
    ):
        assert shown_frame(frame) is frame
    assert shown_payload("ChangeConfiguration", ["not", "a", "dict"]) == ["not", "a", "dict"]


def test_a_root_past_its_end_ends_every_chain(authority: CertificateAuthority) -> None:
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    long_leaf = (  # twenty years: it outlives the ten-year root
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "SN-20")]))
        .issuer_name(authority.root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=7300))
        .sign(authority.key, hashes.SHA256())
    )
    later = now + timedelta(days=4000)
    with pytest.raises(
        pki.CertificateError, match=r"^the root the chain ends at is not valid now$"
    ):
        pki.check_chain([long_leaf], [authority.root], later)
    cert_pem, _ = authority.issue_station("SN-1", "Example CPO")
    assert pki.organization(pki.load_one(cert_pem)) == "Example CPO"


async def test_without_a_central_system_root_a_chain_need_only_hold_together(
    tmp_path: Path, authority: CertificateAuthority, maker: CertificateAuthority
) -> None:
    """No CentralSystemRootCertificate (a manufacturer's does not count): the chain is checked
    link by link; exactly CertificateSignedMaxChainSize characters still go."""
    h = await booted_now(tmp_path)
    assert await install(h, MAKER, maker.root_pem) == "Accepted"
    h.config.set_initial("CpoName", "Example CPO")
    csr = await csr_of(h)
    leaf = authority.sign_csr(csr)
    broken = leaf + CertificateAuthority.generate("unrelated").root_pem
    assert (await h.request("CertificateSigned", {"certificateChain": broken}))[
        "status"
    ] == "Rejected"
    good = leaf + authority.root_pem
    h.config.set_fixed("CertificateSignedMaxChainSize", str(len(good)))
    assert (await h.request("CertificateSigned", {"certificateChain": good}))[
        "status"
    ] == "Accepted"
    await h.settle()
    infos = [p.get("techInfo") for p in sent(h, "SecurityEventNotification")]
    assert infos == ["certificate 1 is not signed by the next"]
    mine = CertificateKeeper(h.store).station_certificate()
    assert mine is not None and mine.chain_pem() == good
    await h.close()


async def test_roots_of_the_other_type_change_nothing(
    tmp_path: Path, authority: CertificateAuthority, maker: CertificateAuthority
) -> None:
    """With AdditionalRootCertificateCheck, a manufacturer root is no central system root to be
    signed by; installing a root again in a full store is Accepted; profile 0 deletes the last
    root; a server certificate from the manufacturer's root leaves the fallback in place."""
    h = await booted_now(tmp_path)
    h.config.set_fixed("AdditionalRootCertificateCheck", "true")
    h.config.set_fixed("CertificateStoreMaxLength", "2")
    assert await install(h, MAKER, maker.root_pem) == "Accepted"
    assert await install(h, ROOT, authority.root_pem) == "Accepted"
    assert await install(h, ROOT, authority.root_pem) == "Accepted"  # full, but installed
    keeper = CertificateKeeper(h.store)
    keeper.add(ROOT, CertificateAuthority.generate("old").root, fallback=True)
    server_pem, _ = maker.issue_station("csms.example", "CSMS")
    h.service(Certificates).connected_with(pki.load_one(server_pem))
    assert len(keeper.roots(ROOT)) == 2  # the maker's root signed it: no proof for the new one
    data = pki.hash_data(authority.root, authority.root)
    assert await h.request("DeleteCertificate", {"certificateHashData": data}) == {
        "status": "Accepted"
    }  # profile 0: no TLS link relies on it
    entries = h.service(SecurityEvents).entries()
    assert [e["type"] for e in entries] == ["StartupOfTheDevice"]
    assert set(entries[0]) == {"type", "timestamp"}
    await h.close()


async def test_a_signed_update_tries_again_retry_interval_apart(
    tmp_path: Path, maker: CertificateAuthority
) -> None:
    files = Files(IMAGE)
    files.fail = 1
    h = await booted_now(tmp_path, files)
    files.clock = h.clock
    assert await install(h, MAKER, maker.root_pem) == "Accepted"
    cert_pem, key = signer(maker)
    signature = base64.b64encode(key.sign(IMAGE, ec.ECDSA(hashes.SHA256()))).decode()
    request = {**signed_request(h, cert_pem, signature), "retries": 1, "retryInterval": 7}
    assert await h.request("SignedUpdateFirmware", request) == {"status": "Accepted"}
    await eventually(h, lambda: ("SignatureVerified", 5) in signed_statuses(h), step=1.0)
    assert [url for url, _ in files.tries] == ["https://files.example/fw.bin"] * 2
    assert files.tries[1][1] - files.tries[0][1] == pytest.approx(7)
    assert [s for s, _ in signed_statuses(h)][:3] == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
    ]
    await h.close()
