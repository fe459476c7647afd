"""The central system's default answers to the CALLs a charge point sends.

Each is a plain function of the request payload (and the central system's settings), so a
per-station handler in a test can call one and adjust the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ocpp_station.csms.tags import TagInfo, find_tag, id_tag_info
from ocpp_station.timefmt import iso

BOOT_STATUSES = frozenset({"Accepted", "Pending", "Rejected"})


class DefaultAnswers:
    """What a well-behaved central system answers, with a few settings a test can change."""

    def __init__(
        self,
        *,
        now: Callable[[], datetime],
        boot_status: str,
        heartbeat_interval: int,
        tags: Mapping[str, TagInfo] | None,
        accept_unknown_tags: bool,
    ) -> None:
        if boot_status not in BOOT_STATUSES:
            raise ValueError(f"boot_status must be one of {sorted(BOOT_STATUSES)}")
        if isinstance(heartbeat_interval, bool) or not isinstance(heartbeat_interval, int):
            raise TypeError("heartbeat_interval must be an integer number of seconds")
        if heartbeat_interval < 0:
            raise ValueError("heartbeat_interval must not be negative")
        self._now = now
        self.boot_status = boot_status
        self.heartbeat_interval = heartbeat_interval
        self.tags: dict[str, TagInfo] = dict(tags or {})
        self.accept_unknown_tags = accept_unknown_tags
        self._last_transaction_id = 0

    def now(self) -> datetime:
        """The central system's time (its clock, a test's fake one)."""
        return self._now()

    def continue_transaction_ids_after(self, last: int) -> None:
        """Hand out ids above `last` from now on (ids already given out elsewhere)."""
        self._last_transaction_id = max(self._last_transaction_id, last)

    def next_transaction_id(self) -> int:
        """1, 2, 3...: unique across all stations of this central system."""
        self._last_transaction_id += 1
        return self._last_transaction_id

    def id_tag_info(self, id_tag: str) -> dict[str, Any]:
        tag = find_tag(self.tags, id_tag)
        return id_tag_info(tag, self._now(), accept_unknown=self.accept_unknown_tags)

    # ------------------------------------------------------------------ Core

    def boot_notification(self, payload: dict[str, Any]) -> dict[str, Any]:
        # [S] 4.2: with Pending or Rejected, interval is the time before the next attempt.
        return {
            "status": self.boot_status,
            "currentTime": iso(self._now()),
            "interval": self.heartbeat_interval,
        }

    def heartbeat(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": iso(self._now())}

    def authorize(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"idTagInfo": self.id_tag_info(payload["idTag"])}

    def start_transaction(self, payload: dict[str, Any]) -> dict[str, Any]:
        # A transaction id even when the tag is not accepted: the station then ends the
        # transaction itself ([S] 4.8, StopTransactionOnInvalidId).
        return {
            "transactionId": self.next_transaction_id(),
            "idTagInfo": self.id_tag_info(payload["idTag"]),
        }

    def stop_transaction(self, payload: dict[str, Any]) -> dict[str, Any]:
        id_tag = payload.get("idTag")
        if id_tag is None:
            return {}
        return {"idTagInfo": self.id_tag_info(id_tag)}

    def data_transfer(self, payload: dict[str, Any]) -> dict[str, Any]:
        # [S] 4.3: a vendorId the central system does not know.
        return {"status": "UnknownVendorId"}

    @staticmethod
    def empty(payload: dict[str, Any]) -> dict[str, Any]:
        """The answer of the notifications whose .conf has no fields."""
        return {}

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        """The default handler of each charge-point-initiated action."""
        return {
            "BootNotification": self.boot_notification,
            "Heartbeat": self.heartbeat,
            "Authorize": self.authorize,
            "StartTransaction": self.start_transaction,
            "StopTransaction": self.stop_transaction,
            "MeterValues": self.empty,
            "StatusNotification": self.empty,
            "DataTransfer": self.data_transfer,
            "FirmwareStatusNotification": self.empty,
            "DiagnosticsStatusNotification": self.empty,
            # Security whitepaper; SignCertificate is the central system's: it holds the
            # certificate authority (CentralSystem._sign_certificate).
            "SecurityEventNotification": self.empty,
            "LogStatusNotification": self.empty,
            "SignedFirmwareStatusNotification": self.empty,
        }
