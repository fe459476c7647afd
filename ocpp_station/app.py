"""`ocpp-station run`: a station, its control API and, without --csms, a central system."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from aiohttp import web

from ocpp_station.argtypes import UsageError, check_tls_arguments, ev_from_args
from ocpp_station.control.api import ControlApi, NoPower
from ocpp_station.control.gate import Gate
from ocpp_station.runtime import (
    STATE_FILE,
    MessageLog,
    StationOptions,
    StationRuntime,
    load_factory,
)
from ocpp_station.station.config import ConfigError
from ocpp_station.station_logs import STATION
from ocpp_station.storage.folder_lock import FolderInUse, lock_folder
from ocpp_station.storage.store import StationStore, StoreError
from ocpp_station.transport.select import resolve

if TYPE_CHECKING:
    from ocpp_station.csms.server import CentralSystem

# Held by the process that runs a state folder's station.
log = logging.getLogger("ocpp_station.app")


class StartupError(Exception):
    """A bad option found while building the station: exit 2 with this one-line reason."""


class StationApp:
    def __init__(
        self, options: StationOptions, control: tuple[str, int], control_token: str | None = None
    ) -> None:
        self.options = options
        self.control = control
        self.gate = Gate.for_address(control[0], control_token)
        # The state folder's lock, held while this process runs (see _lock_state_dir).
        self._lock: IO[str] | None = None
        # The station while it has power; its frames outlive a power cut (the page follows on).
        self.runtime: StationRuntime | None = None
        self.messages = MessageLog()
        self._cut: asyncio.Future[float] | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, default_state_dir: Path) -> StationApp:
        options = StationOptions(
            identity=args.id,
            csms_url=args.csms or "",
            state_dir=args.state_dir or default_state_dir,
            connectors=args.connectors,
            password=args.password,
            config=list(args.config),
            fixed_cable=not args.socket,
            ac=args.ac,
            max_power_w=args.max_power * 1000.0 if args.max_power else None,
            ev=ev_from_args(args),
            ramp_seconds=args.ev_ramp,
            datatransfer=list(args.datatransfer),
            seed=args.seed,
            hardware=args.hardware,
            transport=args.transport,
            ca_pem=args.ca,
            cert_pem=args.cert,
            key_pem=args.key,
        )
        try:
            check_tls_arguments(args)
        except UsageError as exc:
            raise StartupError(str(exc)) from None
        if args.max_power and args.ac:
            raise StartupError("--max-power is the DC charger's; an AC charger's comes from --ac")
        for name in ("vendor", "model", "serial", "firmware"):
            value = getattr(args, name)
            if value is not None:
                setattr(options, name, value)
        limits = {"vendor": 20, "model": 20, "serial": 25, "firmware": 50}
        for name, limit in limits.items():
            value = getattr(options, name)
            if value is not None and len(value) > limit:
                raise StartupError(f"--{name} is longer than {limit} characters (§6.3)")
        app = cls(options, args.control, getattr(args, "control_token", None))
        app._check_config()
        try:
            resolve(options.transport)
        except ValueError as exc:
            raise StartupError(f"--transport: {exc}") from None
        app._check_state_dir(reset=getattr(args, "reset", False))
        plugins = [("--hardware", options.hardware)] if options.hardware else []
        plugins += [("--datatransfer", spec) for spec in options.datatransfer]
        for option, spec in plugins:
            try:
                load_factory(spec, option)
            except ValueError as exc:
                raise StartupError(str(exc)) from None
        return app

    def _check_config(self) -> None:
        # Validate --config against the key table before anything starts.
        from ocpp_station import profiles
        from ocpp_station.clock import VirtualClock
        from ocpp_station.hardware.simulator import Simulator

        probe = profiles.configuration(
            connectors=self.options.connectors,
            measurands=Simulator(VirtualClock(), self.options.connectors).measurands,
            fixed_cable=self.options.fixed_cable,
        )
        for key, value in self.options.config:
            try:
                probe.set_initial(key, value)
            except ConfigError as exc:
                raise StartupError(f"--config {key}: {exc}") from None
        if self.options.password is not None:
            try:
                probe.set_initial("AuthorizationKey", self.options.password)
            except ConfigError as exc:
                raise StartupError(f"--password: {exc}") from None

    def _check_state_dir(self, *, reset: bool = False) -> None:
        """The state folder must be a writable folder whose station.db (if any) is a state
        file this version can use: found now, it is a one-line error and exit 2, not a
        traceback from inside the running station. It is locked for this process (two stations
        on one state would each undo the other's writes), and with `reset` emptied of what the
        station kept."""
        state_dir = self.options.state_dir
        if state_dir is None:
            return
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StartupError(f"--state-dir {state_dir}: exists and is not a folder") from None
        except OSError as exc:
            raise StartupError(f"--state-dir {state_dir}: {_reason(exc)}") from None
        if not os.access(state_dir, os.W_OK | os.X_OK):
            raise StartupError(f"--state-dir {state_dir}: not writable")
        self._lock_state_dir(state_dir)
        if reset:
            forget_state(state_dir)
        try:
            # Opening applies the migrations the run would apply a moment later.
            StationStore(state_dir / STATE_FILE).close()
        except StoreError as exc:
            raise StartupError(f"--state-dir: {exc}") from None
        except OSError as exc:
            raise StartupError(f"--state-dir {state_dir}: {_reason(exc)}") from None

    def _lock_state_dir(self, state_dir: Path) -> None:
        try:
            self._lock = lock_folder(state_dir)
        except FolderInUse as exc:
            raise StartupError(
                f"--state-dir {state_dir}: {exc}; stop it, or give another folder"
            ) from None

    def _embedded_csms(self) -> CentralSystem:
        """The central system `run` starts without --csms: plain for security profiles 0 and
        1; from profile 2 on, TLS with a certificate authority kept in the state folder, whose
        root the station gets as if by --ca (and, for profile 3, a certificate it signed, as if
        by --cert/--key, unless given)."""
        from ocpp_station.csms.authority import CertificateAuthority
        from ocpp_station.csms.server import CentralSystem

        options = self.options
        profile = _security_profile(options.config)
        passwords = {options.identity: options.password} if options.password else {}
        if profile < 2:
            return CentralSystem("127.0.0.1", 0, passwords=passwords)
        folder = (options.state_dir or Path(".")) / "csms-ca"
        authority = CertificateAuthority.in_folder(folder)
        options.ca_pem = (options.ca_pem or "") + authority.root_pem
        if profile == 3 and options.cert_pem is None:
            serial = options.serial or options.identity
            options.cert_pem, options.key_pem = authority.issue_station(serial, "ocpp-station")
        return CentralSystem(
            "127.0.0.1",
            0,
            passwords=passwords,
            ssl_context=authority.server_context(),
            authority=authority,
        )

    async def run(self) -> None:
        csms = None
        if not self.options.csms_url:
            csms = self._embedded_csms()
            await csms.start()
            self.options.csms_url = csms.url
        # From here on, log lines of the station's work name it (the tasks it starts inherit
        # this context; the central system above started before, and its lines do not).
        STATION.set(self.options.identity)
        runtime = StationRuntime(self.options, messages=self.messages)
        api = ControlApi(current=lambda: self.runtime, gate=self.gate, power_cut=self._power_cut)
        try:
            await api.start(*self.control)
        except OSError as exc:
            # An address in use is a bad argument: exit 2, as for every command.
            where = f"{self.control[0]}:{self.control[1]}"
            print(f"ocpp-station: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
            await runtime.stop()
            raise SystemExit(2) from None
        print(f"control: http://{api.host}:{api.port}", flush=True)
        self.gate.announce()
        if csms is not None:
            print(f"csms: {csms.url}", flush=True)
        if self.options.state_dir is not None:
            print(f"state: {self.options.state_dir}", flush=True)
        try:
            await self._run_powered(runtime)
        finally:
            if self.runtime is not None:
                with contextlib.suppress(Exception):
                    await self.runtime.stop()
            await api.stop()
            if csms is not None:
                await csms.stop()
            await asyncio.sleep(0)

    async def _run_powered(self, runtime: StationRuntime) -> None:
        """Run the station; after a power cut (the control API's), wait while the power is
        off and start a new station on the same state folder, as a charger does."""
        loop = asyncio.get_running_loop()
        while True:
            self.runtime = runtime
            cut: asyncio.Future[float] = loop.create_future()
            self._cut = cut
            task = loop.create_task(runtime.run(), name="station")
            try:
                # Waiting, not awaiting: a cancellation (SIGTERM) reaches the station below.
                either: set[asyncio.Future[Any]] = {task, cut}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                task.cancel()  # StationRuntime.run turns it into the controlled shutdown
                await asyncio.gather(task, return_exceptions=True)
                if self.runtime is None:  # a power cut had begun: run()'s cleanup skips it
                    await runtime.stop()
                raise
            if not cut.done():
                task.result()  # the station ended by itself: its error, if any
                return
            self._cut = None
            self.runtime = None
            await runtime.power_loss()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            runtime.store.close()
            log.warning("power cut: off for %.1f s", cut.result())
            await asyncio.sleep(cut.result())
            runtime = StationRuntime(self.options, messages=self.messages)
            log.info("power back: the station starts again from its state folder")

    async def _power_cut(self, request: web.Request, off: float) -> None:
        if self._cut is None or self._cut.done():
            raise NoPower("the station has no power already")
        self.runtime = None  # from this answer on, the API sees no power
        self._cut.set_result(off)
        self.messages.wake()  # the open pages show it at once


def forget_state(state_dir: Path) -> None:
    """`--reset`: the station starts as from the factory: its database (configuration,
    transactions, queued messages, certificates) and its files go; the lock stays."""
    for name in (STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm", f"{STATE_FILE}-journal"):
        (state_dir / name).unlink(missing_ok=True)
    for folder in ("files", "csms-ca"):
        shutil.rmtree(state_dir / folder, ignore_errors=True)


def _security_profile(config: list[tuple[str, str]]) -> int:
    """The SecurityProfile `--config` asks for (0 when none: the key's default)."""
    for key, value in reversed(config):
        if key.casefold() == "securityprofile":
            return int(value)
    return 0


def _reason(exc: OSError) -> str:
    """An OSError as a short phrase ("Permission denied"), without the repeated path."""
    return exc.strerror or str(exc)
