"""RemoteStartTransaction (§5.11), RemoteStopTransaction (§5.12) and UnlockConnector (§5.18)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ocpp_station.rpc.errors import PropertyConstraintViolation
from ocpp_station.station.authorization import ACCEPTED

if TYPE_CHECKING:
    from ocpp_station.station.station import Station

log = logging.getLogger("ocpp_station.station")

Payload = dict[str, Any]


class RemoteControl:
    def __init__(self, station: Station) -> None:
        self.st = station

    def remote_start(self, request: Payload) -> Payload:
        # §4.2: while Pending, remote start and stop are not allowed.
        if not self.st.boot.accepted:
            return {"status": "Rejected"}
        if self.st.powering_down:
            # A session started in the shutdown's grace time would be cut off at once.
            log.info("remote start for %s refused: the station is shutting down", request["idTag"])
            return {"status": "Rejected"}
        connector_id = request.get("connectorId")
        if connector_id == 0:
            # TC_027: connector 0 is the charge point, not something that can charge.
            raise PropertyConstraintViolation("connectorId 0 cannot start a transaction")
        sessions = self.st.sessions
        if connector_id is None:
            if not any(sessions.can_start(c) for c in self.st.connectors):
                return {"status": "Rejected"}
            return {"status": "Accepted"}
        if not self.st.has_connector(connector_id):
            return {"status": "Rejected"}
        if not sessions.can_start(self.st.connector(connector_id)):
            return {"status": "Rejected"}  # TC_026: busy, unavailable or faulted
        return {"status": "Accepted"}

    def after_remote_start(self, request: Payload, response: Payload) -> None:
        if response.get("status") == "Accepted":
            # The answer went first (§4.3 of the digest: slow work after the .conf).
            self.st.spawn(self._start(request["idTag"], request.get("connectorId")))

    async def _start(self, id_tag: str, connector_id: int | None) -> None:
        if self.st.config.get_bool("AuthorizeRemoteTxRequests"):
            info = await self.st.auth.authorize(id_tag)  # as if presented locally (§5.11)
        else:
            info = {"status": ACCEPTED}
        if info["status"] != ACCEPTED:
            log.info("remote start for %s refused: %s", id_tag, info["status"])
            return
        if self.st.powering_down:  # the shutdown began while the Authorize was out
            log.info("remote start for %s dropped: the station is shutting down", id_tag)
            return
        if connector_id is None:
            self.st.sessions.authorized_anywhere(id_tag, info)
        else:
            self.st.sessions.authorized(self.st.connector(connector_id), id_tag, info, remote=True)

    def remote_stop(self, request: Payload) -> Payload:
        if not self.st.boot.accepted:
            return {"status": "Rejected"}
        if self.st.connector_by_transaction(request["transactionId"]) is None:
            return {"status": "Rejected"}  # TC_028: unknown id, and no StopTransaction
        return {"status": "Accepted"}

    def after_remote_stop(self, request: Payload, response: Payload) -> None:
        if response.get("status") != "Accepted":
            return
        c = self.st.connector_by_transaction(request["transactionId"])
        if c is not None:
            self.st.sessions.stop(c, "Remote")

    def unlock(self, request: Payload) -> Payload:
        connector_id = request["connectorId"]
        # [E] 3.87: an unknown connector is NotSupported.
        if not self.st.has_connector(connector_id):
            return {"status": "NotSupported"}
        hw = self.st.hw_connector(connector_id)
        if hw.fixed_cable:
            # A fixed cable cannot be unlocked, and its session goes on (TC_017_2, TC_018_2).
            return {"status": "NotSupported"}
        c = self.st.connector(connector_id)
        if c.transaction is not None:
            self.st.sessions.stop(c, "UnlockCommand")  # TC_018_1: stop first, then unlock
        return {"status": "Unlocked" if hw.unlock() else "UnlockFailed"}
