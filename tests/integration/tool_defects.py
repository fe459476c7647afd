"""Defects made to order: each a Tamper for the fault proxy that turns our (correct) station
into one with a known deviation, and names the cases of the conformance tool that must fail it.

The tool is judged the way mutation testing judges tests: a defect the tool passes is a hole in
the tool. Every profile adds the defects of its own cases here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from ocpp_station import timefmt
from ocpp_station.csms.faults import Relay

CALL, RESULT = 2, 3
ENERGY = "Energy.Active.Import.Register"


@dataclass
class Defect:
    """Passes everything on unchanged; subclasses rewrite. Keeps which CALL each answer is for,
    both ways, so that a rewrite can pick answers by the request's action."""

    name: ClassVar[str] = "none"
    cases: ClassVar[tuple[str, ...]] = ()
    """The cases that must Fail a station with this defect."""
    unaffected: ClassVar[tuple[str, ...]] = ()
    """Cases the defect must not spoil: they still Pass (not N/A, not Fail)."""
    injected: int = 0
    """How many times the defect was applied (a defect never applied proves nothing)."""
    station_calls: dict[str, list[Any]] = field(default_factory=dict)
    csms_calls: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Where a subclass sets up its own state (the dataclass __init__ calls it)."""

    async def upward(self, relay: Relay, message: list[Any]) -> list[Any] | None:
        if message[0] == CALL and len(message) == 4:
            self.station_calls[message[1]] = message
            return await self.station_call(relay, message[2], message)
        if message[0] == RESULT and message[1] in self.csms_calls:
            request = self.csms_calls.pop(message[1])
            return await self.station_answer(relay, request, message)
        return message

    async def downward(self, relay: Relay, message: list[Any]) -> list[Any] | None:
        if message[0] == CALL and len(message) == 4:
            self.csms_calls[message[1]] = message
            return message
        if message[0] == RESULT and message[1] in self.station_calls:
            request = self.station_calls.pop(message[1])
            return await self.csms_answer(relay, request, message)
        return message

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        return message

    async def drop(self, relay: Relay, message: list[Any]) -> None:
        """The station's CALL never reaches the central system: the defect (counted) answers
        it in its place, so that the station does not send it again."""
        self.injected += 1
        await relay.send_station([RESULT, message[1], {}])

    async def station_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        return answer

    async def csms_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        return answer


class AcceptsWhatItRefused(Defect):
    """The station's refusal of `action` (a status in `refusals`) goes out as Accepted."""

    action: ClassVar[str] = ""
    refusals: ClassVar[frozenset[str]] = frozenset({"Rejected"})

    async def station_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        if request[2] == self.action and answer[2].get("status") in self.refusals:
            self.injected += 1
            return [RESULT, answer[1], {"status": "Accepted"}]
        return answer


class NoConnectorZeroStatus(Defect):
    """The station never reports connector 0 (the whole station) after booting ([E] 3.22
    requires a status for every connector, 0 included)."""

    name = "no connector-0 status"
    # TC_013 fails it too, after its 90 s wait for the statuses of a reboot: one case suffices.
    cases = ("TC_001_CS",)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "StatusNotification" and message[3].get("connectorId") == 0:
            await self.drop(relay, message)
            return None
        return message


class DuplicateStop(Defect):
    """Every StopTransaction reaches the central system twice (a second message id)."""

    name = "StopTransaction twice"
    cases = ("TC_012_CS", "TC_068_CS")

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "StopTransaction":
            self.injected += 1
            copy = [CALL, f"{message[1]}-again", action, message[3]]
            self.station_calls[copy[1]] = copy
            await relay.send_csms(message)
            await relay.send_csms(copy)
            return None
        return message

    async def csms_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        return None if str(request[1]).endswith("-again") else answer


class AcceptsRemoteStartWhenBusy(AcceptsWhatItRefused):
    """A RemoteStartTransaction the station rejects (its connector is busy) is answered
    Accepted ([S] 5.11: it must be Rejected)."""

    name = "RemoteStart Accepted on a busy connector"
    cases = ("TC_026_CS",)
    action = "RemoteStartTransaction"


