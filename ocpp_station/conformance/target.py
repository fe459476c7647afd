"""The station under test: our own (started by the tool, a fresh one per case) or an external
one (any OCPP 1.6 station that connects to the tool's central system)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ocpp_station.conformance.case import ToolError
from ocpp_station.conformance.drivers import ControlApiDriver, Driver, ProcessPower
from ocpp_station.csms.server import CentralSystem

if TYPE_CHECKING:
    from ocpp_station.conformance.settings import Settings
    from ocpp_station.conformance.steps import ConfigKey, Run
    from ocpp_station.conformance.transcript import StationLink
    from ocpp_station.csms.records import StationRecord

START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
_LOG_TAIL_LINES = 15
OWN_DRIVER = (
    "the station's HTTP control API; power cycles by SIGTERM or SIGKILL and a restart on the "
    "same state folder"
)


class Target(Protocol):
    kind: str
    """"own" or "external"."""

    @property
    def identity(self) -> str | None:
        """The charge point identity (None: the first station to connect)."""
        ...

    outlives_cases: bool
    """True when one station serves every case: the tool restores it after each."""

    @property
    def description(self) -> str: ...
    @property
    def power_on_description(self) -> str: ...
    @property
    def driver(self) -> Driver: ...

    notes: list[str]
    """Remarks for the report (how the hardware features were found...)."""

    async def open(self, csms: CentralSystem, link: StationLink, settings: Settings) -> None:
        """Before the first case (an external station: wait for it to connect)."""
        ...

    def features(self, configuration: Mapping[str, ConfigKey]) -> frozenset[str]:
        """The hardware features the cases may rely on (case.HARDWARE_FEATURES)."""
        ...

    undetermined: frozenset[str]
    """After features(): those the tool could not tell the station has or lacks (a case that
    needs one is N/A with a reason that says to declare it)."""

    async def begin(self, run: Run) -> None:
        """Bring the station to the case's starting state (Booted, or off)."""
        ...

    async def power_on(self, run: Run) -> None: ...

    async def power_cycle(self, run: Run, graceful: bool) -> None: ...

    async def end(self, run: Run) -> None:
        """After the case, whatever its verdict."""
        ...

    def failure(self) -> str | None:
        """Why the station can no longer be tested (its process died), or None."""
        ...

    async def close(self) -> None: ...


def loopback_url(csms: CentralSystem) -> str:
    """The central system's URL as a station on this machine reaches it."""
    host = csms.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"ws://{shown}:{csms.port}"


# ---------------------------------------------------------------------------- our own station


class StationProcess:
    """One `python -m ocpp_station run` process, restartable on the same state folder."""

    def __init__(
        self, csms_url: str, identity: str, state_dir: Path, log_path: Path, args: Sequence[str]
    ) -> None:
        self.csms_url = csms_url
        self.identity = identity
        self.state_dir = state_dir
        self.log_path = log_path
        self.args = list(args)
        self.control = ""
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False
        """True while the tool itself stops the process (not a death)."""
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Start; returns the control API URL once the station printed it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ocpp_station",
                "run",
                "--csms",
                self.csms_url,
                "--id",
                self.identity,
                "--control",
                "127.0.0.1:0",
                "--state-dir",
                str(self.state_dir),
                *self.args,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=env,
            )
        self.stopping = False
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    line = (await stdout.readline()).decode(errors="replace")
                    if not line:
                        raise ToolError(f"the station exited at start; {self.log_tail()}")
                    if line.startswith("control: "):
                        self.control = line.split(" ", 1)[1].strip()
                        break
        except TimeoutError:
            await self.kill()
            raise ToolError(
                f"the station printed no control address within {START_TIMEOUT:g} s"
            ) from None
        self._drain = asyncio.create_task(self._copy_output(stdout))
        return self.control

    async def _copy_output(self, stdout: asyncio.StreamReader) -> None:
        """Keep the pipe empty (a full pipe would block the station); its lines go to the log."""
        with self.log_path.open("ab") as log:
            while line := await stdout.readline():
                log.write(line)
                log.flush()

    def exited(self) -> int | None:
        """The exit code when the process ended without the tool stopping it."""
        if self.proc is None or self.stopping:
            return None
        return self.proc.returncode

    def log_tail(self) -> str:
        if not self.log_path.exists():
            return "no station log"
        lines = self.log_path.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        return "last lines of the station log:\n" + "\n".join(lines)

    async def terminate(self) -> int | None:
        """SIGTERM (a controlled shutdown, or a power failure with hold-up energy), then wait."""
        proc = self.proc
        if proc is None:
            return None
        self.stopping = True
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await self._drained()
        return proc.returncode

    async def kill(self) -> None:
        """SIGKILL: a power cut."""
        proc = self.proc
        if proc is None:
            return
        self.stopping = True
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await self._drained()

    async def _drained(self) -> None:
        if self._drain is not None:
            try:
                async with asyncio.timeout(2):
                    await self._drain
            except TimeoutError:
                self._drain.cancel()
            self._drain = None


