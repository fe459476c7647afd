"""The security extensions' configuration keys (whitepaper edition 3, §7). AuthorizationKey is
a Core key (station.config_keys): `--password` stores it on every station."""

from __future__ import annotations

from ocpp_station.station.config_keys import SECURITY, KeyDef

# Roots the store holds at most (CertificateStoreMaxLength, M05.FR.03): both root types and
# any fallback together.
STORE_MAX_LENGTH = 20
# CertificateSigned.req's certificateChain is string[0..10000] (whitepaper §5.1).
CHAIN_MAX_SIZE = 10000

KEYS = (
    # 0 (no profile) until configured; only goes up over OCPP (A05.FR.01). Its prerequisites
    # are checked by the security service (a guard on the key), the switch made by the link.
    KeyDef("SecurityProfile", "int", False, "0", SECURITY, minimum=0, maximum=3),
    # The O of the CSR (A02.FR.13); unset until the operator names the CPO.
    KeyDef("CpoName", "string", False, "", SECURITY),
    KeyDef(
        "CertificateSignedMaxChainSize",
        "int",
        True,
        str(CHAIN_MAX_SIZE),
        SECURITY,
        minimum=1,
        maximum=CHAIN_MAX_SIZE,
    ),
    KeyDef("CertificateStoreMaxLength", "int", True, str(STORE_MAX_LENGTH), SECURITY, minimum=1),
    # false: roots are added beside each other. An integrator sets it true (set_fixed) for the
    # single-root rule of M05.FR.08-13.
    KeyDef("AdditionalRootCertificateCheck", "bool", True, "false", SECURITY),
)
