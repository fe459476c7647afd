"""Who does the physical steps of a case: plug a cable in, present a card, cut the power.

- ControlApiDriver: the station's HTTP control API (interface.md), ours or any station's
  adapter that speaks it.
- OperatorDriver: a person at the station, asked on the console, with a timeout.
- ProcessPower: the power switch of our own station process (SIGTERM or SIGKILL, then start
  again on the same state folder: interface.md's simulated power loss).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any, Protocol, TextIO

import aiohttp

from ocpp_station.conformance.case import NotApplicable, ToolError


class DriverError(ToolError):
    """The driver could not carry out a physical step."""


class Driver(Protocol):
    """What a case asks of the world around the station."""

    @property
    def description(self) -> str:
        """For the report, e.g. "HTTP control API at http://127.0.0.1:8180"."""
        ...

    async def plug(self, connector_id: int) -> None: ...
    async def unplug(self, connector_id: int) -> None: ...
    async def present_card(self, id_tag: str, connector_id: int | None) -> None: ...
    async def suspend_ev(self, connector_id: int) -> None: ...
    async def resume_ev(self, connector_id: int) -> None: ...
    async def raise_fault(self, connector_id: int, error_code: str, info: str | None) -> None: ...
    async def clear_fault(self, connector_id: int) -> None: ...
    async def set_lock_failure(self, connector_id: int, failing: bool) -> None: ...
    async def press_stop(self, connector_id: int, reason: str) -> None: ...

    async def power_cycle(self, graceful: bool) -> None:
        """Power the station off (a shutdown when graceful, else a power cut) and on again;
        returns once it is powered (not necessarily connected yet)."""
        ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------------------- power switch


class Restartable(Protocol):
    """A station process that can be stopped and started again on the same state."""

    async def terminate(self) -> int | None:
        """A controlled shutdown (SIGTERM); returns the exit code."""
        ...

    async def kill(self) -> None:
        """A power cut (SIGKILL)."""
        ...

    async def start(self) -> str:
        """Start again; returns the control API URL it got."""
        ...


class ProcessPower:
    """The power switch of our own station process."""

    def __init__(self, process: Restartable) -> None:
        self.process = process

    async def power_cycle(self, graceful: bool) -> str:
        """Off and on again; returns the new control API URL."""
        if graceful:
            await self.process.terminate()
        else:
            await self.process.kill()
        return await self.process.start()


# ---------------------------------------------------------------------------- control API


class ControlApiDriver:
    """Physical steps through the HTTP control API of interface.md."""

    def __init__(
        self,
        base_url: str,
        *,
        power: ProcessPower | None = None,
        timeout: float = 10.0,
        description: str | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"the control API URL must be http:// or https://: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.power = power
        self._timeout = timeout
        self._description = description
        self._http: aiohttp.ClientSession | None = None

    @property
    def description(self) -> str:
        return self._description or f"HTTP control API at {self.base_url}"

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        url = self.base_url + path
        try:
            async with self._http.request(method, url, json=body) as response:
                data = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DriverError(f"{method} {url} failed: {exc or type(exc).__name__}") from exc
        if status != 200:
            reason = data.get("error") if isinstance(data, dict) else data
            if status == 501:
                # The adapter's station cannot do this step at all (no such hook, no such
                # hardware): the case does not apply, as when an operator answers "skip".
                raise NotApplicable(
                    f"the station's control adapter cannot {method} {path}: {reason}"
                )
            raise DriverError(f"{method} {path} answered {status}: {reason}")
        return data

    async def plug(self, connector_id: int) -> None:
        await self._request("POST", f"/api/connectors/{connector_id}/plug")

    async def unplug(self, connector_id: int) -> None:
        await self._request("POST", f"/api/connectors/{connector_id}/unplug")

    async def present_card(self, id_tag: str, connector_id: int | None) -> None:
        body: dict[str, Any] = {"idTag": id_tag}
        if connector_id is not None:
            body["connectorId"] = connector_id
        await self._request("POST", "/api/rfid", body)

    async def suspend_ev(self, connector_id: int) -> None:
        await self._request("POST", f"/api/connectors/{connector_id}/ev/suspend")

    async def resume_ev(self, connector_id: int) -> None:
        await self._request("POST", f"/api/connectors/{connector_id}/ev/resume")

    async def raise_fault(self, connector_id: int, error_code: str, info: str | None) -> None:
        body: dict[str, Any] = {"errorCode": error_code}
        if info is not None:
            body["info"] = info
        await self._request("POST", f"/api/connectors/{connector_id}/fault", body)

    async def clear_fault(self, connector_id: int) -> None:
        await self._request("DELETE", f"/api/connectors/{connector_id}/fault")

    async def set_lock_failure(self, connector_id: int, failing: bool) -> None:
        method = "POST" if failing else "DELETE"
        await self._request(method, f"/api/connectors/{connector_id}/lock-failure")

    async def press_stop(self, connector_id: int, reason: str) -> None:
        await self._request("POST", f"/api/connectors/{connector_id}/stop", {"reason": reason})

    async def power_cycle(self, graceful: bool) -> None:
        if self.power is None:
            raise DriverError("the control API has no power switch")
        await self.close()
        self.base_url = (await self.power.power_cycle(graceful)).rstrip("/")

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


# ---------------------------------------------------------------------------- operator


class Console:
    """Questions on an output stream, answers as lines on an input stream, with a timeout.

    The input is read by a daemon thread (a blocking readline cannot be cancelled); lines typed
    before a question is asked are discarded, so an early Enter does not answer it.
    """

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self._stdin = stdin if stdin is not None else sys.stdin
        self._stdout = stdout if stdout is not None else sys.stdout
        self._lines: asyncio.Queue[str | None] | None = None
        self._eof = False

    def _start_reader(self) -> asyncio.Queue[str | None]:
        if self._lines is None:
            loop = asyncio.get_running_loop()
            lines: asyncio.Queue[str | None] = asyncio.Queue()
            self._lines = lines
            stdin = self._stdin

            def read() -> None:
                while True:
                    line = stdin.readline()
                    try:
                        loop.call_soon_threadsafe(lines.put_nowait, line or None)
                    except RuntimeError:  # the loop is gone
                        return
                    if not line:
                        return

            threading.Thread(target=read, name="conformance-console", daemon=True).start()
        return self._lines

    def say(self, text: str) -> None:
        print(text, file=self._stdout, flush=True)

    async def ask(
        self,
        question: str,
        timeout: float,  # noqa: ASYNC109 - how long the operator has
    ) -> str:
        """The answer line (without its newline). Raises TimeoutError, or EOFError when the
        input is closed."""
        if self._eof:
            raise EOFError("the console input is closed")
        lines = self._start_reader()
        while not lines.empty():
            if lines.get_nowait() is None:
                self._eof = True
                raise EOFError("the console input is closed")
        print(question, end="", file=self._stdout, flush=True)
        async with asyncio.timeout(timeout):
            line = await lines.get()
        if line is None:
            self._eof = True
            raise EOFError("the console input is closed")
        return line.rstrip("\r\n")


SKIP_ANSWERS = frozenset({"skip", "s", "no", "n"})


class OperatorDriver:
    """Physical steps asked of a person at the station."""

    description = "operator on the console"

    def __init__(self, console: Console, timeout: float) -> None:
        if not timeout > 0:
            raise ValueError("the operator timeout must be positive")
        self.console = console
        self.timeout = timeout

    async def _do(self, instruction: str) -> None:
        question = f"\n>>> {instruction}, then press Enter (type 'skip' if this cannot be done): "
        try:
            answer = await self.console.ask(question, self.timeout)
        except TimeoutError:
            raise DriverError(
                f"the operator did not answer within {self.timeout:g} s: {instruction}"
            ) from None
        except EOFError:
            raise DriverError(f"no operator (the console input is closed): {instruction}") from None
        if answer.strip().lower() in SKIP_ANSWERS:
            raise NotApplicable(f"the operator could not do it: {instruction}")

    async def plug(self, connector_id: int) -> None:
        await self._do(f"Plug the cable of connector {connector_id} into the EV")

    async def unplug(self, connector_id: int) -> None:
        await self._do(f"Unplug the cable of connector {connector_id} from the EV")

    async def present_card(self, id_tag: str, connector_id: int | None) -> None:
        where = "" if connector_id is None else f" for connector {connector_id}"
        await self._do(f"Present the card {id_tag} to the reader{where}")

    async def suspend_ev(self, connector_id: int) -> None:
        await self._do(f"Make the EV on connector {connector_id} stop drawing power")

    async def resume_ev(self, connector_id: int) -> None:
        await self._do(f"Make the EV on connector {connector_id} draw power again")

    async def raise_fault(self, connector_id: int, error_code: str, info: str | None) -> None:
        await self._do(f"Cause a {error_code} fault on connector {connector_id}")

    async def clear_fault(self, connector_id: int) -> None:
        await self._do(f"Clear the fault of connector {connector_id}")

    async def set_lock_failure(self, connector_id: int, failing: bool) -> None:
        if failing:
            await self._do(f"Make the lock of connector {connector_id} fail to move")
        else:
            await self._do(f"Let the lock of connector {connector_id} work again")

    async def press_stop(self, connector_id: int, reason: str) -> None:
        button = "emergency stop" if reason == "EmergencyStop" else "stop button"
        await self._do(f"Press the {button} of connector {connector_id}")

    async def power_cycle(self, graceful: bool) -> None:
        if graceful:
            await self._do("Shut the station down normally and switch it on again")
        else:
            await self._do("Cut the station's power (pull the plug) and restore it")

    async def close(self) -> None:
        return None
