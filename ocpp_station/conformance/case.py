"""Test cases: what one is (Case), how a module declares one (@case), and how it ends (Verdict).

A case is an async script `async def tc_003(run: Run) -> None` registered with the OCTT id and
name it reproduces, the OCTT module it belongs to, the feature profile it tests and the hardware
it needs. The library is the set of modules under `ocpp_station.conformance.cases`.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Literal

from ocpp_station.rpc.actions import PROFILES

if TYPE_CHECKING:
    from ocpp_station.conformance.steps import Run

Script = Callable[["Run"], Awaitable[None]]

CASE_ID = re.compile(r"TC_\d{3}(_\d+)?_CS")
"""OCTT 1.6 charge-point case ids: TC_003_CS, TC_004_1_CS (digest §7)."""

HARDWARE_FEATURES: Mapping[str, str] = {
    "socket": "socket outlets with a lock that UnlockConnector can release",
    "fixed_cable": "fixed cables (nothing to unlock)",
    "power_cycle": "the station's power can be cut and restored",
    "fault_injection": "hardware faults can be raised and cleared",
    "lock_failure": "a connector lock can be made to fail",
}
"""The hardware features a case may need beyond its profile, with what each means."""


class Verdict(StrEnum):
    PASS = "Pass"
    FAIL = "Fail"
    NA = "N/A"
    """The case does not apply to this station (a profile it does not declare, hardware it
    lacks)."""
    ERROR = "Error"
    """The tool could not carry the case out (the tool broke, the station process died, the
    operator did not answer)."""


class NotApplicable(Exception):
    """Raised by a script (or a driver) when the case turns out not to apply; the message is the
    reason the report gives."""


class CaseFailed(AssertionError):
    """The station did not do what a step expected: the verdict is Fail."""

    def __init__(self, message: str, *, expected: str = "", got: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.got = got


class ToolError(Exception):
    """The tool could not carry out a step (not the station's fault): the verdict is Error."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """Something a station must have for a case to apply: a declared profile or a hardware
    feature."""

    kind: Literal["profile", "hardware"]
    name: str

    def unmet(
        self,
        profiles: Collection[str],
        features: Collection[str],
        undetermined: Collection[str] = (),
    ) -> str | None:
        """Why a station with these declared profiles and hardware features lacks this, or None.
        `undetermined`: features the tool could not tell the station has or lacks."""
        if self.kind == "profile":
            if self.name in profiles:
                return None
            return f"profile {self.name} is not declared in SupportedFeatureProfiles"
        if self.name in features:
            return None
        what = HARDWARE_FEATURES[self.name]
        if self.name in undetermined:
            return (
                f"needs {self.name} ({what}), which the tool cannot tell the station has: "
                f"declare --feature {self.name} when it does"
            )
        return f"needs hardware the station lacks: {self.name} ({what})"


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    name: str
    module: str
    """The OCTT module, e.g. "02 Start Charging Session"."""
    profile: str
    script: Script = field(compare=False, repr=False)
    needs: frozenset[str] = frozenset()
    booted: bool = True
    """True: the case starts from the Booted state (BootNotification accepted, every connector
    reported). False: the station is off (or about to reboot) and the script powers it on."""
    description: str = ""

    @property
    def title(self) -> str:
        return f"{self.id} {self.name}"

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return (
            Requirement("profile", self.profile),
            *(Requirement("hardware", need) for need in sorted(self.needs)),
        )

    def not_applicable(
        self,
        profiles: Collection[str],
        features: Collection[str],
        undetermined: Collection[str] = (),
    ) -> str | None:
        """The reason this case is N/A for a station, or None when it applies."""
        reasons = [
            reason
            for requirement in self.requirements
            if (reason := requirement.unmet(profiles, features, undetermined)) is not None
        ]
        return "; ".join(reasons) if reasons else None

    def sort_key(self) -> tuple[str, tuple[int, ...]]:
        """OCTT order: by module, then by the numbers of the id (TC_004_2 after TC_004_1)."""
        return self.module, tuple(int(n) for n in re.findall(r"\d+", self.id))


class Library:
    """A registry of cases, keyed by id."""

    def __init__(self) -> None:
        self._cases: dict[str, Case] = {}

    def case(
        self,
        id: str,
        name: str,
        *,
        module: str,
        profile: str,
        needs: Iterable[str] = frozenset(),
        booted: bool = True,
    ) -> Callable[[Script], Script]:
        """Register the decorated script as the case `id`."""
        if not CASE_ID.fullmatch(id):
            raise ValueError(f"case id must look like TC_003_CS or TC_004_1_CS, not {id!r}")
        if profile not in PROFILES:
            raise ValueError(f"{id}: unknown profile {profile!r}; one of {', '.join(PROFILES)}")
        wanted = frozenset(needs)
        unknown = sorted(wanted - HARDWARE_FEATURES.keys())
        if unknown:
            raise ValueError(
                f"{id}: unknown hardware need(s) {', '.join(unknown)}; "
                f"known: {', '.join(HARDWARE_FEATURES)}"
            )
        if not name or not module:
            raise ValueError(f"{id}: name and module must not be empty")

        def register(script: Script) -> Script:
            if id in self._cases:
                raise ValueError(f"case {id} is registered twice")
            doc = (script.__doc__ or "").strip()
            self._cases[id] = Case(
                id=id,
                name=name,
                module=module,
                profile=profile,
                script=script,
                needs=wanted,
                booted=booted,
                description=doc,
            )
            return script

        return register

    def __getitem__(self, case_id: str) -> Case:
        return self._cases[case_id]

    def __contains__(self, case_id: object) -> bool:
        return case_id in self._cases

    def __iter__(self) -> Iterator[Case]:
        return iter(sorted(self._cases.values(), key=Case.sort_key))

    def __len__(self) -> int:
        return len(self._cases)

    def select(self, patterns: Iterable[str] = (), profiles: Iterable[str] = ()) -> list[Case]:
        """The cases whose id matches one of the glob patterns (all when none is given) and
        whose profile is one of `profiles` (all when none is given), in OCTT order."""
        globs = [p.upper() for p in patterns]
        wanted = set(profiles)
        return [
            case
            for case in self
            if (not globs or any(fnmatchcase(case.id, g) for g in globs))
            and (not wanted or case.profile in wanted)
        ]


LIBRARY = Library()
"""The case library: every module under ocpp_station.conformance.cases registers here."""

case = LIBRARY.case


def load_library() -> Library:
    """Import every case module, the library's own and each profile package's, and return
    the library."""
    from ocpp_station.conformance import cases
    from ocpp_station.profiles import INSTALLED

    for module in pkgutil.iter_modules(cases.__path__):
        importlib.import_module(f"{cases.__name__}.{module.name}")
    for profile in INSTALLED:
        if profile.cases is not None:
            importlib.import_module(profile.cases)
    return LIBRARY