class OwnStation:
    """Our station, started by the tool against its central system: a fresh state folder and a
    fresh process per case, driven through its HTTP control API."""

    kind = "own"
    outlives_cases = False
    power_on_description = "power on"

    def __init__(
        self,
        station_args: Sequence[str] = (),
        *,
        identity: str = "CP-1",
        workdir: Path | None = None,
    ) -> None:
        self.identity = identity
        self.station_args = list(station_args)
        self._workdir = workdir
        self._own_workdir = workdir is None
        self._csms: CentralSystem | None = None
        self._link: StationLink | None = None
        self.process: StationProcess | None = None
        self.notes: list[str] = []
        self.driver: Driver = ControlApiDriver("http://127.0.0.1:0", description=OWN_DRIVER)
        self._runs = 0

    @property
    def description(self) -> str:
        args = " ".join(self.station_args)
        return "own station started by the tool: ocpp-station run" + (f" {args}" if args else "")

    @property
    def socket(self) -> bool:
        return "--socket" in self.station_args

    async def open(self, csms: CentralSystem, link: StationLink, settings: Settings) -> None:
        self._csms = csms
        self._link = link
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="ocpp-conformance-"))
        self._workdir.mkdir(parents=True, exist_ok=True)

    undetermined: frozenset[str] = frozenset()  # the tool built it: it knows

    def features(self, configuration: Mapping[str, ConfigKey]) -> frozenset[str]:
        # The simulator behind the control API does every physical step; the socket variant
        # has locks (which can be jammed), the reference charger fixed cables.
        cable = {"socket", "lock_failure"} if self.socket else {"fixed_cable"}
        return frozenset({"power_cycle", "fault_injection", *cable})

    async def begin(self, run: Run) -> None:
        csms, _ = self._require()
        assert self._workdir is not None
        self._runs += 1
        folder = self._workdir / f"{self._runs:03d}-{run.case.id}"
        # A fresh station: no record of the previous case's station may linger.
        csms.records.pop(self.identity, None)
        self.process = StationProcess(
            loopback_url(csms),
            self.identity,
            folder / "state",
            folder / "station.log",
            self.station_args,
        )
        self.driver = ControlApiDriver(
            "http://127.0.0.1:0", power=ProcessPower(self.process), description=OWN_DRIVER
        )
        run.driver = self.driver
        if run.case.booted:
            async with run.step("precondition: power on our station"):
                await self._start()
            await run.expect_boot()

    async def _start(self) -> None:
        assert self.process is not None
        url = await self.process.start()
        if isinstance(self.driver, ControlApiDriver):
            self.driver.base_url = url

    async def power_on(self, run: Run) -> None:
        if self.process is None:
            raise ToolError("no station process to power on")
        if self.process.proc is not None and self.process.proc.returncode is None:
            raise ToolError("the station is powered already")
        await self._start()

    async def power_cycle(self, run: Run, graceful: bool) -> None:
        await self.driver.power_cycle(graceful)

    async def end(self, run: Run) -> None:
        await self.driver.close()
        if self.process is not None:
            await self.process.terminate()
            # The connection ends with the process; wait for the central system to see it.
            session = self._link.session if self._link is not None else None
            if session is not None:
                try:
                    async with asyncio.timeout(5):
                        await session.closed.wait()
                except TimeoutError:
                    await session.close(abrupt=True)

    def failure(self) -> str | None:
        process = self.process
        if process is None:
            return None
        code = process.exited()
        if code is None:
            return None
        return f"exited with code {code}; {process.log_tail()}"

    async def close(self) -> None:
        if self.process is not None:
            await self.process.terminate()
        await self.driver.close()
        if self._own_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def _require(self) -> tuple[CentralSystem, StationLink]:
        if self._csms is None or self._link is None:
            raise ToolError("the target was not opened")
        return self._csms, self._link


# ---------------------------------------------------------------------------- external station


def _busy(run: Run, record: StationRecord) -> dict[int, str]:
    """The connectors whose last reported status is not Available (never reported: idle), or
    with a transaction the central system has not seen stopped."""
    busy = {c: s for c in run.connector_ids if (s := record.status(c)) not in (None, "Available")}
    for transaction_id, transaction in sorted(record.open_transactions.items()):
        busy.setdefault(transaction.connector_id, f"in transaction {transaction_id}")
    return busy


CABLES = frozenset({"socket", "fixed_cable"})


def infer_cable(configuration: Mapping[str, ConfigKey]) -> str | None:
    """The cable kind a station's configuration suggests: UnlockConnectorOnEVSideDisconnect
    read-only false for fixed cables, writable for sockets ([E] 3.85); None when unknown.

    A guess: [E] 3.84 lets a socket station make the key read-only too, so --feature wins.
    """
    entry = configuration.get("UnlockConnectorOnEVSideDisconnect")
    if entry is None:
        return None
    if entry.readonly and (entry.value or "").lower() == "false":
        return "fixed_cable"
    return None if entry.readonly else "socket"


