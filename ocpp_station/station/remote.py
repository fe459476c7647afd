"""RemoteStartTransaction (§5.11), RemoteStopTransaction (§5.12) and UnlockConnector (§5.18)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from ocpp_station.rpc.errors import PropertyConstraintViolation
from ocpp_station.station.authorization import ACCEPTED, AuthService
from ocpp_station.station.connector import Authorization
from ocpp_station.station.service import Payload, Service, after, handles

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext
    from ocpp_station.station.transactions import Sessions

log = logging.getLogger("ocpp_station.station")


class ProfileTaker(Protocol):
    """What takes the chargingProfile of a RemoteStartTransaction (Smart Charging, §5.11)."""

    def refuses(self, connector_id: int | None, profile: Payload) -> str | None:
        """Why the profile makes the remote start Rejected (TC_060), or None."""
        ...

    def expect(self, id_tag: str, connector_id: int | None, profile: Payload) -> None:
        """The remote start was Accepted: the profile is for the session it starts."""
        ...


class RemoteControl(Service):
    """Before the central system accepted the station, the inbound gate (BootService.admit)
    answers RemoteStart and RemoteStop with Rejected (§4.2); the handlers see only the rest."""

    __slots__ = ("auth", "ctx", "profile_taker", "sessions")

    def __init__(self, ctx: StationContext, auth: AuthService, sessions: Sessions) -> None:
        self.ctx = ctx
        self.auth = auth
        self.sessions = sessions
        # Without Smart Charging a RemoteStart's chargingProfile is ignored (§5.11 SHOULD).
        self.profile_taker: ProfileTaker | None = None

    @handles("RemoteStartTransaction")
    def remote_start(self, request: Payload) -> Payload:
        connector_id = request.get("connectorId")
        if connector_id == 0:
            # TC_027: connector 0 is the charge point, not something that can charge.
            raise PropertyConstraintViolation("connectorId 0 cannot start a transaction")
        cp = self.ctx.cp
        sessions = self.sessions
        profile = request.get("chargingProfile")
        if profile is not None and self.profile_taker is not None:
            why = self.profile_taker.refuses(connector_id, profile)
            if why is not None:
                log.info("remote start for %s refused: %s", request["idTag"], why)
                return {"status": "Rejected"}
        auth = self._as_known(request["idTag"])
        if connector_id is None:
            reasons = [sessions.why_not_start(c, auth) for c in cp]
            if all(reasons):
                why = "; ".join(r for r in reasons if r)
                log.info("remote start for %s refused: %s", request["idTag"], why)
                return {"status": "Rejected"}
            return {"status": "Accepted"}
        if not cp.has_connector(connector_id):
            return {"status": "Rejected"}
        reason = sessions.why_not_start(cp.connector(connector_id), auth)
        if reason is not None:
            # TC_026: busy, unavailable or faulted; a shutdown under way (a session started in
            # its grace time would be cut off at once).
            log.info("remote start for %s refused: %s", request["idTag"], reason)
            return {"status": "Rejected"}
        return {"status": "Accepted"}

    @after("RemoteStartTransaction")
    def after_remote_start(self, request: Payload, response: Payload) -> None:
        if response.get("status") == "Accepted":
            profile = request.get("chargingProfile")
            if profile is not None and self.profile_taker is not None:
                self.profile_taker.expect(request["idTag"], request.get("connectorId"), profile)
            # The answer went first (§4.3 of the digest: slow work after the .conf).
            self.ctx.spawn(self._start(request["idTag"], request.get("connectorId")))

    def _as_known(self, id_tag: str) -> Authorization | None:
        """The remote idTag as the station knows it from its list or cache (with its group),
        so that a connector held for others refuses it at once; None for a tag it does not
        know: its group is learned after the answer (see _needs_group)."""
        known = self.auth.local_info(id_tag)
        if known is None:
            return None
        return Authorization(id_tag, known.get("parentIdTag"), remote=True)

    async def _start(self, id_tag: str, connector_id: int | None) -> None:
        if self.ctx.config.get_bool("AuthorizeRemoteTxRequests"):
            info = await self.auth.authorize(id_tag)  # as if presented locally (§5.11)
        elif self._needs_group(id_tag, connector_id):
            # §5.13: the group from the list or the cache, else from the central system.
            known = self.auth.local_info(id_tag)
            if known is not None and known.get("parentIdTag"):
                info = {"status": ACCEPTED, "parentIdTag": known["parentIdTag"]}
            else:
                info = await self.auth.authorize(id_tag)
        else:
            info = {"status": ACCEPTED}
        if info["status"] != ACCEPTED:
            log.info("remote start for %s refused: %s", id_tag, info["status"])
            return
        closed = self.sessions.closed
        if closed is not None:  # a shutdown or reset began while the Authorize was out
            log.info("remote start for %s dropped: %s", id_tag, closed)
            return
        if connector_id is None:
            self.sessions.authorized_anywhere(id_tag, info)
        else:
            self.sessions.authorized(self.ctx.cp.connector(connector_id), id_tag, info, remote=True)

    def _needs_group(self, id_tag: str, connector_id: int | None) -> bool:
        """A connector that would start a session, but not for this idTag as far as the station
        knows it: held for a group the tag may belong to (a reservation with a parentIdTag).
        §5.13: the tag's parent is looked up in the list or cache, else asked with Authorize."""
        cp = self.ctx.cp
        targets = list(cp) if connector_id is None else [cp.connector(connector_id)]
        bare = Authorization(id_tag, None, remote=True)
        why = self.sessions.why_not_start
        return all(why(c, bare) is not None for c in targets) and any(
            why(c) is None for c in targets
        )

    @handles("RemoteStopTransaction")
    def remote_stop(self, request: Payload) -> Payload:
        if self.ctx.cp.by_transaction(request["transactionId"]) is None:
            return {"status": "Rejected"}  # TC_028: unknown id, and no StopTransaction
        return {"status": "Accepted"}

    @after("RemoteStopTransaction")
    def after_remote_stop(self, request: Payload, response: Payload) -> None:
        if response.get("status") != "Accepted":
            return
        c = self.ctx.cp.by_transaction(request["transactionId"])
        if c is not None:
            self.sessions.stop(c, "Remote")

    @handles("UnlockConnector")
    def unlock(self, request: Payload) -> Payload:
        connector_id = request["connectorId"]
        # [E] 3.87: an unknown connector is NotSupported.
        if not self.ctx.cp.has_connector(connector_id):
            return {"status": "NotSupported"}
        hw = self.ctx.hw(connector_id)
        if hw.fixed_cable:
            # A fixed cable cannot be unlocked, and its session goes on (TC_017_2, TC_018_2).
            return {"status": "NotSupported"}
        c = self.ctx.cp.connector(connector_id)
        if c.transaction is not None:
            self.sessions.stop(c, "UnlockCommand")  # TC_018_1: stop first, then unlock
        return {"status": "Unlocked" if hw.unlock() else "UnlockFailed"}