class StartsBeforeThePlug(Defect):
    """The station sends StartTransaction as soon as it is authorized (a remote start it
    accepted, or a card the central system accepted), before any cable is plugged; its own
    StartTransaction later is answered by the proxy with what the central system gave the
    early one ([S] 3.6: the transaction starts when the EV is connected and authorized)."""

    name = "StartTransaction before the plug"
    cases = ("TC_004_1_CS", "TC_011_1_CS")
    _ids: ClassVar[itertools.count[int]] = itertools.count(1)

    def __post_init__(self) -> None:
        self.statuses: dict[int, str] = {}
        self.early: dict[int, dict[str, Any] | None] = {}  # connector -> the CSMS's answer

    def _idle(self, connector_id: int) -> bool:
        return self.statuses.get(connector_id, "Available") == "Available"

    async def _start_early(self, relay: Relay, connector_id: int, id_tag: str) -> None:
        if connector_id in self.early or not self._idle(connector_id):
            return
        self.injected += 1
        self.early[connector_id] = None
        payload = {
            "connectorId": connector_id,
            "idTag": id_tag,
            "meterStart": 0,
            "timestamp": timefmt.iso(datetime.now(UTC)),
        }
        message = [CALL, f"early-{next(self._ids)}", "StartTransaction", payload]
        self.station_calls[message[1]] = message
        await relay.send_csms(message)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        payload = message[3]
        if action == "StatusNotification":
            self.statuses[payload.get("connectorId", 0)] = payload.get("status", "")
        if action == "StartTransaction":
            answer = self.early.pop(payload.get("connectorId"), None)
            if answer is not None:
                self.station_calls.pop(message[1], None)
                await relay.send_station([RESULT, message[1], answer])
                return None
        return message

    async def station_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        if request[2] == "RemoteStartTransaction" and answer[2].get("status") == "Accepted":
            await self._start_early(relay, request[3].get("connectorId", 1), request[3]["idTag"])
        return answer

    async def csms_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        if str(request[1]).startswith("early-"):
            self.early[request[3]["connectorId"]] = answer[2]
            return None
        accepted = answer[2].get("idTagInfo", {}).get("status") == "Accepted"
        if request[2] == "Authorize" and accepted and self._idle(1):
            await self._start_early(relay, 1, request[3]["idTag"])
        return answer


class MissingRequiredKey(Defect):
    """GetConfiguration never reports ConnectionTimeOut, a required Core key ([S] 9.1.6)."""

    name = "a required key missing from GetConfiguration"
    cases = ("TC_019_CS",)
    # A case that sets the key still runs and passes: the missing key is reported once, by the
    # configuration case, instead of turning the cases that use it N/A.
    unaffected = ("TC_004_2_CS",)
    key = "ConnectionTimeOut"

    async def station_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        if request[2] != "GetConfiguration":
            return answer
        keys = answer[2].get("configurationKey", [])
        kept = [k for k in keys if k.get("key") != self.key]
        if len(kept) == len(keys):
            return answer
        self.injected += 1
        payload = dict(answer[2], configurationKey=kept)
        if self.key in request[3].get("key", []):
            payload["unknownKey"] = [*payload.get("unknownKey", []), self.key]
        return [RESULT, answer[1], payload]


class LowerMeterValue(Defect):
    """The second sampled MeterValues of each transaction reports an energy register 1 kWh
    lower than the first: a register that runs backwards."""

    name = "a meter value lower than the one before"
    cases = ("TC_070_CS",)

    def __post_init__(self) -> None:
        self.seen: dict[int, int] = {}

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        payload = message[3]
        if action != "MeterValues" or "transactionId" not in payload:
            return message
        count = self.seen[payload["transactionId"]] = self.seen.get(payload["transactionId"], 0) + 1
        if count != 2:
            return message
        for meter_value in payload["meterValue"]:
            for value in meter_value["sampledValue"]:
                if value.get("measurand", ENERGY) == ENERGY:
                    value["value"] = str(round(float(value["value"])) - 1000)
                    self.injected += 1
        return message