class ExternalStation:
    """Any OCPP 1.6 station that connects to the tool's central system."""

    kind = "external"
    outlives_cases = True

    def __init__(
        self,
        driver: Driver,
        *,
        identity: str | None = None,
        features: frozenset[str] | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.driver = driver
        self.identity = identity
        self.declared_features = features
        self._say = say
        self._link: StationLink | None = None
        self._settings: Settings | None = None
        self._settled_connection = 0  # the connection whose first statuses were waited for
        self.undetermined: frozenset[str] = frozenset()
        self.notes: list[str] = []

    @property
    def description(self) -> str:
        return f"external station, physical steps by the {self.driver.description}"

    @property
    def power_on_description(self) -> str:
        if self.declared_features is not None and "power_cycle" in self.declared_features:
            return "power cycle, wait for the station to reconnect"
        return "reboot (Reset Hard), wait for the station to reconnect"

    async def open(self, csms: CentralSystem, link: StationLink, settings: Settings) -> None:
        self._link = link
        self._settings = settings
        who = self.identity or "<any identity>"
        self._say(f"waiting for a station to connect to {csms.url}/{who}")
        session = await link.wait_connection(0, settings.connect_timeout)
        self.identity = link.identity
        csms.identities = {session.identity}  # one station under test: others are refused
        self._say(f"{session.identity} connected")

    def features(self, configuration: Mapping[str, ConfigKey]) -> frozenset[str]:
        """What is inferred from the configuration and the driver, plus what was declared
        (--feature). A declared cable kind overrides the inferred one."""
        declared = self.declared_features or frozenset()
        cable = infer_cable(configuration)
        if declared & CABLES:
            cable = next(iter(sorted(declared & CABLES)))
        inferred: set[str] = set()
        unknown: set[str] = set()
        if cable is not None:
            inferred.add(cable)
        else:
            unknown |= CABLES
        if isinstance(self.driver, ControlApiDriver):
            # The control API raises faults and jams locks (an adapter that cannot answers
            # 501: those cases turn N/A); a power switch it does not have.
            inferred.add("fault_injection")
            if cable == "socket":
                inferred.add("lock_failure")
            elif cable is None:
                unknown.add("lock_failure")
        else:
            # A person at the station may be able to do any of these: only they can say.
            unknown |= {"power_cycle", "fault_injection", "lock_failure"}
        found = inferred | declared
        self.undetermined = frozenset(unknown - found)
        parts = ["hardware features inferred from the configuration and the driver: "]
        parts.append(", ".join(sorted(inferred - declared)) or "none")
        if declared:
            parts.append(f"; declared: {', '.join(sorted(declared))}")
        if self.undetermined:
            parts.append(f"; not known: {', '.join(sorted(self.undetermined))}")
        parts.append(" (declare them with --feature when they differ)")
        self.notes.append("".join(parts))
        return frozenset(found)

    async def begin(self, run: Run) -> None:
        if not run.case.booted:
            return
        link, settings = self._require()
        async with run.step("precondition: the station is connected and accepted"):
            try:
                await link.wait_connection(0, settings.boot_timeout)
            except TimeoutError as exc:
                raise ToolError(str(exc)) from None
            record = run.csms.record(run.identity)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + settings.boot_timeout
            while record.registration not in (None, "Accepted"):
                # A station left Pending by an earlier case boots again after the interval.
                if loop.time() > deadline:
                    raise ToolError(f"the station's registration is {record.registration}")
                await link.wait_change(link.generation, deadline - loop.time())
            # Just after its boot a station is still reporting its connectors ([E] 3.22): a
            # case must not begin while those statuses are on their way, or its checks catch
            # them late. Waited for once per connection: a station that never reports a
            # connector (or reports nothing on a mere reconnect) costs it once, and a status
            # never reported counts as idle. Not during the discovery: the number of
            # connectors is what it finds out.
            if run.connector_ids and self._settled_connection != link.connections:
                self._settled_connection = link.connections
                settle = min(deadline, loop.time() + settings.status_settle)
                while loop.time() < settle and any(
                    record.status(c) is None for c in range(len(run.connector_ids) + 1)
                ):
                    await link.wait_change(link.generation, settle - loop.time())
        busy = _busy(run, record)
        if busy:
            # What an earlier case (or a driver) left behind is this case's precondition to
            # undo, not a reason to give up every case that follows.
            async with run.step("precondition: bring every connector back to idle"):
                await run.recover_idle(busy)
                busy = _busy(run, record)
                if busy:
                    shown = ", ".join(f"connector {c} is {s}" for c, s in busy.items())
                    raise ToolError(f"the station is not idle: {shown}")

    async def power_on(self, run: Run) -> None:
        if self.declared_features is not None and "power_cycle" in self.declared_features:
            await self.driver.power_cycle(False)
            return
        # A station the tool cannot switch off: a Hard reset is its reboot ([S] 5.14).
        await run.call("Reset", {"type": "Hard"}, status="Accepted")

    async def power_cycle(self, run: Run, graceful: bool) -> None:
        await self.driver.power_cycle(graceful)

    async def end(self, run: Run) -> None:
        await run.restore()

    def failure(self) -> str | None:
        return None

    async def close(self) -> None:
        await self.driver.close()

    def _require(self) -> tuple[StationLink, Settings]:
        if self._link is None or self._settings is None:
            raise ToolError("the target was not opened")
        return self._link, self._settings
