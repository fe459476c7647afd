"""SignedUpdateFirmware (security whitepaper use case L01, §5.16).

The signing certificate is checked before answering (L01.FR.23): it must lead to an installed
ManufacturerRootCertificate and be valid now, else InvalidCertificate and the
InvalidFirmwareSigningCertificate event (L01.FR.24, L01.FR.02). Then the update runs as the
Firmware Management profile's does, with SignedFirmwareStatusNotifications carrying the
requestId: Downloading, Downloaded, SignatureVerified (or InvalidSignature and its event),
InstallScheduled when installDateTime lies ahead, Installing, InstallRebooting, Installed. A new
request cancels the one under way (AcceptedCanceled), unless it is being installed (Rejected).

Once a ManufacturerRootCertificate is installed the station takes signed firmware only: the
legacy UpdateFirmware is answered NotSupported (L01.FR.20). Before that it cannot check a
signature at all, so the legacy update stays available (and the test tool's TC_044 with it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ocpp_station.profiles.firmware.update import FirmwareUpdate, Update
from ocpp_station.profiles.security import pki
from ocpp_station.profiles.security.keeper import CertificateKeeper
from ocpp_station.station.service import Payload, Service, after, handles

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")


class SignedFirmware(Service):
    __slots__ = ("ctx", "firmware", "keeper")

    def __init__(
        self, ctx: StationContext, keeper: CertificateKeeper, firmware: FirmwareUpdate
    ) -> None:
        self.ctx = ctx
        self.keeper = keeper
        self.firmware = firmware
        firmware.verifier = self.verify
        firmware.legacy_refused = self.signed_only

    def signed_only(self) -> bool:
        return bool(self.keeper.roots(pki.MANUFACTURER_ROOT))

    @handles("SignedUpdateFirmware")
    def signed_update(self, request: Payload) -> Payload:
        firmware = request["firmware"]
        try:
            self._check_signer(firmware["signingCertificate"])
        except pki.CertificateError as exc:
            log.info("SignedUpdateFirmware: the signing certificate is refused: %s", exc)
            self.ctx.events.security_event.emit("InvalidFirmwareSigningCertificate", str(exc))
            return {"status": "InvalidCertificate"}
        if self.firmware.busy_installing():
            return {"status": "Rejected"}  # L01.FR.27: an installation cannot be cancelled
        if self.firmware.update is not None:
            return {"status": "AcceptedCanceled"}  # L01.FR.26
        return {"status": "Accepted"}

    @after("SignedUpdateFirmware")
    def start(self, request: Payload, response: Payload) -> None:
        if response["status"] in ("Accepted", "AcceptedCanceled"):
            self.firmware.begin(Update.from_signed_request(request))

    def _check_signer(self, text: str) -> None:
        chain = pki.load_chain(text)
        roots = [entry.cert for entry in self.keeper.roots(pki.MANUFACTURER_ROOT)]
        pki.check_chain(chain, roots, self.ctx.clock.now())

    def verify(self, update: Update, image: Path) -> bool:
        """L01.FR.04: the signature over the whole image by the signing certificate's key."""
        if update.signing_certificate is None or update.signature is None:
            return False
        try:
            signer = pki.load_chain(update.signing_certificate)[0]
            data = image.read_bytes()
        except (pki.CertificateError, OSError) as exc:
            log.warning("the firmware signature cannot be checked: %s", exc)
            return False
        return pki.signature_valid(signer, data, update.signature)

    def trigger(self) -> None:
        self.firmware.trigger_signed()