class ReorderedQueue(Defect):
    """Transaction-bound MeterValues are held back and delivered after the StopTransaction
    ([S] 4.7: queued transaction messages go out in the order they were generated)."""

    name = "queued transaction messages reordered"
    cases = ("TC_039_CS",)

    def __post_init__(self) -> None:
        self.held: list[list[Any]] = []

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "MeterValues" and "transactionId" in message[3]:
            self.held.append(message)
            await relay.send_station([RESULT, message[1], {}])
            return None
        if action == "StopTransaction" and self.held:
            self.injected += 1
            await relay.send_csms(message)
            for held in self.held:
                await relay.send_csms(held)
            self.held.clear()
            return None
        return message

    async def csms_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        # The station already had its answers to the held MeterValues.
        return None if request[2] == "MeterValues" else answer


class TriggerAnsweredLate(Defect):
    """The triggered message goes before the answer to TriggerMessage ([S] 5.17: the answer
    SHALL go first): the answer is held until the station's next CALL has gone."""

    name = "triggered message before the TriggerMessage answer"
    cases = ("TC_054_CS",)

    def __post_init__(self) -> None:
        self.held: list[Any] | None = None

    async def station_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        if request[2] == "TriggerMessage" and answer[2].get("status") == "Accepted":
            self.held = answer
            return None
        return answer

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if self.held is not None:
            held, self.held = self.held, None
            self.injected += 1
            await relay.send_csms(message)
            await relay.send_csms(held)
            return None
        return message


class TriggerContextWrong(Defect):
    """Triggered meter values say Sample.Periodic ([E] 3.46, [S] 7.31: context Trigger)."""

    name = "triggered meter values without context Trigger"
    cases = ("TC_054_CS",)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "MeterValues":
            for meter_value in message[3]["meterValue"]:
                for value in meter_value["sampledValue"]:
                    if value.get("context") == "Trigger":
                        value["context"] = "Sample.Periodic"
                        self.injected += 1
        return message


class TriggerAcceptsAbsentConnector(AcceptsWhatItRefused):
    """TriggerMessage for a connector the station lacks is Accepted (TC_055: Rejected)."""

    name = "TriggerMessage Accepted for an absent connector"
    cases = ("TC_055_CS",)
    action = "TriggerMessage"


class StartWithoutReservationId(Defect):
    """StartTransaction leaves out the reservationId of the reservation it uses ([S] 5.13)."""

    name = "StartTransaction without the reservationId"
    cases = ("TC_046_1_CS", "TC_053_2_CS")

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "StartTransaction" and "reservationId" in message[3]:
            del message[3]["reservationId"]
            self.injected += 1
        return message


class NoReservedStatus(Defect):
    """A reserved connector is never reported Reserved."""

    name = "no StatusNotification Reserved"
    cases = ("TC_046_2_CS", "TC_049_CS")

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "StatusNotification" and message[3].get("status") == "Reserved":
            await self.drop(relay, message)
            return None
        return message


class SilentExpiry(Defect):
    """An expired reservation frees its connector without a StatusNotification (the recurring
    simulator bug of profile notes): Available is reported only after a CancelReservation."""

    name = "no StatusNotification Available at expiry"
    cases = ("TC_047_CS",)
    unaffected = ("TC_051_CS",)

    def __post_init__(self) -> None:
        self.reserved: set[int] = set()
        self.cancelled = False

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action != "StatusNotification":
            return message
        connector_id, status = message[3].get("connectorId"), message[3].get("status")
        if status == "Reserved":
            self.reserved.add(connector_id)
        elif status == "Available" and connector_id in self.reserved:
            self.reserved.discard(connector_id)
            if not self.cancelled:
                await self.drop(relay, message)
                return None
        self.cancelled = False
        return message

    async def station_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        if request[2] == "CancelReservation" and answer[2].get("status") == "Accepted":
            self.cancelled = True
        return answer


class ReservesAnotherConnector(Defect):
    """ReserveNow for connector 1 reserves connector 2."""

    name = "the reservation lands on another connector"
    cases = ("TC_046_1_CS", "TC_051_CS")

    async def downward(self, relay: Relay, message: list[Any]) -> list[Any] | None:
        if message[0] == CALL and message[2] == "ReserveNow" and message[3]["connectorId"] == 1:
            message[3]["connectorId"] = 2
            self.injected += 1
        return await super().downward(relay, message)


