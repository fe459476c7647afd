"""The asyncio shell around one station: clock, socket, RPC endpoint, store, hardware.

It wires the parts and does the I/O; every decision is the station's (ocpp_station.station).
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ocpp_station import profiles
from ocpp_station.clock import Clock, LoopClock
from ocpp_station.file_transfer import UrlFileTransfer
from ocpp_station.hardware.firmware import SimulatedInstaller
from ocpp_station.hardware.interfaces import AcSupply, Hardware, HasFirmwareInstaller
from ocpp_station.hardware.simulator import DC_MAX_POWER_W, Simulator
from ocpp_station.hardware.simulator_ev import EvProfile
from ocpp_station.hardware.transfer_faults import FaultyFiles, FaultyInstaller, TransferFaults
from ocpp_station.profiles.security.local import install_local
from ocpp_station.rpc.endpoint import RpcEndpoint
from ocpp_station.rpc.secrets import shown_frame
from ocpp_station.station.boot_info import BootInfo
from ocpp_station.station.datatransfer import DataTransferService, VendorHandler
from ocpp_station.station.ports import FileTransfer, FirmwareInstaller, Ports
from ocpp_station.station.station import Station
from ocpp_station.station_logs import StationLogs, process_log
from ocpp_station.storage.interface import StateStore
from ocpp_station.storage.store import StationStore
from ocpp_station.transport.client import build_url
from ocpp_station.transport.select import make_client

log = logging.getLogger("ocpp_station.runtime")
# One line per OCPP frame at DEBUG: `CP-1 -> [2,"1","BootNotification",{...}]` (sent) and `<-`.
frames_log = logging.getLogger("ocpp_station.frames")

# Builds the hardware of a station: (clock, number of connectors) -> Hardware.
HardwareFactory = Callable[[Clock, int], Hardware]

# The reference charger's BootNotification fields (its software version is 1.0.0).
DEFAULT_VENDOR = "ocpp-station"
DEFAULT_MODEL = "DC-2x50"
DEFAULT_SERIAL = "OS-DC-000001"
DEFAULT_FIRMWARE = "1.0.0"
MESSAGE_LOG_SIZE = 10_000
# How long a controlled shutdown (SIGTERM) waits for the central system to answer what is queued.
SHUTDOWN_GRACE = 5.0
# The station's SQLite file inside --state-dir.
STATE_FILE = "station.db"
# Tells this process's message ids from an earlier process's, where the counter starts afresh.
PROCESS_PREFIX = secrets.token_hex(4)


@dataclass(slots=True)
class StationOptions:
    identity: str = "CP-1"
    csms_url: str = ""
    state_dir: Path | None = None
    connectors: int = 2
    password: str | None = None
    config: list[tuple[str, str]] = field(default_factory=list)
    vendor: str = DEFAULT_VENDOR
    model: str = DEFAULT_MODEL
    serial: str | None = DEFAULT_SERIAL
    firmware: str | None = DEFAULT_FIRMWARE
    fixed_cable: bool = True
    # An AC charger's supply; None simulates the reference DC charger.
    ac: AcSupply | None = None
    # The simulated DC charger's maximum power per connector (None: the reference's 50 kW),
    # the one EV that plugs in (None: a car of the simulator's few), and the seconds its power
    # takes to follow a change.
    max_power_w: float | None = None
    ev: EvProfile | None = None
    ramp_seconds: float = 3.0
    # "package.module:factory" of DataTransfer handlers (load_vendor_handlers).
    datatransfer: list[str] = field(default_factory=list)
    # The local address the station's connection leaves from (None: the system's choice).
    source_address: str | None = None
    seed: int | None = None
    # "package.module:factory" of real hardware drivers; None runs the simulator.
    hardware: str | None = None
    # The WebSocket library (ocpp_station.transport.select): a single station keeps the
    # long-proven websockets client; a fleet takes picows, half the CPU per frame.
    transport: str = "websockets"
    # PEM text given by the installer (`--ca`, `--cert`, `--key`): the central system's root
    # certificate(s) and the station's certificate chain and key, installed at start.
    ca_pem: str | None = None
    cert_pem: str | None = None
    key_pem: str | None = None


class MessageLog:
    """The OCPP frames sent and received, numbered, for GET /api/messages.

    Frames are kept encoded: a parsed MeterValues frame costs several times its JSON text, and
    a fleet keeps a log per station."""

    def __init__(self, size: int = MESSAGE_LOG_SIZE) -> None:
        self._entries: deque[tuple[int, float, str, str]] = deque(maxlen=size)
        self._seq = itertools.count(1)
        self.last_seq = 0
        # The web page's streams, woken by the next frame (control/stream.py).
        self._wakers: list[asyncio.Future[None]] = []

    def add(self, direction: str, frame: list[Any]) -> str:
        """Keep `frame`; its text as kept (the AuthorizationKey hidden)."""
        # As text: orjson's bytes keep a 4 KB buffer however short the JSON (3.x, measured).
        # Kept as it may be shown: GET /api/messages and the diagnostics upload read it.
        text = orjson.dumps(shown_frame(frame)).decode()
        self.last_seq = next(self._seq)
        self._entries.append((self.last_seq, time.time(), direction, text))
        if self._wakers:
            self.wake()
        return text

    def wake(self) -> None:
        """Wake the pages that wait for the next frame: something they show changed."""
        for waker in self._wakers:
            if not waker.done():
                waker.set_result(None)
        self._wakers.clear()

    def wake_on(self, waker: asyncio.Future[None]) -> None:
        """Complete `waker` at the next frame."""
        self._wakers.append(waker)

    def unwake(self, waker: asyncio.Future[None]) -> None:
        if waker in self._wakers:
            self._wakers.remove(waker)

    def raw_after(self, seq: int) -> list[tuple[int, float, str, str]]:
        """(seq, time, direction, frame as JSON text) of the frames after `seq`."""
        newer = []
        for entry in reversed(self._entries):  # the newest first: a page asks for few
            if entry[0] <= seq:
                break
            newer.append(entry)
        newer.reverse()
        return newer

    def frames(self) -> list[tuple[float, str, str]]:
        """(time, direction, frame as JSON text) of every frame kept, oldest first."""
        return [(t, d, raw) for _, t, d, raw in self._entries]

    def after(self, seq: int) -> list[dict[str, Any]]:
        return [
            {"seq": n, "time": t, "direction": d, "frame": orjson.loads(raw)}
            for n, t, d, raw in self._entries
            if n > seq
        ]


class StationRuntime:
    """One station: `store` (default: a file in options.state_dir, else memory) and `messages`
    (default: the last MESSAGE_LOG_SIZE frames) can be given, as a fleet does."""

    def __init__(
        self,
        options: StationOptions,
        *,
        store: StateStore | None = None,
        messages: MessageLog | None = None,
        ports: Ports | None = None,
    ) -> None:
        self.options = options
        self.clock = LoopClock()
        self.messages = messages if messages is not None else MessageLog()
        if store is None:
            path = None
            if options.state_dir is not None:
                options.state_dir.mkdir(parents=True, exist_ok=True)
                path = options.state_dir / STATE_FILE
            store = StationStore(path)
            if path is not None:
                # It holds the station's private key and passwords: its user's alone.
                path.chmod(0o600)
        self.store = store
        self.hardware = make_hardware(options, self.clock)
        self.transfer_faults = TransferFaults()
        self._restore_physical()
        self.config = profiles.configuration(
            connectors=options.connectors,
            measurands=self.hardware.measurands,
            store=self.store,
            fixed_cable=options.fixed_cable,
        )
        for key, value in options.config:
            self.config.set_initial(key, value)  # ConfigError goes to the CLI: exit 2
        if options.password is not None:
            self.config.set_initial("AuthorizationKey", options.password)
        if options.ca_pem or options.cert_pem or options.key_pem:
            # CertificateError (a ValueError) goes to the CLI: exit 2.
            install_local(
                self.store,
                self.clock.now(),
                ca_pem=options.ca_pem,
                cert_pem=options.cert_pem,
                key_pem=options.key_pem,
            )
        self.station = Station(
            identity=options.identity,
            clock=self.clock,
            hardware=self.hardware,
            config=self.config,
            store=self.store,
            info=BootInfo(options.vendor, options.model, options.serial, options.firmware),
            on_reboot=self._reboot,
            ports=ports if ports is not None else self._default_ports(),
        )
        self.station.events.physical_changed.connect(self._save_physical)
        vendors = self.station.service(DataTransferService)
        for spec in options.datatransfer:
            for vendor_id, handler in load_vendor_handlers(spec, self.hardware).items():
                vendors.register(vendor_id, handler)
        # How the station reaches its central system (its security profile).
        self.link = self.station.link()
        self.url = build_url(options.csms_url, options.identity)
        # What the connection does when a key changes, by key.
        self._reactions: dict[str, Callable[[str], None]] = {
            "MessageTimeout": self._message_timeout_changed,
            "WebSocketPingInterval": self._ping_interval_changed,
        }
        for key in self.link.retarget_keys:
            self._reactions[key] = self._retarget_soon
        self.config.subscribe(self._config_changed)
        self.router = self.station.router()
        self.endpoint: RpcEndpoint | None = None
        target = self.link.target(self.url)
        self.client = make_client(
            options.transport,
            target.url,
            options.identity,
            password=target.password,
            ssl_context=target.ssl,
            on_open=self._on_open,
            on_message=self._on_message,
            on_close=self._on_close,
            on_connect_error=self._connect_failed,
            ping_interval=float(self.config.get_int("WebSocketPingInterval")),
            source_address=options.source_address,
        )
        self.on_state_change: list[Callable[[], None]] = []
        self._invalid_reported = False
        # How long a controlled shutdown waits for the central system to take the queue, and
        # whether it waits when offline (for a reconnection) too.
        self.shutdown_grace = SHUTDOWN_GRACE
        self.shutdown_waits_offline = False
        self._power_lost = False

    def _default_ports(self) -> Ports:
        hardware = self.hardware
        installer: FirmwareInstaller = (
            hardware.firmware_installer
            if isinstance(hardware, HasFirmwareInstaller)
            else SimulatedInstaller()
        )
        files: FileTransfer = UrlFileTransfer()
        if isinstance(hardware, Simulator):
            # The simulator's failure switches (control API), off until someone turns them on.
            files = FaultyFiles(files, self.transfer_faults, self.clock)
            installer = FaultyInstaller(installer, self.transfer_faults)
        state = self.options.state_dir
        return Ports(
            files=files,
            installer=installer,
            logs=StationLogs(process_log(), self.messages.frames),
            folder=state / "files" if state is not None else None,
        )

    def _next_message_id(self) -> str:
        """[JE] 3.1: a message id is unique per identity, across restarts too. A durable store
        counts on from where the last run stopped; a store that dies with the process starts
        at 1 again, so its ids carry this process's own prefix."""
        number = self.store.next_counter("message_id")
        return str(number) if self.store.durable else f"{PROCESS_PREFIX}-{number}"

    @property
    def connected(self) -> bool:
        return self.endpoint is not None

    async def run(self) -> None:
        """Run until cancelled; a cancellation (SIGTERM) is a controlled shutdown."""
        client = asyncio.get_running_loop().create_task(self.client.run(), name="client")
        try:
            # Waiting, not awaiting: cancelling us must not cancel the connection, which the
            # shutdown still needs to deliver the last StopTransactions.
            await asyncio.wait({client})
        except asyncio.CancelledError:
            if not self._power_lost:  # after a power loss there is nothing left to stop
                await self.shutdown()
            raise
        finally:
            await self.client.stop()
            if not client.done():
                client.cancel()
            await asyncio.gather(client, return_exceptions=True)
        client.result()

    async def shutdown(self) -> None:
        """Power going away with a UPS: sessions stop (PowerLoss), the outbox flushes while the
        central system answers within the grace time, the rest stays queued for the next start.
        """
        log.info("shutting down: stopping sessions, delivering queued messages")
        await self.station.power_down(self.shutdown_grace, wait_offline=self.shutdown_waits_offline)
        left = self.station.sender.queued
        if left:
            log.warning("shut down with %d transaction messages queued for the next start", left)

    async def stop(self) -> None:
        await self.client.stop()
        await self.station.close()
        self._save_physical()
        self.store.close()

    async def power_loss(self) -> None:
        """The power goes at once, as with SIGKILL: no StopTransaction, no close handshake, no
        timer fires again. What the store holds is all a new runtime on it will know."""
        self._power_lost = True
        self.clock.power_off()
        await self.client.abort()
        await self.station.close()

    # -- the physical world on disk, so a restart sees it as it is -----------------------------
    def _restore_physical(self) -> None:
        if not isinstance(self.hardware, Simulator):
            return  # real hardware senses the world itself
        raw = self.store.kv_get("simulator")
        if raw is None:
            return
        try:
            self.hardware.restore(orjson.loads(raw))
        except ValueError as exc:
            log.warning("ignoring the stored simulator state: %s", exc)

    def _save_physical(self) -> None:
        if isinstance(self.hardware, Simulator):
            self.store.kv_put("simulator", orjson.dumps(self.hardware.snapshot()).decode())

    # -- connection events --------------------------------------------------------------------
    async def _on_open(self) -> None:
        endpoint = RpcEndpoint(
            self.client.send,
            self.router,
            response_timeout=float(self._message_timeout()),
            next_id=self._next_message_id,
            lenient_answers=True,
            on_frame=self._frame,
            on_bad_frame=self._invalid_message,
        )
        self._invalid_reported = False
        self.endpoint = endpoint
        self.link.opened(self.client.tls_peer_certificate())
        log.info("online: %d transaction messages queued", self.station.sender.queued)
        self.station.connected(endpoint)

    def _frame(self, direction: str, frame: list[Any]) -> None:
        text = self.messages.add(direction, frame)
        if frames_log.isEnabledFor(logging.DEBUG):
            # Every frame, with the station's identity (DEBUG, or --log-level DEBUG); as
            # GET /api/messages shows it: never an AuthorizationKey.
            arrow = "<-" if direction == "in" else "->"
            frames_log.debug("%s %s %s", self.options.identity, arrow, text)

    def _invalid_message(self, data: bytes | str, exc: Exception) -> None:
        # Whitepaper §8 InvalidMessages, once per connection: a central system that sends
        # garbage in a loop must not fill the queue with events about it.
        if not self._invalid_reported:
            self._invalid_reported = True
            self.station.events.security_event.emit("InvalidMessages", str(exc)[:255])

    async def _on_message(self, data: bytes | str) -> None:
        endpoint = self.endpoint
        if endpoint is not None:
            await endpoint.feed(data)

    async def _on_close(self, exc: BaseException | None) -> None:
        endpoint = self.endpoint
        self.endpoint = None
        if endpoint is not None:
            endpoint.connection_lost()
        self.station.disconnected()
        # A station that is stopping closes the link itself: no cause for alarm.
        log.log(
            logging.INFO if self.client.stopping else logging.WARNING,
            "offline%s; %d transaction messages queued",
            f" ({exc})" if exc else "",
            self.station.sender.queued,
        )

    def _message_timeout(self) -> int:
        try:
            return self.config.get_int("MessageTimeout")
        except KeyError:
            return 30

    async def _reboot(self, kind: str) -> None:
        log.info("reboot (%s reset)", kind)
        self.station.reboot()
        await self.client.reconnect()

    def _config_changed(self, key: str, value: str) -> None:
        reaction = self._reactions.get(key)
        if reaction is not None:
            reaction(value)

    def _message_timeout_changed(self, value: str) -> None:
        if self.endpoint is not None:
            self.endpoint.set_response_timeout(float(value))  # takes effect at once

    def _ping_interval_changed(self, value: str) -> None:
        self.client.set_ping_interval(float(value))

    def _retarget(self) -> None:
        target = self.link.target(self.url)
        self.client.retarget(target.url, target.ssl, target.password)

    def _retarget_soon(self, value: str) -> None:
        # A new password or security profile ([W] A01, A05): used from the next connection,
        # which comes at once.
        self._retarget()
        self.station.spawn(self._reconnect_soon())

    async def _connect_failed(self, exc: BaseException) -> None:
        if self.link.failed(exc):
            self._retarget()  # back to the profile that worked

    async def _reconnect_soon(self) -> None:
        # Let the ChangeConfiguration.conf leave on the old connection first.
        await asyncio.sleep(0.5)
        await self.client.reconnect()


