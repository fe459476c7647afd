"""The report, shaped like a certificate's abstract (product-spec.md "The report it earned"):
functionalities, performance measurements, test configuration, hardware feature set, the
station's configuration keys, then one row per case; for a failure, the failing step and the
frames around it. Rendered as Markdown, JSON and HTML from one Results object."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ocpp_station.conformance.case import HARDWARE_FEATURES, Verdict
from ocpp_station.rpc.actions import PROFILES

PROFILE_TITLES = {
    "Core": "Core",
    "FirmwareManagement": "Firmware Management",
    "LocalAuthListManagement": "Local Auth List Management",
    "Reservation": "Reservation",
    "SmartCharging": "Smart Charging",
    "RemoteTrigger": "Remote Trigger",
    "Security": "Security (whitepaper)",
}
# The rows of the functionalities table even when no case of them ran (SupportedFeatureProfiles
# values, [S] 9.1.32); the whitepaper's Security row appears when a Security case ran.
CERTIFIED_PROFILES = tuple(p for p in PROFILES if p != "Security")

NOT_TESTED = "Not tested"
PARTIAL = "Partial"
NOT_MEASURED = "Not measured"


@dataclass(slots=True)
class StepResult:
    index: int
    description: str
    elapsed: float
    duration: float
    outcome: str


@dataclass(slots=True)
class CaseResult:
    id: str
    name: str
    module: str
    profile: str
    verdict: Verdict
    duration: float = 0.0
    reason: str = ""
    """N/A: why; Fail and Error: what went wrong."""
    failed_step: str = ""
    """Fail and Error: "step 7: expect StatusNotification {...}"."""
    frames: list[str] = field(default_factory=list)
    """Fail and Error: the frame lines around the failure."""
    steps: list[StepResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    """Every frame line of the case, both ways, with times: what the verdict rests on."""


@dataclass(slots=True)
class Measurement:
    name: str
    limit: float
    measured: float | None
    where: str = ""
    """Which case and request gave the maximum."""

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return NOT_MEASURED
        return Verdict.PASS if self.measured <= self.limit else Verdict.FAIL


@dataclass(slots=True)
class ConfigRow:
    key: str
    value: str | None
    readonly: bool


@dataclass(slots=True)
class Functionality:
    profile: str
    verdict: str
    detail: str


@dataclass(slots=True)
class Results:
    tool: str
    started: datetime
    finished: datetime
    target: str
    driver: str
    communication: str
    identity: str | None = None
    boot: dict[str, Any] | None = None
    connectors: int | None = None
    profiles: list[str] = field(default_factory=list)
    """SupportedFeatureProfiles as the station declares it."""
    features: list[str] = field(default_factory=list)
    """The hardware features the station offers (case.HARDWARE_FEATURES)."""
    configuration: list[ConfigRow] = field(default_factory=list)
    cases: list[CaseResult] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    omitted: dict[str, list[str]] = field(default_factory=dict)
    """Profile -> ids of its library cases this run left out (`--cases`): a profile with cases
    left out gets no Pass, only a Partial row (a Fail still fails it)."""

    @property
    def failed(self) -> bool:
        """A case failed or could not be carried out."""
        return any(c.verdict in (Verdict.FAIL, Verdict.ERROR) for c in self.cases)

    def counts(self) -> dict[Verdict, int]:
        return {v: sum(1 for c in self.cases if c.verdict is v) for v in Verdict}

    def functionalities(self) -> list[Functionality]:
        """One row per profile: Pass, Fail, N/A or Not tested."""
        ran = {c.profile for c in self.cases}
        rows = []
        for profile in PROFILES:
            if profile not in CERTIFIED_PROFILES and profile not in ran:
                continue
            cases = [c for c in self.cases if c.profile == profile]
            counts = {v: sum(1 for c in cases if c.verdict is v) for v in Verdict}
            tally = ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)
            if profile != "Security" and profile not in self.profiles:
                rows.append(Functionality(profile, Verdict.NA, "not declared by the station"))
            elif counts[Verdict.FAIL] or counts[Verdict.ERROR]:
                rows.append(Functionality(profile, Verdict.FAIL, tally))
            elif self.omitted.get(profile) and cases:
                left_out = len(self.omitted[profile])
                ran_of = f"{len(cases)} of {len(cases) + left_out} cases ran"
                rows.append(Functionality(profile, PARTIAL, f"{ran_of}: {tally}"))
            elif counts[Verdict.PASS]:
                rows.append(Functionality(profile, Verdict.PASS, tally))
            elif cases:
                rows.append(Functionality(profile, Verdict.NA, tally))
            else:
                rows.append(Functionality(profile, NOT_TESTED, "no case of this profile ran"))
        return rows

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["started"] = self.started.isoformat()
        data["finished"] = self.finished.isoformat()
        for case in data["cases"]:
            case["verdict"] = case["verdict"].value
        data["functionalities"] = [asdict(f) for f in self.functionalities()]
        for row, measurement in zip(data["measurements"], self.measurements, strict=True):
            row["verdict"] = str(measurement.verdict)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        try:
            return cls(
                tool=data["tool"],
                started=datetime.fromisoformat(data["started"]),
                finished=datetime.fromisoformat(data["finished"]),
                target=data["target"],
                driver=data["driver"],
                communication=data["communication"],
                identity=data.get("identity"),
                boot=data.get("boot"),
                connectors=data.get("connectors"),
                profiles=list(data.get("profiles", [])),
                features=list(data.get("features", [])),
                configuration=[ConfigRow(**row) for row in data.get("configuration", [])],
                cases=[_case_from_json(c) for c in data.get("cases", [])],
                measurements=[
                    Measurement(m["name"], m["limit"], m["measured"], m.get("where", ""))
                    for m in data.get("measurements", [])
                ],
                notes=list(data.get("notes", [])),
                omitted={str(k): list(v) for k, v in data.get("omitted", {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a conformance results document: {exc}") from exc


def _case_from_json(data: dict[str, Any]) -> CaseResult:
    return CaseResult(
        id=data["id"],
        name=data["name"],
        module=data["module"],
        profile=data["profile"],
        verdict=Verdict(data["verdict"]),
        duration=data.get("duration", 0.0),
        reason=data.get("reason", ""),
        failed_step=data.get("failed_step", ""),
        frames=list(data.get("frames", [])),
        steps=[StepResult(**s) for s in data.get("steps", [])],
        notes=list(data.get("notes", [])),
        transcript=list(data.get("transcript", [])),
    )


# ---------------------------------------------------------------------------- shared content


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def _boot(results: Results, field_name: str) -> str:
    value = (results.boot or {}).get(field_name)
    return str(value) if value not in (None, "") else "-"


def configuration_rows(results: Results) -> list[tuple[str, str]]:
    return [
        ("Vendor", _boot(results, "chargePointVendor")),
        ("Model", _boot(results, "chargePointModel")),
        ("Serial number", _boot(results, "chargePointSerialNumber")),
        ("Firmware version", _boot(results, "firmwareVersion")),
        ("Charge point identity", results.identity or "-"),
        ("Communication", results.communication),
        ("Protocol", "OCPP 1.6 edition 2 with errata, OCPP-J (JSON over WebSocket)"),
        ("Test tool", results.tool),
        ("Station under test", results.target),
        ("Physical steps by", results.driver),
        ("Started", results.started.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("Duration", seconds((results.finished - results.started).total_seconds())),
    ]


def hardware_rows(results: Results) -> list[tuple[str, str]]:
    rows = [("Connectors", str(results.connectors) if results.connectors else "-")]
    for name, meaning in HARDWARE_FEATURES.items():
        rows.append((f"{name}: {meaning}", "yes" if name in results.features else "no"))
    return rows


def _verdict_counts(results: Results) -> str:
    return ", ".join(f"{n} {v.value}" for v, n in results.counts().items() if n) or "no cases"


def _title(results: Results) -> str:
    vendor, model = _boot(results, "chargePointVendor"), _boot(results, "chargePointModel")
    station = f"{vendor} {model}" if results.boot else (results.identity or "station")
    return f"OCPP 1.6 conformance report: {station}"


# ---------------------------------------------------------------------------- Markdown


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>") or " "


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def summary_markdown(results: Results) -> str:
    """The functionalities and performance tables: what the console shows at the end."""
    lines = ["## Functionalities", ""]
    lines += _table(
        ["Functionality", "Verdict", "Cases"],
        [(PROFILE_TITLES[f.profile], f.verdict, f.detail) for f in results.functionalities()],
    )
    lines += ["", "## Performance measurements", ""]
    lines += _table(
        ["Measurement", "Limit", "Measured (maximum)", "Verdict", "Where"],
        [
            (m.name, seconds(m.limit), seconds(m.measured), m.verdict, m.where)
            for m in results.measurements
        ],
    )
    return "\n".join(lines) + "\n"


def partial_note(results: Results) -> str:
    """What a run that left cases out says about itself ("" for a whole run)."""
    left_out = sum(len(ids) for ids in results.omitted.values())
    if not left_out:
        return ""
    return (
        f"A partial run: {len(results.cases)} cases ran, {left_out} of the library were left"
        " out; a profile with cases left out gets no verdict of Pass."
    )


def render_markdown(results: Results) -> str:
    lines = [f"# {_title(results)}", "", f"Cases: {_verdict_counts(results)}.", ""]
    if partial_note(results):
        lines += [partial_note(results), ""]
    lines.append(summary_markdown(results))
    lines += ["## Test configuration", ""]
    lines += _table(["Item", "Value"], configuration_rows(results))
    lines += ["", "## Hardware feature set", ""]
    lines += _table(["Feature", "Present"], hardware_rows(results))
    lines += ["", "## Configuration keys", ""]
    if results.configuration:
        lines += _table(
            ["Key", "Value", "Read-only"],
            [(r.key, r.value, "yes" if r.readonly else "no") for r in results.configuration],
        )
    else:
        lines.append("Not read (GetConfiguration did not succeed).")
    lines += ["", "## Test cases", ""]
    lines += _table(
        ["Id", "Name", "Module", "Verdict", "Duration", "Detail"],
        [
            (
                c.id,
                c.name,
                c.module,
                c.verdict.value,
                seconds(c.duration) if c.verdict is not Verdict.NA else "-",
                _detail(c),
            )
            for c in results.cases
        ],
    )
    failed = [c for c in results.cases if c.verdict in (Verdict.FAIL, Verdict.ERROR)]
    if failed:
        lines += ["", "## Failures", ""]
        for c in failed:
            lines += [f"### {c.id} {c.name}: {c.verdict.value}", ""]
            if c.failed_step:
                lines.append(f"Failing step: {c.failed_step}")
                lines.append("")
            lines += ["```text", c.reason, "```", ""]
            if c.frames:
                lines += ["Frames around the failure:", "", "```text", *c.frames, "```", ""]
    notes = results.notes + [f"{c.id}: {n}" for c in results.cases for n in c.notes]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {n}" for n in notes]
    if any(c.transcript for c in results.cases):
        lines += [
            "",
            "Every case's full transcript (each frame both ways, with its time) is in the JSON "
            "and HTML reports.",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _detail(case: CaseResult) -> str:
    if case.verdict is Verdict.NA:
        return case.reason
    if case.verdict in (Verdict.FAIL, Verdict.ERROR):
        first = case.reason.splitlines()[0] if case.reason else ""
        return f"{case.failed_step}: {first}" if case.failed_step else first
    return ""


# ---------------------------------------------------------------------------- HTML

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
.Pass { background: #d8f0d8; } .Fail, .Error { background: #f6d0d0; } .NA { color: #666; }
pre { background: #f4f4f4; padding: 0.6em; overflow-x: auto; }
"""