class ParentIgnored(Defect):
    """The reservation's parentIdTag is dropped: only the reserved idTag itself may use it,
    not another card of its group ([S] 5.13)."""

    name = "the reservation's parentIdTag ignored"
    cases = ("TC_053_1_CS", "TC_053_2_CS")
    unaffected = ("TC_046_1_CS",)

    async def downward(self, relay: Relay, message: list[Any]) -> list[Any] | None:
        if message[0] == CALL and message[2] == "ReserveNow" and "parentIdTag" in message[3]:
            del message[3]["parentIdTag"]
            self.injected += 1
        return await super().downward(relay, message)


class ReservesWhateverTheState(AcceptsWhatItRefused):
    """ReserveNow is Accepted whatever the connector's state (Occupied, Unavailable...)."""

    name = "ReserveNow Accepted for a busy or unavailable connector"
    cases = ("TC_048_2_CS", "TC_048_3_CS", "TC_050_3_CS")
    action = "ReserveNow"
    # §6.38 ReservationStatus, all but Accepted.
    refusals = frozenset({"Faulted", "Occupied", "Rejected", "Unavailable"})


class CancelsAnything(AcceptsWhatItRefused):
    """CancelReservation is Accepted for an id the station does not hold ([S] 5.1)."""

    name = "CancelReservation Accepted for an unknown reservation"
    cases = ("TC_051_CS", "TC_052_CS")
    action = "CancelReservation"


class CompositeAnswer(Defect):
    """Rewrites the chargingSchedule of the station's GetCompositeSchedule answers."""

    def rewrite(self, schedule: dict[str, Any]) -> bool:
        """Change the schedule in place; True when something changed."""
        return False

    async def station_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        schedule = answer[2].get("chargingSchedule")
        if request[2] == "GetCompositeSchedule" and schedule and self.rewrite(schedule):
            self.injected += 1
        return answer


class UnmergedComposite(CompositeAnswer):
    """The composite repeats a limit instead of merging equal neighbours: every period after
    the first is split in two (MicroOcpp #360: the tool counts the periods)."""

    name = "composite periods not merged"
    cases = ("TC_066_CS", "TC_072_CS")
    unaffected = ("TC_056_CS",)

    def rewrite(self, schedule: dict[str, Any]) -> bool:
        periods = schedule["chargingSchedulePeriod"]
        if len(periods) < 2:
            return False
        split = [periods[0]]
        for p in periods[1:]:
            split += [p, {**p, "startPeriod": p["startPeriod"] + 5}]
        schedule["chargingSchedulePeriod"] = split
        return True


class CompositeWithStartSchedule(CompositeAnswer):
    """The composite's chargingSchedule carries a startSchedule ([E] 3.57: must be omitted)."""

    name = "composite with a startSchedule"
    cases = ("TC_056_CS", "TC_072_CS")

    def rewrite(self, schedule: dict[str, Any]) -> bool:
        schedule["startSchedule"] = timefmt.iso(datetime.now(UTC))
        return True


class TxProfileWithoutItsTransaction(AcceptsWhatItRefused):
    """A TxProfile for a connector without its transaction is Accepted (§3.13.1: discard it,
    with an error status)."""

    name = "TxProfile Accepted without its transaction"
    cases = ("TC_058_1_CS", "TC_058_2_CS")
    action = "SetChargingProfile"


class ClearsAnything(AcceptsWhatItRefused):
    """ClearChargingProfile is Accepted when nothing matches ([S] 5.5: Unknown)."""

    name = "ClearChargingProfile Accepted when nothing matches"
    cases = ("TC_067_CS", "TC_058_1_CS")
    action = "ClearChargingProfile"
    refusals = frozenset({"Unknown"})


