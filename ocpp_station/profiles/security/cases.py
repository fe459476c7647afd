"""25 Security: TC_073_CS to TC_087_CS (security whitepaper edition 3; digest §6, §7).

The tool keeps, for one run, what a central system of a secured network has: its certificate
authority (the root it asks the station to install, its TLS server certificate, the station
certificates it signs), a manufacturer's authority and firmware-signing certificate, and the
station's password once it set one. A security profile only goes up, so each case brings the
station to the profile it needs from where it stands (0 to 1: a password, 1 to 2: the root and
TLS, 2 to 3: a certificate from the station's CSR) and never back. In OCTT order the station
reaches profile 3 in TC_083, after which TC_085 (Basic authentication) no longer applies.

Every case judges values, not only that an answer came: the CertificateHashData the station
lists against the hashes the tool computes itself, the CSR's subject and signature, each
SignedFirmwareStatusNotification and LogStatusNotification in order with its requestId, and, for
each connection, how the station really connected (TLS, its version, the Basic user, the
client certificate's subject).
"""

from __future__ import annotations

import base64
import io
import secrets
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ocpp_station import timefmt
from ocpp_station.conformance.case import CaseFailed, case
from ocpp_station.conformance.steps import Run
from ocpp_station.csms.authority import CertificateAuthority
from ocpp_station.csms.files import firmware_image
from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.session import StationSession
from ocpp_station.profiles.firmware.cases import file_server, new_version
from ocpp_station.profiles.security import pki
from ocpp_station.rpc.actions import SECURITY

MODULE = "25 Security"
CPO = "ocpp-station conformance"
ROOT = "CentralSystemRootCertificate"
MANUFACTURER = "ManufacturerRootCertificate"