def _html_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], verdict_col: int = -1
) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = []
        for index, value in enumerate(row):
            text = html.escape("" if value is None else str(value))
            css = ""
            if index == verdict_col:
                name = "NA" if str(value) == Verdict.NA.value else str(value).replace(" ", "")
                css = f' class="{html.escape(name)}"'
            cells.append(f"<td{css}>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def render_html(results: Results) -> str:
    title = html.escape(_title(results))
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>',
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>Cases: {html.escape(_verdict_counts(results))}.</p>",
        f"<p>{html.escape(partial_note(results))}</p>" if partial_note(results) else "",
        "<h2>Functionalities</h2>",
        _html_table(
            ["Functionality", "Verdict", "Cases"],
            [(PROFILE_TITLES[f.profile], f.verdict, f.detail) for f in results.functionalities()],
            verdict_col=1,
        ),
        "<h2>Performance measurements</h2>",
        _html_table(
            ["Measurement", "Limit", "Measured (maximum)", "Verdict", "Where"],
            [
                (m.name, seconds(m.limit), seconds(m.measured), m.verdict, m.where)
                for m in results.measurements
            ],
            verdict_col=3,
        ),
        "<h2>Test configuration</h2>",
        _html_table(["Item", "Value"], configuration_rows(results)),
        "<h2>Hardware feature set</h2>",
        _html_table(["Feature", "Present"], hardware_rows(results)),
        "<h2>Configuration keys</h2>",
        _html_table(
            ["Key", "Value", "Read-only"],
            [(r.key, r.value, "yes" if r.readonly else "no") for r in results.configuration],
        ),
        "<h2>Test cases</h2>",
        _html_table(
            ["Id", "Name", "Module", "Verdict", "Duration", "Detail"],
            [
                (
                    c.id,
                    c.name,
                    c.module,
                    c.verdict.value,
                    seconds(c.duration) if c.verdict is not Verdict.NA else "-",
                    _detail(c),
                )
                for c in results.cases
            ],
            verdict_col=3,
        ),
    ]
    for c in results.cases:
        if c.verdict not in (Verdict.FAIL, Verdict.ERROR):
            continue
        parts.append(f"<h3>{html.escape(c.id)} {html.escape(c.name)}: {c.verdict.value}</h3>")
        if c.failed_step:
            parts.append(f"<p>Failing step: {html.escape(c.failed_step)}</p>")
        parts.append(f"<pre>{html.escape(c.reason)}</pre>")
        if c.frames:
            parts.append("<p>Frames around the failure:</p>")
            parts.append(f"<pre>{html.escape(chr(10).join(c.frames))}</pre>")
    notes = results.notes + [f"{c.id}: {n}" for c in results.cases for n in c.notes]
    if notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{html.escape(n)}</li>" for n in notes]
        parts.append("</ul>")
    transcribed = [c for c in results.cases if c.transcript]
    if transcribed:
        parts.append("<h2>Transcripts</h2>")
        for c in transcribed:
            summary = f"{c.id} {c.name}: {c.verdict.value}, {len(c.transcript)} frame lines"
            parts.append(f"<details><summary>{html.escape(summary)}</summary>")
            parts.append(f"<pre>{html.escape(chr(10).join(c.transcript))}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