def load_factory(spec: str, option: str) -> Callable[..., Any]:
    """Import `package.module:factory` named by `option` (ValueError saying what is wrong)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{option} must be MODULE:FACTORY, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"{option}: cannot import {module_name}: {exc}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ValueError(f"{option}: {module_name} has no callable {attribute}")
    return factory  # type: ignore[no-any-return]


def load_hardware_factory(spec: str) -> HardwareFactory:
    """The factory that builds the Hardware of a real charger (`--hardware`)."""
    return load_factory(spec, "--hardware")


def load_vendor_handlers(spec: str, hardware: Hardware) -> dict[str, VendorHandler]:
    """`--datatransfer MODULE:FACTORY`: FACTORY(hardware) gives {vendorId: handler}, the
    charger maker's answers to the central system's DataTransfer (§4.3, §5.6)."""
    handlers = load_factory(spec, "--datatransfer")(hardware)
    if not isinstance(handlers, Mapping) or not all(
        isinstance(vendor, str) and 1 <= len(vendor) <= 255 and callable(handler)
        for vendor, handler in handlers.items()
    ):
        raise ValueError(
            f"--datatransfer {spec}: the factory must return {{vendorId: handler}} "
            "(vendorIds of 1 to 255 characters)"
        )
    return dict(handlers)


def make_hardware(options: StationOptions, clock: Clock) -> Hardware:
    if options.hardware:
        hardware = load_hardware_factory(options.hardware)(clock, options.connectors)
        if len(hardware.connectors) != options.connectors:
            raise ValueError(
                f"--hardware built {len(hardware.connectors)} connectors, "
                f"--connectors says {options.connectors}"
            )
        return hardware
    return Simulator(
        clock,
        options.connectors,
        fixed_cable=options.fixed_cable,
        has_lock=not options.fixed_cable,
        seed=options.seed,
        supply=options.ac,
        max_power_w=options.max_power_w or DC_MAX_POWER_W,
        ev=options.ev,
        ramp_seconds=options.ramp_seconds,
    )
