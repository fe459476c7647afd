"""What the central system's API makes of a request to limit a station (Smart Charging, §5.16):
either a SetChargingProfile payload given outright, or a short form the API expands.

The short form, for a person at a console: `{"connectorId", "limit"}` or `{"connectorId",
"periods": [[startPeriod, limit], ...]}`, with optional `"unit"` (A or W, default A),
`"purpose"` (default TxDefaultProfile; ChargePointMaxProfile on connector 0), `"stackLevel"`
(0), `"chargingProfileId"` (one more than the last the API made), `"duration"` (seconds),
`"transactionId"` (a TxProfile's) and `"numberPhases"`. It becomes an Absolute profile that
starts now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp_station.timefmt import iso

SHORT_FIELDS = frozenset(
    {
        "connectorId",
        "limit",
        "periods",
        "unit",
        "purpose",
        "stackLevel",
        "chargingProfileId",
        "duration",
        "transactionId",
        "numberPhases",
    }
)


class ProfileRequestError(ValueError):
    """The body cannot be made into a SetChargingProfile (a 422, with this sentence)."""


def set_charging_profile(body: dict[str, Any], now: datetime, next_id: int) -> dict[str, Any]:
    """The SetChargingProfile.req payload of an API body (see the module)."""
    if "csChargingProfiles" in body:
        unknown = set(body) - {"connectorId", "csChargingProfiles"}
        if unknown:
            raise ProfileRequestError(f"unknown fields: {', '.join(sorted(unknown))}")
        return dict(body)
    unknown = set(body) - SHORT_FIELDS
    if unknown:
        raise ProfileRequestError(f"unknown fields: {', '.join(sorted(unknown))}")
    if ("limit" in body) == ("periods" in body):
        raise ProfileRequestError('give either "limit" or "periods" (or "csChargingProfiles")')
    phases = body.get("numberPhases")
    periods = [[0, body["limit"]]] if "limit" in body else body["periods"]
    if not isinstance(periods, list) or not all(
        isinstance(p, list) and len(p) == 2 for p in periods
    ):
        raise ProfileRequestError("periods must be a list of [startPeriod, limit] pairs")
    connector_id = body.get("connectorId")
    purpose = body.get("purpose") or (
        "ChargePointMaxProfile" if connector_id == 0 else "TxDefaultProfile"
    )
    schedule: dict[str, Any] = {
        "startSchedule": iso(now),
        "chargingRateUnit": body.get("unit", "A"),
        "chargingSchedulePeriod": [
            {"startPeriod": start, "limit": limit, **({"numberPhases": phases} if phases else {})}
            for start, limit in periods
        ],
    }
    if "duration" in body:
        schedule["duration"] = body["duration"]
    profile: dict[str, Any] = {
        "chargingProfileId": body.get("chargingProfileId", next_id),
        "stackLevel": body.get("stackLevel", 0),
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": schedule,
    }
    if "transactionId" in body:
        profile["transactionId"] = body["transactionId"]
    return {"connectorId": connector_id, "csChargingProfiles": profile}


def composite_query(query: dict[str, str]) -> dict[str, Any]:
    """GetCompositeSchedule.req from `?connectorId=&duration=&unit=` (duration default 3600)."""
    unknown = set(query) - {"connectorId", "duration", "unit"}
    if unknown:
        raise ProfileRequestError(f"unknown parameters: {', '.join(sorted(unknown))}")
    try:
        payload: dict[str, Any] = {
            "connectorId": int(query["connectorId"]),
            "duration": int(query.get("duration", "3600")),
        }
    except KeyError:
        raise ProfileRequestError("connectorId is required") from None
    except ValueError:
        raise ProfileRequestError("connectorId and duration must be whole numbers") from None
    if "unit" in query:
        payload["chargingRateUnit"] = query["unit"]
    return payload
