"""SetChargingProfile, ClearChargingProfile and GetCompositeSchedule (OCPP 1.6 §3.13, §5.5,
§5.7, §5.16), and the limit in force on each connector, which drives the hardware.

The profiles live in the station's RecordStore, kind `charging_profile`, keyed by
chargingProfileId, so they outlive a reboot ([E] 3.37). A TxProfile belongs to the transaction
running on its connector: it goes when the transaction ends (§3.13.1), and at power-up when
its transaction did not survive.

The limit in force is re-evaluated whenever it can change: at every period, duration,
recurrence or validity boundary (a timer on the next one), when a profile comes or goes, when a
transaction starts or ends, when the clock is set, and, for limits in amps on a DC connector,
at each meter sample (the EV's voltage turns amps into watts). The ChargePointMaxProfile is a
budget the charging connectors share (profile-notes: not a per-connector limit): split evenly,
what one connector cannot use going to the others. 0 W keeps the session but offers nothing:
SuspendedEVSE (§4.9).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ocpp_station import timefmt
from ocpp_station.clock import Timer
from ocpp_station.hardware.interfaces import MeterReading
from ocpp_station.profiles.smart_charging.composite import (
    Book,
    ConnectorFacts,
    Electrical,
    Facts,
    composite,
    cp_max_limit,
    in_force,
    next_change,
    share,
)
from ocpp_station.profiles.smart_charging.model import (
    AMPS,
    CHARGE_POINT_MAX,
    TX,
    WATTS,
    ChargingProfile,
    Refused,
    seconds,
)
from ocpp_station.rpc.errors import PropertyConstraintViolation
from ocpp_station.station.connector import Connector, Transaction
from ocpp_station.station.service import Payload, Service, handles
from ocpp_station.station.status import CHARGING, SUSPENDED_EV, SUSPENDED_EVSE
from ocpp_station.storage.interface import RecordStore

if TYPE_CHECKING:
    from ocpp_station.station.context import StationContext

log = logging.getLogger("ocpp_station.station")

KIND = "charging_profile"
UNITS = {"Current": AMPS, "Power": WATTS}  # ChargingScheduleAllowedChargingRateUnit ([E] 3.88)
VOLTAGE_DRIFT = 0.01
"""A limit in amps follows the EV's voltage once its watts moved by more than this share: 1 %
is about 4 V on a 400 V pack, minutes of charging."""
PENDING_MAX = 16
"""RemoteStart profiles waiting for their session: a bound, since a remote start whose driver
never comes leaves one behind."""


class SmartCharging(Service):
    __slots__ = ("_booked", "_limits", "_pending", "_profiles", "_timer", "ctx", "records")

    def __init__(self, ctx: StationContext, records: RecordStore) -> None:
        self.ctx = ctx
        self.records = records
        self._profiles: dict[int, ChargingProfile] = {}
        for key, value in records.records(KIND).items():
            try:
                self._profiles[int(key)] = ChargingProfile.from_record(value)
            except (KeyError, TypeError, ValueError) as exc:
                log.error("charging profile %s in the store is unreadable, dropped: %s", key, exc)
                records.record_delete(KIND, key)
        self._booked: Book | None = None  # the profiles sorted out; None once they changed
        # Connector -> the limit in force (W), None where no profile limits it.
        self._limits: dict[int, float | None] = {}
        self._timer: Timer | None = None
        # idTag -> (connectorId or None, chargingProfile) of accepted remote starts.
        self._pending: dict[str, tuple[int | None, Payload]] = {}
        ctx.events.transaction_started.connect(self._started)
        ctx.events.transaction_ended.connect(self._ended)
        ctx.events.meter_sampled.connect(self._sampled)
        ctx.events.clock_set.connect(self.apply)

    # -- what is installed -----------------------------------------------------------------------
    @property
    def profiles(self) -> list[ChargingProfile]:
        return sorted(self._profiles.values(), key=lambda p: p.profile_id)

    @property
    def _book(self) -> Book:
        book = self._booked
        if book is None:
            book = self._booked = Book(self.profiles)
        return book

    # -- the station's moments -------------------------------------------------------------------
    def on_power_up(self, cold: bool) -> None:
        # A TxProfile whose transaction did not survive the restart goes (§3.13.1: "SHALL
        # cease to be valid when the transaction terminates").
        running = {c.connector_id for c in self.ctx.cp if c.transaction is not None}
        stale = [
            p for p in self._profiles.values() if p.purpose == TX and p.connector_id not in running
        ]
        self._remove(stale, "its transaction ended with the restart")
        self.apply()

    def on_reboot(self) -> None:
        self._cancel_timer()
        self._pending.clear()

    def refine_status(self, c: Connector, status: str) -> str:
        if status in (CHARGING, SUSPENDED_EV) and self._limits.get(c.connector_id) == 0:
            return SUSPENDED_EVSE  # the EVSE offers nothing: the limit in force is 0
        return status

    def snapshot(self, view: Payload) -> None:
        now = seconds(self.ctx.clock.now())
        view["connectors"][0]["limitW"] = cp_max_limit(self._book, now, self._facts())

    def snapshot_connector(self, c: Connector, entry: Payload) -> None:
        entry["limitW"] = self._limits.get(c.connector_id)

    # -- the central system's requests -----------------------------------------------------------
    @handles("SetChargingProfile")
    def set_profile(self, request: Payload) -> Payload:
        connector_id = request["connectorId"]
        if connector_id != 0 and not self.ctx.cp.has_connector(connector_id):
            # [E] 3.39: an invalid connectorId is a CALLERROR, not Rejected.
            raise PropertyConstraintViolation(f"connectorId {connector_id} does not exist")
        payload = request["csChargingProfiles"]
        try:
            profile = self._read(connector_id, payload)
            self._check_target(profile)
            self._check_room(profile)
        except Refused as exc:
            log.info("SetChargingProfile %s refused: %s", payload["chargingProfileId"], exc)
            return {"status": "Rejected"}
        self._install(profile)
        return {"status": "Accepted"}

    @handles("ClearChargingProfile")
    def clear_profile(self, request: Payload) -> Payload:
        if "id" in request:
            # The id names one profile; the other fields do not narrow it ([E] 3.25).
            found = [p for p in self._profiles.values() if p.profile_id == request["id"]]
        else:
            connector_id = request.get("connectorId")
            purpose = request.get("chargingProfilePurpose")
            stack_level = request.get("stackLevel")
            found = [
                p
                for p in self._profiles.values()
                if (connector_id is None or p.connector_id == connector_id)
                and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level)
            ]
        if not found:
            return {"status": "Unknown"}  # TC_067: nothing matched
        self._remove(found, "cleared by the central system")
        self.apply()
        return {"status": "Accepted"}

    @handles("GetCompositeSchedule")
    def composite_schedule(self, request: Payload) -> Payload:
        connector_id = request["connectorId"]
        if connector_id != 0 and not self.ctx.cp.has_connector(connector_id):
            return {"status": "Rejected"}
        unit = request.get("chargingRateUnit") or self._allowed_units()[0]
        duration = request["duration"]
        now = seconds(self.ctx.clock.now())
        periods = composite(self.profiles, connector_id, now, duration, unit, self._facts())
        return {
            "status": "Accepted",
            "connectorId": connector_id,
            "scheduleStart": timefmt.iso(datetime.fromtimestamp(now, UTC)),
            # [E] 3.57: no startSchedule inside; scheduleStart carries it.
            "chargingSchedule": {
                "duration": duration,
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": [p.json() for p in periods],
            },
        }

    # -- RemoteStartTransaction's profile (§5.11; taken through RemoteControl.profile_taker) -----
    def refuses(self, connector_id: int | None, payload: Payload) -> str | None:
        if payload["chargingProfilePurpose"] != TX:
            return "the chargingProfile of a RemoteStartTransaction must be a TxProfile"
        if "transactionId" in payload:
            return "a RemoteStartTransaction's chargingProfile carries no transactionId"
        try:
            # Without a connectorId, where the session will run is not known yet: the profile
            # is counted as one more (connector 0 holds no TxProfile it could replace).
            self._check_room(self._read(connector_id or 0, payload))
        except Refused as exc:
            return f"its chargingProfile: {exc}"
        return None

    def expect(self, id_tag: str, connector_id: int | None, profile: Payload) -> None:
        self._pending.pop(id_tag, None)
        while len(self._pending) >= PENDING_MAX:
            self._pending.pop(next(iter(self._pending)))
        self._pending[id_tag] = (connector_id, profile)

    # -- rules --------------------------------------------------------------------------------
    def _allowed_units(self) -> list[str]:
        words = self.ctx.config.get_list("ChargingScheduleAllowedChargingRateUnit")
        units = [UNITS[w] for w in words if w in UNITS]
        return units or [WATTS]

    def _read(self, connector_id: int, payload: Payload) -> ChargingProfile:
        """The profile, checked against the station's keys (§9.4); Refused otherwise."""
        profile = ChargingProfile.from_request(connector_id, payload, seconds(self.ctx.clock.now()))
        config = self.ctx.config
        highest = config.get_int("ChargeProfileMaxStackLevel")
        if profile.stack_level > highest:
            raise Refused(f"stackLevel {profile.stack_level} is above {highest}")
        if profile.unit not in self._allowed_units():
            raise Refused(f"chargingRateUnit {profile.unit} is not allowed here")
        most = config.get_int("ChargingScheduleMaxPeriods")
        if len(profile.periods) > most:
            raise Refused(f"{len(profile.periods)} periods, at most {most}")
        return profile

    def _check_target(self, profile: ChargingProfile) -> None:
        """§3.13.1: where each purpose may go, and a TxProfile only for the running
        transaction (TC_058_1, TC_058_2)."""
        if profile.purpose == CHARGE_POINT_MAX and profile.connector_id != 0:
            raise Refused("a ChargePointMaxProfile is for connector 0 only")
        if profile.purpose != TX:
            if profile.transaction_id is not None:
                raise Refused("only a TxProfile may carry a transactionId")
            return
        if profile.connector_id == 0:
            raise Refused("a TxProfile needs a connector > 0")
        tx = self.ctx.cp.connector(profile.connector_id).transaction
        if tx is None:
            raise Refused(f"no transaction on connector {profile.connector_id}")
        if profile.transaction_id is not None and profile.transaction_id != tx.transaction_id:
            raise Refused(
                f"transactionId {profile.transaction_id} is not the running one ({tx.wire_id})"
            )

    def _replaced(self, profile: ChargingProfile) -> list[ChargingProfile]:
        """§5.16.2 / §3.13.2: the same id, or the same stackLevel and purpose on the same
        connector, is replaced."""
        return [
            p
            for p in self._profiles.values()
            if p.profile_id == profile.profile_id
            or (
                p.stack_level == profile.stack_level
                and p.purpose == profile.purpose
                and p.connector_id == profile.connector_id
            )
        ]

    def _check_room(self, profile: ChargingProfile) -> None:
        most = self.ctx.config.get_int("MaxChargingProfilesInstalled")
        count = len(self._profiles) - len(self._replaced(profile)) + 1
        if count > most:
            raise Refused(f"{count} profiles would be installed, at most {most}")

    # -- installing and removing ----------------------------------------------------------------
    def _store(self, profile: ChargingProfile) -> list[ChargingProfile]:
        """Keep the profile in place of those it replaces; returns those."""
        replaced = self._replaced(profile)
        with self.records.atomic():
            for old in replaced:
                self.records.record_delete(KIND, str(old.profile_id))
                del self._profiles[old.profile_id]
            self.records.record_put(KIND, str(profile.profile_id), profile.record())
            self._profiles[profile.profile_id] = profile
        self._booked = None
        return replaced

    def _install(self, profile: ChargingProfile) -> None:
        replaced = self._store(profile)
        log.info(
            "charging profile %d installed: %s on connector %d, stack level %d%s",
            profile.profile_id,
            profile.purpose,
            profile.connector_id,
            profile.stack_level,
            "".join(
                f", replaces {p.profile_id}" for p in replaced if p.profile_id != profile.profile_id
            ),
        )
        # [E] 3.8: a new TxDefaultProfile applies to a running transaction at once (TC_082).
        self.apply()

    def _remove(self, profiles: Iterable[ChargingProfile], why: str) -> None:
        gone = list(profiles)
        if not gone:
            return
        with self.records.atomic():
            for p in gone:
                self.records.record_delete(KIND, str(p.profile_id))
                self._profiles.pop(p.profile_id, None)
        self._booked = None
        for p in gone:
            log.info("charging profile %d removed: %s", p.profile_id, why)

    # -- the limit in force ---------------------------------------------------------------------
    def _facts(self, starting: Transaction | None = None) -> Facts:
        connectors: dict[int, ConnectorFacts] = {}
        station_v = 0.0
        station_phases = 1
        total = 0.0
        for c in self.ctx.cp:
            hw = self.ctx.hw(c.connector_id)
            rating = hw.rating
            if rating.phases == 0:
                # DC: a limit in amps is the EV's current at the EV's present voltage.
                voltage = hw.read_meter().voltage_v or rating.voltage_v
                phases = 1
            else:
                voltage, phases = rating.voltage_v, rating.phases
            tx = c.transaction
            if starting is not None and starting.connector_id == c.connector_id:
                tx = starting
            connectors[c.connector_id] = ConnectorFacts(
                Electrical(voltage, phases, rating.max_power_w),
                seconds(tx.start_time) if tx is not None else None,
            )
            station_v = station_v or rating.voltage_v
            station_phases = max(station_phases, rating.phases)
            total += rating.max_power_w
        return Facts(connectors, Electrical(station_v or 1.0, station_phases, total))

    def apply(self, starting: Transaction | None = None, *, drift: float = 0.0) -> None:
        """Set each connector's limit in force now, and wait for the next boundary. `drift`:
        a relative change of a limit this small is left alone (the EV's voltage moving an
        amps limit's watts by a hair is not worth a new charge plan)."""
        self._cancel_timer()
        ctx = self.ctx
        if not self._profiles and not any(v is not None for v in self._limits.values()):
            self._limits.clear()
            return
        now = seconds(ctx.clock.now())
        facts = self._facts(starting)
        book = self._book
        own = {cid: in_force(book, cid, now, facts) for cid in facts.connectors}
        cap = cp_max_limit(book, now, facts)
        charging = [cid for cid, f in facts.connectors.items() if f.tx_start is not None]
        wants: dict[int, float] = {}
        for cid in charging:
            mine = own[cid]
            wants[cid] = mine if mine is not None else facts.connectors[cid].electrical.max_power_w
        shares = share(wants, cap)
        for c in ctx.cp:
            cid = c.connector_id
            limit: float | None
            if cid in shares:
                limit = shares[cid] if own[cid] is not None or cap is not None else None
            else:
                mine = own[cid]
                limit = mine if cap is None else (cap if mine is None else min(mine, cap))
            if limit is not None:
                limit = round(limit, 1)
            old = self._limits.get(cid)
            if limit == old or (drift and limit and old and abs(limit - old) <= drift * old):
                continue
            self._limits[cid] = limit
            ctx.hw(cid).set_power_limit(limit)
            log.info(
                "connector %d: limit in force %s", cid, "none" if limit is None else f"{limit:g} W"
            )
            if (old == 0) != (limit == 0) and (starting is None or starting.connector_id != cid):
                ctx.status.update(c)  # SuspendedEVSE comes or goes with a limit of 0
        at = next_change(book, now, facts)
        if at is not None:
            # A hair after the boundary: the whole second it starts is then past.
            delay = max(0.0, at - ctx.clock.now().timestamp()) + 0.01
            self._timer = ctx.clock.call_later(delay, self._boundary)

    def _boundary(self) -> None:
        self._timer = None
        self.apply()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- transactions ------------------------------------------------------------------------
    def _started(self, tx: Transaction, reading: MeterReading) -> None:
        pending = self._pending.get(tx.id_tag)
        if pending is not None and pending[0] in (None, tx.connector_id):
            del self._pending[tx.id_tag]
            try:
                profile = ChargingProfile.from_request(
                    tx.connector_id, pending[1], seconds(self.ctx.clock.now())
                )
            except Refused as exc:  # checked at the request; the keys may have changed since
                log.info("remote start profile dropped: %s", exc)
            else:
                self._store(profile)
                log.info(
                    "charging profile %d of the remote start is the TxProfile of connector %d",
                    profile.profile_id,
                    tx.connector_id,
                )
        # The limit is set before the contactor closes: no burst at full power.
        self.apply(starting=tx)

    def _ended(self, c: Connector, tx: Transaction, reason: str) -> None:
        mine = [
            p
            for p in self._profiles.values()
            if p.purpose == TX and p.connector_id == c.connector_id
        ]
        self._remove(mine, f"the transaction on connector {c.connector_id} ended")
        self.apply()

    def _sampled(self, c: Connector, reading: MeterReading) -> None:
        if any(p.unit == AMPS for p in self._profiles.values()):
            # The EV's voltage moved: the same amps are other watts.
            self.apply(drift=VOLTAGE_DRIFT)