class PowerIgnoresTheLimit(Defect):
    """The profile is Accepted and the composite right, but the power stays what it was: the
    measured current is three times the limit (users' first complaint about simulators)."""

    name = "the power does not follow the limit"
    cases = ("TC_056_CS", "TC_082_CS")
    unaffected = ("TC_066_CS",)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "MeterValues":
            for element in message[3].get("meterValue", []):
                for sampled in element.get("sampledValue", []):
                    if sampled.get("measurand") == "Current.Import":
                        sampled["value"] = f"{float(sampled['value']) * 3 + 20:.1f}"
                        self.injected += 1
        return message


class RemoteStartProfileIgnored(Defect):
    """The chargingProfile of a RemoteStartTransaction never reaches the profile store: the
    session charges without it, and a profile of the wrong purpose is not refused."""

    name = "RemoteStart's chargingProfile ignored"
    cases = ("TC_059_CS", "TC_060_CS")

    async def downward(self, relay: Relay, message: list[Any]) -> list[Any] | None:
        if message[0] == CALL and message[2] == "RemoteStartTransaction":
            if message[3].pop("chargingProfile", None) is not None:
                self.injected += 1
        return await super().downward(relay, message)


class DurationIgnored(Defect):
    """A schedule's duration is ignored: a higher stack level never falls through to the lower
    one (§3.13.2), nor a TxProfile to the default."""

    name = "schedule duration ignored"
    cases = ("TC_066_CS", "TC_072_CS")
    unaffected = ("TC_056_CS",)

    async def downward(self, relay: Relay, message: list[Any]) -> list[Any] | None:
        if message[0] == CALL and message[2] == "SetChargingProfile":
            schedule = message[3]["csChargingProfiles"]["chargingSchedule"]
            if schedule.pop("duration", None) is not None:
                self.injected += 1
        return await super().downward(relay, message)


class SkipsDownloaded(Defect):
    """FirmwareStatusNotification Downloaded never reaches the central system (§4.5: every
    status is reported)."""

    name = "no Downloaded"
    cases = ("TC_044_1_CS", "TC_044_3_CS")
    unaffected = ("TC_044_2_CS",)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "FirmwareStatusNotification" and message[3].get("status") == "Downloaded":
            await self.drop(relay, message)
            return None
        return message


class OldVersionAfterUpdate(Defect):
    """After the update the BootNotification still reports the old firmwareVersion."""

    name = "the old firmwareVersion after an update"
    cases = ("TC_044_1_CS",)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "BootNotification" and message[3].get("firmwareVersion") == "9.9.9":
            message[3]["firmwareVersion"] = "1.0.0"
            self.injected += 1
        return message


class NoFileName(Defect):
    """GetDiagnostics.conf without the fileName of the file it will upload."""

    name = "GetDiagnostics.conf without fileName"
    cases = ("TC_045_1_CS",)
    unaffected = ("TC_045_2_CS",)

    async def station_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        if request[2] == "GetDiagnostics" and answer[2].pop("fileName", None) is not None:
            self.injected += 1
        return answer


class ClaimsUploaded(Defect):
    """The station reports Uploaded although nothing arrived: its uploads go nowhere."""

    name = "Uploaded without an upload"
    cases = ("TC_045_1_CS", "TC_045_2_CS")

    async def downward(self, relay: Relay, message: list[Any]) -> list[Any] | None:
        if message[0] == CALL and message[2] == "GetDiagnostics":
            message[3]["location"] = "http://127.0.0.1:9/nowhere/"
        return await super().downward(relay, message)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "DiagnosticsStatusNotification" and message[3].get("status") == "UploadFailed":
            message[3]["status"] = "Uploaded"
            self.injected += 1
        return message


class WrongHashData(Defect):
    """GetInstalledCertificateIds lists each certificate with a serialNumber off by one: hash
    data that names no installed certificate (whitepaper §6.1)."""

    name = "wrong CertificateHashData"
    cases = ("TC_075_1_CS", "TC_075_2_CS")

    async def station_answer(
        self, relay: Relay, request: list[Any], answer: list[Any]
    ) -> list[Any] | None:
        if request[2] == "GetInstalledCertificateIds":
            for data in answer[2].get("certificateHashData") or []:
                data["serialNumber"] = format(int(data["serialNumber"], 16) + 1, "x")
                self.injected += 1
        return answer


