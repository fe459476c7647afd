"""The embedded central system: a real OCPP 1.6J server with a scripting API for tests."""

from ocpp_station.csms.answers import DefaultAnswers
from ocpp_station.csms.records import StationRecord, Transaction
from ocpp_station.csms.server import CentralSystem
from ocpp_station.csms.session import (
    NO_ANSWER,
    ExpectationFailed,
    Received,
    StationSession,
)
from ocpp_station.csms.store import (
    CsmsStore,
    CsmsStoreError,
    StoredMeterValue,
    StoredSession,
    StoredStation,
    StoredStatus,
)
from ocpp_station.csms.tags import TagInfo
from ocpp_station.rpc.ocppj import identity_from_path

__all__ = [
    "NO_ANSWER",
    "CentralSystem",
    "CsmsStore",
    "CsmsStoreError",
    "DefaultAnswers",
    "ExpectationFailed",
    "Received",
    "StationRecord",
    "StationSession",
    "StoredMeterValue",
    "StoredSession",
    "StoredStation",
    "StoredStatus",
    "TagInfo",
    "Transaction",
    "identity_from_path",
]
