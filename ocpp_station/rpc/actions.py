"""The OCPP 1.6 actions, by direction and feature profile.

Profiles as in OCPP 1.6 §3 (Feature Profiles), plus the messages the Security Whitepaper
(Edition 3) adds to 1.6-J. An action outside ALL_ACTIONS is answered with NotImplemented;
a 1.6 action that a side has no handler for is answered with NotSupported (OCPP-J §4.2.3).
"""

from __future__ import annotations

CORE = "Core"
FIRMWARE_MANAGEMENT = "FirmwareManagement"
LOCAL_AUTH_LIST_MANAGEMENT = "LocalAuthListManagement"
RESERVATION = "Reservation"
SMART_CHARGING = "SmartCharging"
REMOTE_TRIGGER = "RemoteTrigger"
SECURITY = "Security"

PROFILES: tuple[str, ...] = (
    CORE,
    FIRMWARE_MANAGEMENT,
    LOCAL_AUTH_LIST_MANAGEMENT,
    RESERVATION,
    SMART_CHARGING,
    REMOTE_TRIGGER,
    SECURITY,
)

CP_TO_CS: dict[str, str] = {
    # Core
    "Authorize": CORE,
    "BootNotification": CORE,
    "DataTransfer": CORE,
    "Heartbeat": CORE,
    "MeterValues": CORE,
    "StartTransaction": CORE,
    "StatusNotification": CORE,
    "StopTransaction": CORE,
    # Firmware Management
    "DiagnosticsStatusNotification": FIRMWARE_MANAGEMENT,
    "FirmwareStatusNotification": FIRMWARE_MANAGEMENT,
    # Security Whitepaper
    "LogStatusNotification": SECURITY,
    "SecurityEventNotification": SECURITY,
    "SignCertificate": SECURITY,
    "SignedFirmwareStatusNotification": SECURITY,
}
"""Actions a charge point sends to the central system, with their profile."""

CS_TO_CP: dict[str, str] = {
    # Core
    "ChangeAvailability": CORE,
    "ChangeConfiguration": CORE,
    "ClearCache": CORE,
    "DataTransfer": CORE,
    "GetConfiguration": CORE,
    "RemoteStartTransaction": CORE,
    "RemoteStopTransaction": CORE,
    "Reset": CORE,
    "UnlockConnector": CORE,
    # Firmware Management
    "GetDiagnostics": FIRMWARE_MANAGEMENT,
    "UpdateFirmware": FIRMWARE_MANAGEMENT,
    # Local Auth List Management
    "GetLocalListVersion": LOCAL_AUTH_LIST_MANAGEMENT,
    "SendLocalList": LOCAL_AUTH_LIST_MANAGEMENT,
    # Reservation
    "CancelReservation": RESERVATION,
    "ReserveNow": RESERVATION,
    # Smart Charging
    "ClearChargingProfile": SMART_CHARGING,
    "GetCompositeSchedule": SMART_CHARGING,
    "SetChargingProfile": SMART_CHARGING,
    # Remote Trigger
    "TriggerMessage": REMOTE_TRIGGER,
    # Security Whitepaper
    "CertificateSigned": SECURITY,
    "DeleteCertificate": SECURITY,
    "ExtendedTriggerMessage": SECURITY,
    "GetInstalledCertificateIds": SECURITY,
    "GetLog": SECURITY,
    "InstallCertificate": SECURITY,
    "SignedUpdateFirmware": SECURITY,
}
"""Actions a central system sends to a charge point, with their profile."""

CP_TO_CS_ACTIONS: frozenset[str] = frozenset(CP_TO_CS)
CS_TO_CP_ACTIONS: frozenset[str] = frozenset(CS_TO_CP)
ALL_ACTIONS: frozenset[str] = CP_TO_CS_ACTIONS | CS_TO_CP_ACTIONS
"""Every OCPP 1.6 action (DataTransfer goes both ways)."""

PROFILE_ACTIONS: dict[str, frozenset[str]] = {
    profile: frozenset(
        action for table in (CP_TO_CS, CS_TO_CP) for action, p in table.items() if p == profile
    )
    for profile in PROFILES
}
"""The actions of each feature profile, both directions."""