class AcceptsADowngrade(AcceptsWhatItRefused):
    """SecurityProfile lower than the current one is Accepted (whitepaper A05.FR.01)."""

    name = "SecurityProfile downgrade Accepted"
    cases = ("TC_084_CS",)
    action = "ChangeConfiguration"


class CsrWithoutCpoName(Defect):
    """The CSR of SignCertificate names another organisation than CpoName (A02.FR.13)."""

    name = "CSR without CpoName"
    cases = ("TC_074_CS",)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "SignCertificate":
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.x509.oid import NameOID

            key = ec.generate_private_key(ec.SECP256R1())
            subject = x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Some Other Company"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "OS-DC-000001"),
                ]
            )
            csr = (
                x509.CertificateSigningRequestBuilder()
                .subject_name(subject)
                .sign(key, hashes.SHA256())
            )
            message[3]["csr"] = csr.public_bytes(serialization.Encoding.PEM).decode()
            self.injected += 1
        return message


class TakesAnyCertificate(AcceptsWhatItRefused):
    """CertificateSigned is Accepted whatever the chain (A02.FR.06)."""

    name = "CertificateSigned Accepted for another key"
    cases = ("TC_077_CS",)
    action = "CertificateSigned"


class SilentCertificateEvent(Defect):
    """The InvalidChargePointCertificate security event never reaches the central system."""

    name = "no InvalidChargePointCertificate event"
    cases = ("TC_077_CS",)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "SecurityEventNotification" and message[3].get("type") == (
            "InvalidChargePointCertificate"
        ):
            await self.drop(relay, message)
            return None
        return message


class DeletesAnything(AcceptsWhatItRefused):
    """DeleteCertificate is Accepted for a certificate the station does not hold (M04.FR.04)."""

    name = "DeleteCertificate Accepted when nothing matches"
    cases = ("TC_076_CS",)
    action = "DeleteCertificate"
    refusals = frozenset({"NotFound"})


class LogStatusWithoutItsRequest(Defect):
    """LogStatusNotification carries another requestId than its GetLog's (whitepaper §5.13)."""

    name = "LogStatusNotification with another requestId"
    cases = ("TC_079_CS",)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "LogStatusNotification" and "requestId" in message[3]:
            message[3]["requestId"] += 1
            self.injected += 1
        return message


class IgnoresTheSignature(Defect):
    """A firmware image whose signature is wrong is reported SignatureVerified (L01.FR.03)."""

    name = "a bad firmware signature passes"
    cases = ("TC_081_CS",)
    unaffected = ("TC_080_CS",)

    async def station_call(self, relay: Relay, action: str, message: list[Any]) -> list[Any] | None:
        if action == "SignedFirmwareStatusNotification" and message[3].get("status") == (
            "InvalidSignature"
        ):
            message[3]["status"] = "SignatureVerified"
            self.injected += 1
        return message


DEFECTS: tuple[type[Defect], ...] = (
    NoConnectorZeroStatus,
    DuplicateStop,
    AcceptsRemoteStartWhenBusy,
    StartsBeforeThePlug,
    MissingRequiredKey,
    LowerMeterValue,
    ReorderedQueue,
    TriggerAnsweredLate,
    TriggerContextWrong,
    TriggerAcceptsAbsentConnector,
    StartWithoutReservationId,
    NoReservedStatus,
    SilentExpiry,
    ReservesAnotherConnector,
    ParentIgnored,
    ReservesWhateverTheState,
    CancelsAnything,
    UnmergedComposite,
    CompositeWithStartSchedule,
    TxProfileWithoutItsTransaction,
    ClearsAnything,
    PowerIgnoresTheLimit,
    RemoteStartProfileIgnored,
    DurationIgnored,
    SkipsDownloaded,
    OldVersionAfterUpdate,
    NoFileName,
    ClaimsUploaded,
    WrongHashData,
    AcceptsADowngrade,
    CsrWithoutCpoName,
    TakesAnyCertificate,
    SilentCertificateEvent,
    DeletesAnything,
    LogStatusWithoutItsRequest,
    IgnoresTheSignature,
)
