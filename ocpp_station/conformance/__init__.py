"""The conformance tool: OCTT-style charge-point test cases run against a station, and a report
shaped like a certificate's abstract.

A case is a script of steps (case.py, steps.py); targets are our own station or any station that
connects (target.py); physical steps go through a driver (drivers.py); runner.py runs the cases
and report.py renders the results; cli.py is `ocpp-station conformance`.
"""

from ocpp_station.conformance.case import (
    LIBRARY,
    Case,
    CaseFailed,
    Library,
    NotApplicable,
    Requirement,
    ToolError,
    Verdict,
    case,
    load_library,
)
from ocpp_station.conformance.report import Results
from ocpp_station.conformance.runner import Runner
from ocpp_station.conformance.settings import Settings, TagSet
from ocpp_station.conformance.steps import Expected, Facts, Run, one_of
from ocpp_station.conformance.target import ExternalStation, OwnStation

__all__ = [
    "LIBRARY",
    "Case",
    "CaseFailed",
    "Expected",
    "ExternalStation",
    "Facts",
    "Library",
    "NotApplicable",
    "OwnStation",
    "Requirement",
    "Results",
    "Run",
    "Runner",
    "Settings",
    "TagSet",
    "ToolError",
    "Verdict",
    "case",
    "load_library",
    "one_of",
]