@dataclass
class Tool:
    """What the tool holds for one run: its authorities."""

    authority: CertificateAuthority = field(default_factory=CertificateAuthority.generate)
    manufacturer: CertificateAuthority = field(
        default_factory=lambda: CertificateAuthority.generate("ocpp-station manufacturer root")
    )
    signer: tuple[str, ec.EllipticCurvePrivateKey] | None = None

    def signing_certificate(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        """The manufacturer's firmware-signing certificate and its key."""
        if self.signer is None:
            cert_pem, key_pem = self.manufacturer.issue_station("firmware signing", "Manufacturer")
            key = pki.load_key(key_pem)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            self.signer = (cert_pem, key)
        return self.signer


@dataclass
class Known:
    """What the tool knows of one station: the password it set, the CN of the certificate it
    signed for it."""

    password: str | None = None
    station_cn: str | None = None


_TOOLS: WeakKeyDictionary[CentralSystem, Tool] = WeakKeyDictionary()
# Our own station is a new one in each case: what the tool knows of it lives with the case's
# Run; a station that outlives the cases is known for the whole run.
_KNOWN: WeakKeyDictionary[object, Known] = WeakKeyDictionary()


def tool(run: Run) -> Tool:
    found = _TOOLS.get(run.csms)
    if found is None:
        found = _TOOLS[run.csms] = Tool()
    return found


def known(run: Run) -> Known:
    holder: object = run.csms if run.target.outlives_cases else run
    found = _KNOWN.get(holder)
    if found is None:
        found = _KNOWN[holder] = Known()
        identity = run.identity

        async def forget() -> None:
            # The next case's station is a new one: no password, plain ws://.
            run.csms.passwords.pop(identity, None)
            if run.csms.ssl_context is not None:
                await run.csms.relisten(None)

        run.when_station_gone(forget)
    return found


def expected_hash(pem_text: str, algorithm: str = "SHA256") -> dict[str, str]:
    """The CertificateHashData of a root, computed by the tool."""
    cert = pki.load_one(pem_text)
    return pki.hash_data(cert, cert, algorithm)


def hosts(run: Run) -> list[str]:
    """The names the tool's TLS certificate carries: where the station reaches it."""
    names = [urlsplit(run.csms.url).hostname or "127.0.0.1", "localhost"]
    if run.settings.file_host:
        names.append(run.settings.file_host)
    return list(dict.fromkeys(names))


# -- the station's link, as the tool sees it ---------------------------------------------------


async def security_profile(run: Run) -> int:
    keys = await run.get_configuration(["SecurityProfile"])
    entry = keys.get("SecurityProfile")
    if entry is None or entry.value is None:
        run.not_applicable("the station has no SecurityProfile key")
    try:
        return int(entry.value)
    except ValueError:
        raise CaseFailed(f"SecurityProfile is {entry.value!r}, not 0-3") from None


async def session_now(run: Run) -> StationSession:
    session = run.link.session
    if session is None:
        session = await run.link.wait_connection(0, run.settings.boot_timeout)
    return session


async def reconnection(run: Run, before: int, why: str) -> StationSession:
    async with run.step(f"wait for the station to reconnect ({why})"):
        try:
            return await run.link.wait_connection(before, run.settings.boot_timeout)
        except TimeoutError:
            raise CaseFailed(
                f"the station did not reconnect ({why})", expected="a new connection", got="none"
            ) from None


async def change_profile(run: Run, to: int) -> StationSession:
    """SecurityProfile = `to` (prerequisites in place), then the reconnection under it: TLS
    from the tool from profile 2 on (A05.FR.05-07)."""
    before = run.link.connections
    await run.call(
        "ChangeConfiguration", {"key": "SecurityProfile", "value": str(to)}, status="Accepted"
    )
    if to >= 2 and run.csms.ssl_context is None:
        async with run.step("central system: listen with TLS on the same port"):
            await run.csms.relisten(tool(run).authority.server_context(hosts(run)))
    session = await reconnection(run, before, f"security profile {to}")
    await check_link(run, session, to)
    return session


async def check_link(run: Run, session: StationSession, profile: int) -> None:
    """How the station connected matches `profile` (whitepaper §2.3-2.5)."""
    facts = session.security
    if profile >= 2:
        await run.check_equal("the connection uses TLS", facts["tls"], True)
        await run.check(
            "TLS 1.2 or newer (A00.FR.312)",
            facts["tlsVersion"] in ("TLSv1.2", "TLSv1.3"),
            facts["tlsVersion"],
        )
    if profile in (1, 2):
        await run.check_equal(
            "the Basic auth user is the identity", facts["basicUser"], run.identity
        )
    if profile == 3:
        await run.check_equal("no Basic auth header (A00.FR.401)", facts["basicUser"], None)
        await run.check_equal(
            "the client certificate's CN is the one the tool signed",
            facts["clientCN"],
            known(run).station_cn,
        )
        await run.check_equal("the client certificate's O is CpoName", facts["clientO"], CPO)


async def set_password(run: Run, *, require: bool) -> StationSession:
    """AuthorizationKey = a new password in hex (whitepaper A00.FR.205), which the tool then
    expects from the station's next connection. `require`: the station must reconnect with it
    (profiles 1 and 2, TC_073); otherwise it may."""
    password = f"tool-{secrets.token_hex(6)}"  # 17 bytes: 16 to 20 (A00.FR.205)
    before = run.link.connections
    previous = run.csms.passwords.get(run.identity)
    if require:
        run.csms.passwords[run.identity] = password
    try:
        await run.call(
            "ChangeConfiguration",
            {"key": "AuthorizationKey", "value": password.encode().hex()},
            status="Accepted",
        )
    except CaseFailed:
        if previous is None:
            run.csms.passwords.pop(run.identity, None)
        else:
            run.csms.passwords[run.identity] = previous
        raise
    known(run).password = password
    if require:
        return await reconnection(run, before, "the new password")
    try:  # a station at profile 0 may reconnect to use the key; it need not
        return await run.link.wait_connection(before, 2.0)
    except TimeoutError:
        return await session_now(run)


async def install_root(run: Run, kind: str, pem_text: str) -> None:
    listed = await run.call("GetInstalledCertificateIds", {"certificateType": kind})
    wanted = expected_hash(pem_text)
    if any(pki.same_hash(h, wanted) for h in listed.get("certificateHashData") or []):
        return
    await run.call(
        "InstallCertificate", {"certificateType": kind, "certificate": pem_text}, status="Accepted"
    )


async def station_certificate(run: Run) -> None:
    """The station gets a certificate the tool signed from its own CSR (A02), as TC_074."""
    await run.configure("CpoName", CPO)
    csrs: list[str] = []

    def take(payload: dict[str, Any]) -> dict[str, Any]:
        csrs.append(str(payload.get("csr", "")))
        return {"status": "Accepted"}

    await run.answer("SignCertificate", take, "Accepted, the CSR kept")
    await run.call(
        "ExtendedTriggerMessage",
        {"requestedMessage": "SignChargePointCertificate"},
        status="Accepted",
    )
    await run.expect("SignCertificate", timeout=run.settings.boot_timeout)
    async with run.step("check: the CSR is PEM PKCS#10 with O = CpoName, signed by its key"):
        try:
            csr = x509.load_pem_x509_csr(csrs[-1].encode())
        except (ValueError, IndexError) as exc:
            raise CaseFailed(f"the CSR does not parse: {exc}") from None
        if not csr.is_signature_valid:
            raise CaseFailed("the CSR's signature is wrong")
        if pki.organization(csr) != CPO:
            raise CaseFailed(
                f"the CSR's O is {pki.organization(csr)!r}", expected=CPO, got=pki.organization(csr)
            )
        if not pki.common_name(csr):
            raise CaseFailed("the CSR has no CN (the station's serial number)")
    chain = tool(run).authority.sign_csr(csrs[-1])
    await run.call("CertificateSigned", {"certificateChain": chain}, status="Accepted")
    known(run).station_cn = pki.common_name(csr)


async def bring_to(run: Run, wanted: int) -> tuple[int, StationSession]:
    """Raise the station's security profile to `wanted` one step at a time, doing what each
    step needs; (the profile now, its connection)."""
    profile = await security_profile(run)
    session = await session_now(run)
    while profile < wanted:
        step = profile + 1
        if step in (1, 2) and known(run).password is None:
            session = await set_password(run, require=profile >= 1)
        if step == 2:
            await install_root(run, ROOT, tool(run).authority.root_pem)
        if step == 3 and known(run).station_cn is None:
            await station_certificate(run)
        if step == 1 and known(run).password is not None:
            run.csms.passwords[run.identity] = known(run).password or ""
        session = await change_profile(run, step)
        profile = step
    return profile, session


# -- the cases -----------------------------------------------------------------------------------


@case("TC_073_CS", "Update Charge Point Password for HTTP Basic Authentication",
      module=MODULE, profile=SECURITY)  # fmt: skip
async def tc_073(run: Run) -> None:
    """Security profile 1 or 2: ChangeConfiguration(AuthorizationKey, a new password in hex) is
    Accepted, the station reconnects, and its Basic auth header carries the new password (the
    tool's central system refuses any other)."""
    profile, _ = await bring_to(run, 1)
    if profile == 3:
        run.not_applicable("the station uses security profile 3, which has no password")
    session = await set_password(run, require=True)
    await check_link(run, session, profile)


@case("TC_074_CS", "Update Charge Point Certificate by request of Central System",
      module=MODULE, profile=SECURITY)  # fmt: skip
async def tc_074(run: Run) -> None:
    """CpoName set; ExtendedTriggerMessage(SignChargePointCertificate) Accepted; SignCertificate
    with a PKCS#10 CSR whose O is CpoName and whose signature holds; CertificateSigned with the
    certificate the tool signed is Accepted (A02)."""
    await station_certificate(run)


@case("TC_075_1_CS", "Install a certificate on the Charge Point - ManufacturerRootCertificate",
      module=MODULE, profile=SECURITY)  # fmt: skip
async def tc_075_1(run: Run) -> None:
    """InstallCertificate(ManufacturerRootCertificate) Accepted; GetInstalledCertificateIds lists
    it with the hash data the tool computes (M05, M03)."""
    await install_and_list(run, MANUFACTURER, tool(run).manufacturer.root_pem)


@case("TC_075_2_CS", "Install a certificate on the Charge Point - CentralSystemRootCertificate",
      module=MODULE, profile=SECURITY)  # fmt: skip
async def tc_075_2(run: Run) -> None:
    """InstallCertificate(CentralSystemRootCertificate) Accepted; GetInstalledCertificateIds
    lists it with the hash data the tool computes (M05, M03)."""
    await install_and_list(run, ROOT, tool(run).authority.root_pem)


async def install_and_list(run: Run, kind: str, pem_text: str) -> None:
    await run.call(
        "InstallCertificate", {"certificateType": kind, "certificate": pem_text}, status="Accepted"
    )
    listed = await run.call(
        "GetInstalledCertificateIds", {"certificateType": kind}, status="Accepted"
    )
    hashes_listed = listed.get("certificateHashData") or []
    wanted = expected_hash(pem_text)
    await run.check(
        f"the {kind} is listed with issuerNameHash, issuerKeyHash and serialNumber as the tool"
        " computes them (SHA256)",
        any(pki.same_hash(h, wanted) for h in hashes_listed),
        hashes_listed,
    )


@case("TC_076_CS", "Delete a specific certificate from the Charge Point", module=MODULE,
      profile=SECURITY)  # fmt: skip
async def tc_076(run: Run) -> None:
    """For SHA256, SHA384 and SHA512: a manufacturer root the tool installs is deleted by its
    hash data (Accepted), is then NotFound, and is gone from GetInstalledCertificateIds (M04)."""
    for algorithm in ("SHA256", "SHA384", "SHA512"):
        extra = CertificateAuthority.generate(f"ocpp-station deletable root {algorithm}")
        await run.call(
            "InstallCertificate",
            {"certificateType": MANUFACTURER, "certificate": extra.root_pem},
            status="Accepted",
        )
        data = expected_hash(extra.root_pem, algorithm)
        await run.call("DeleteCertificate", {"certificateHashData": data}, status="Accepted")
        await run.call("DeleteCertificate", {"certificateHashData": data}, status="NotFound")
        listed = await run.call("GetInstalledCertificateIds", {"certificateType": MANUFACTURER})
        left = listed.get("certificateHashData") or []
        await run.check(
            f"the root deleted by its {algorithm} hash is no longer listed",
            not any(pki.same_hash(h, expected_hash(extra.root_pem)) for h in left),
            left,
        )


@case("TC_077_CS", "Invalid ChargePointCertificate Security Event", module=MODULE,
      profile=SECURITY)  # fmt: skip
async def tc_077(run: Run) -> None:
    """A CertificateSigned whose certificate is not for the station's key is Rejected, and a
    SecurityEventNotification InvalidChargePointCertificate follows (A02.FR.07)."""
    other, _ = tool(run).authority.issue_station("not-this-station", CPO)
    mark = run.mark()
    await run.call("CertificateSigned", {"certificateChain": other}, status="Rejected")
    await run.expect(
        "SecurityEventNotification",
        type="InvalidChargePointCertificate",
        after=mark,
        timeout=run.settings.expect_timeout,
    )


@case("TC_078_CS", "Invalid CentralSystemCertificate Security Event", module=MODULE,
      profile=SECURITY)  # fmt: skip
async def tc_078(run: Run) -> None:
    """Security profile 2 or 3: the tool presents a TLS certificate from an authority the station
    does not trust: no connection (A00.FR.309-310). With its own certificate back, the station
    reconnects and reports InvalidCentralSystemCertificate."""
    profile, session = await bring_to(run, 2)
    stranger = CertificateAuthority.generate("ocpp-station untrusted root")
    before = run.link.connections
    async with run.step("central system: a TLS certificate the station does not trust"):
        await run.csms.relisten(stranger.server_context(hosts(run)))
    await run.wait(3, "the station tries the untrusted central system")
    await run.check_equal(
        "no connection with the untrusted certificate", run.link.connections, before
    )
    mark = run.mark()
    async with run.step("central system: its own TLS certificate again"):
        await run.csms.relisten(tool(run).authority.server_context(hosts(run)))
    session = await reconnection(run, before, "a trusted certificate")
    await check_link(run, session, profile)
    await run.expect(
        "SecurityEventNotification",
        type="InvalidCentralSystemCertificate",
        after=mark,
        timeout=run.settings.expect_timeout,
    )


@case("TC_079_CS", "Get Security Log", module=MODULE, profile=SECURITY)
async def tc_079(run: Run) -> None:
    """The tool causes a security event (a CertificateSigned for another key:
    InvalidChargePointCertificate); GetLog(SecurityLog) to the tool's upload folder: Accepted
    with a filename; LogStatusNotification Uploading then Uploaded, each with the GetLog's
    requestId; the file arrived under that name and its log names the event (N01, A04.FR.04)."""
    request_id = secrets.randbelow(1_000_000) + 1
    other, _ = tool(run).authority.issue_station("not-this-station", CPO)
    await run.call("CertificateSigned", {"certificateChain": other}, status="Rejected")
    async with file_server(run) as files:
        mark = run.mark()
        now = datetime.now(UTC)
        answer = await run.call(
            "GetLog",
            {
                "logType": "SecurityLog",
                "requestId": request_id,
                "log": {
                    "remoteLocation": files.upload_url(),
                    "oldestTimestamp": timefmt.iso(now - timedelta(days=1)),
                    "latestTimestamp": timefmt.iso(now + timedelta(minutes=5)),
                },
                "retries": 1,
                "retryInterval": 1,
            },
            status="Accepted",
        )
        name = answer.get("filename")
        await run.check("GetLog.conf carries a filename", bool(name), name)
        statuses = ["Uploading", "Uploaded"]
        await requested_statuses(run, "LogStatusNotification", statuses, request_id, mark)
        upload = await files.uploaded(str(name), timeout=5)
        await run.check(f"the file {name} was uploaded", upload is not None)
        data = upload or b""
        if str(name).endswith(".zip"):
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    text = b"".join(archive.read(n) for n in archive.namelist())
            except zipfile.BadZipFile:
                text = b""
        else:
            text = data
        await run.check(
            "the uploaded security log names the InvalidChargePointCertificate event",
            b"InvalidChargePointCertificate" in text,
            text[-300:].decode("utf-8", "replace"),
        )


def sign(image: bytes, key: ec.EllipticCurvePrivateKey) -> str:
    return base64.b64encode(key.sign(image, ec.ECDSA(hashes.SHA256()))).decode("ascii")


async def signed_update(run: Run, image: bytes, signature: str, files: Any, name: str) -> int:
    signer_pem, _ = tool(run).signing_certificate()
    request_id = secrets.randbelow(1_000_000) + 1
    files.offer(name, image)
    await run.call(
        "SignedUpdateFirmware",
        {
            "requestId": request_id,
            "firmware": {
                "location": files.file_url(name),
                "retrieveDateTime": timefmt.iso(datetime.now(UTC)),
                "signingCertificate": signer_pem,
                "signature": signature,
            },
            "retries": 0,
            "retryInterval": 1,
        },
        status="Accepted",
    )
    return request_id


async def requested_statuses(
    run: Run, action: str, statuses: list[str], request_id: int, after: int
) -> int:
    """The station's next `action`s carry `statuses` in order, each with the requestId of the
    request they report on (L01.FR.10, whitepaper §5.13); the seq of the last one."""
    for status in statuses:
        message = await run.expect(action, after=after, timeout=run.settings.boot_timeout)
        await run.check_equal(f"{action} #{message.seq} status", message.get("status"), status)
        await run.check_equal(
            f"{action} #{message.seq} requestId", message.get("requestId"), request_id
        )
        after = message.seq
    return after


async def signed_statuses(run: Run, statuses: list[str], request_id: int, after: int) -> int:
    return await requested_statuses(
        run, "SignedFirmwareStatusNotification", statuses, request_id, after
    )


@case("TC_080_CS", "Secure Firmware Update", module=MODULE, profile=SECURITY)
async def tc_080(run: Run) -> None:
    """With the manufacturer's root installed: SignedUpdateFirmware of an image the
    manufacturer's signing certificate signed -> Downloading, Downloaded, SignatureVerified,
    Installing, InstallRebooting; the station reboots into the new version (its
    BootNotification says so); Installed. Every notification carries the requestId (L01)."""
    await install_root(run, MANUFACTURER, tool(run).manufacturer.root_pem)
    version = new_version(run)
    image = firmware_image(version)
    _, key = tool(run).signing_certificate()
    async with file_server(run) as files:
        mark = run.mark()
        request_id = await signed_update(
            run, image, sign(image, key), files, f"signed-{version}.bin"
        )
        statuses = [
            "Downloading",
            "Downloaded",
            "SignatureVerified",
            "Installing",
            "InstallRebooting",
        ]
        mark = await signed_statuses(run, statuses, request_id, mark)
        boot = await run.expect_boot()
        await run.check_equal(
            "the firmwareVersion after the update", boot.get("firmwareVersion"), version
        )
        await signed_statuses(run, ["Installed"], request_id, mark)


@case("TC_081_CS", "Secure Firmware Update - Invalid Signature", module=MODULE,
      profile=SECURITY)  # fmt: skip
async def tc_081(run: Run) -> None:
    """SignedUpdateFirmware whose signature is not over the image -> Downloading, Downloaded,
    InvalidSignature, and a SecurityEventNotification InvalidFirmwareSignature; nothing is
    installed (L01.FR.03)."""
    await install_root(run, MANUFACTURER, tool(run).manufacturer.root_pem)
    image = firmware_image("6.6.6")
    _, key = tool(run).signing_certificate()
    async with file_server(run) as files:
        mark = run.mark()
        request_id = await signed_update(
            run, image, sign(b"another image", key), files, "tampered.bin"
        )
        await signed_statuses(
            run, ["Downloading", "Downloaded", "InvalidSignature"], request_id, mark
        )
        await run.expect(
            "SecurityEventNotification",
            type="InvalidFirmwareSignature",
            after=mark,
            timeout=run.settings.expect_timeout,
        )
        await run.expect_none("BootNotification", within=2, after=mark)


@case("TC_083_CS", "Upgrade Charge Point Security Profile - Accepted", module=MODULE,
      profile=SECURITY)  # fmt: skip
async def tc_083(run: Run) -> None:
    """SecurityProfile one above the current one, its prerequisites in place, is Accepted; the
    station reconnects under the new profile, as the connection shows (A05.FR.05-07)."""
    profile = await security_profile(run)
    if profile >= 3:
        run.not_applicable("the station already uses security profile 3")
    await bring_to(run, profile + 1)


@case("TC_084_CS", "Downgrade Charge Point Security Profile - Rejected", module=MODULE,
      profile=SECURITY)  # fmt: skip
async def tc_084(run: Run) -> None:
    """SecurityProfile lower than (or equal to) the current one is Rejected, and the value stays
    (A05.FR.01); the connection is kept."""
    profile = await security_profile(run)
    before = run.link.connections
    lower = max(profile - 1, 0)
    await run.call(
        "ChangeConfiguration", {"key": "SecurityProfile", "value": str(lower)}, status="Rejected"
    )
    await run.check_equal(
        "SecurityProfile after the refused change", await security_profile(run), profile
    )
    await run.wait(1, "the station keeps its connection")
    await run.check_equal("no reconnection", run.link.connections, before)


@case("TC_085_CS", "Basic Authentication - Valid username/password combination",
      module=MODULE, profile=SECURITY)  # fmt: skip
async def tc_085(run: Run) -> None:
    """Security profile 1 or 2: the station's connection carries Basic auth with its identity
    as user and the password the tool set (the tool's central system checks it)."""
    profile, session = await bring_to(run, 1)
    if profile == 3:
        run.not_applicable("the station uses security profile 3, which has no password")
    await check_link(run, session, profile)


@case("TC_086_CS", "TLS - server-side certificate - Valid certificate", module=MODULE,
      profile=SECURITY)  # fmt: skip
async def tc_086(run: Run) -> None:
    """Security profile 2 (or 3): the station connects over TLS 1.2+ to the tool's certificate,
    which chains to the root it installed."""
    profile, session = await bring_to(run, 2)
    await check_link(run, session, profile)


@case("TC_087_CS", "TLS - Client-side certificate - Valid certificate", module=MODULE,
      profile=SECURITY)  # fmt: skip
async def tc_087(run: Run) -> None:
    """Security profile 3: the station connects with the certificate the tool signed from its
    CSR as TLS client certificate (CN its serial, O CpoName), and no password."""
    profile, session = await bring_to(run, 3)
    await check_link(run, session, profile)
