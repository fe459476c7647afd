"""What the security extensions cost: TLS against plain WebSocket connections, and the
certificate work of the station.

- connections: a station's client (websockets) opening and closing connections to the
  embedded central system on 127.0.0.1, plain (profile 1) against TLS 1.3 with the station's
  client certificate (profile 3): ms per connection, the ratio in the same run;
- frames: Heartbeats on one open connection, plain against TLS: µs per round trip, the ratio;
- certificates: the CertificateHashData of a root, a CSR with a fresh key, and the check of a
  1 MB firmware image's ECDSA signature: µs or ms per operation.

Both ends run in this one process: the figures are the CPU of a station and its central system
together, which is what the ratio compares.

Run: .venv/bin/python bench/bench_security.py   (about 30 s)
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ocpp_station.csms.authority import CertificateAuthority
from ocpp_station.csms.server import CentralSystem
from ocpp_station.profiles.security import pki
from ocpp_station.rpc.endpoint import Router, RpcEndpoint
from ocpp_station.station.link import password_of
from ocpp_station.tls import load_cert_chain
from ocpp_station.transport import StationClient, build_url

CONNECTIONS = 200
FRAMES = 3000
ROUNDS = 3
PASSWORD = "bench-password-1"


class Station:
    """A client that opens, and answers nothing: enough to count connections and echoes."""

    def __init__(self, url: str, ssl_context: Any, password: bytes | None) -> None:
        self.opened = asyncio.Event()
        self.client = StationClient(
            url,
            "CP-B",
            password=password,
            ssl_context=ssl_context,
            on_open=self._on_open,
            on_message=self._on_message,
            on_close=self._on_close,
            reconnect_delay=0.0,
        )
        self.endpoint = RpcEndpoint(self.client.send, Router())

    async def _on_open(self) -> None:
        self.endpoint = RpcEndpoint(self.client.send, Router())
        self.opened.set()

    async def _on_message(self, frame: bytes | str) -> None:
        await self.endpoint.feed(frame)

    async def _on_close(self, exc: BaseException | None) -> None:
        self.opened.clear()
        self.endpoint.connection_lost()


async def _connections(csms: CentralSystem, ssl_context: Any, password: bytes | None) -> float:
    """ms per connection: open, first frame answered, close."""
    url = build_url(csms.url, "CP-B")
    start = time.perf_counter()
    for _ in range(CONNECTIONS):
        station = Station(url, ssl_context, password)
        task = asyncio.create_task(station.client.run())
        await asyncio.wait_for(station.opened.wait(), 10)
        await station.endpoint.call("Heartbeat", {}, timeout=10)
        await station.client.stop()
        await task
    return (time.perf_counter() - start) / CONNECTIONS * 1000


async def _frames(csms: CentralSystem, ssl_context: Any, password: bytes | None) -> float:
    """µs per Heartbeat round trip on one connection."""
    station = Station(build_url(csms.url, "CP-B"), ssl_context, password)
    task = asyncio.create_task(station.client.run())
    await asyncio.wait_for(station.opened.wait(), 10)
    start = time.perf_counter()
    for _ in range(FRAMES):
        await station.endpoint.call("Heartbeat", {}, timeout=10)
    elapsed = time.perf_counter() - start
    await station.client.stop()
    await task
    return elapsed / FRAMES * 1e6


async def _links() -> dict[str, float]:
    authority = CertificateAuthority.generate()
    cert_pem, key_pem = authority.issue_station("SN-BENCH", "Bench CPO")
    results: dict[str, list[float]] = {}
    for name in ("plain", "tls"):
        secure = name == "tls"
        server_tls = authority.server_context() if secure else None
        client_tls = None
        if secure:
            import ssl

            client_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            client_tls.load_verify_locations(cadata=authority.root_pem)
            load_cert_chain(client_tls, cert_pem, key_pem)
        password = None if secure else password_of(PASSWORD)
        passwords = {} if secure else {"CP-B": PASSWORD}
        csms = CentralSystem(ssl_context=server_tls, passwords=passwords, log=_quiet())
        await csms.start()
        try:
            for _ in range(ROUNDS):
                results.setdefault(f"{name} connection ms", []).append(
                    await _connections(csms, client_tls, password)
                )
                results.setdefault(f"{name} frame us", []).append(
                    await _frames(csms, client_tls, password)
                )
        finally:
            await csms.stop()
    return {key: statistics.median(values) for key, values in results.items()}


def _quiet() -> Any:
    import logging

    quiet = logging.getLogger("bench.csms")
    quiet.setLevel(logging.WARNING)
    return quiet


def _timed(fn: Any, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def _certificates() -> dict[str, float]:
    authority = CertificateAuthority.generate()
    root = authority.root
    image = bytes(range(256)) * 4096  # 1 MiB
    cert_pem, signer_key_pem = authority.issue_station("signer", "Maker")
    signer = pki.load_one(cert_pem)
    signer_key = pki.load_key(signer_key_pem)
    assert isinstance(signer_key, ec.EllipticCurvePrivateKey)
    signature = base64.b64encode(signer_key.sign(image, ec.ECDSA(hashes.SHA256()))).decode()
    return {
        "hash data us": _timed(lambda: pki.hash_data(root, root), 2000) * 1e6,
        "key + CSR ms": _timed(
            lambda: pki.make_csr(pki.new_key(), organization_name="CPO", serial="SN"), 200
        )
        * 1e3,
        "1 MiB signature check ms": _timed(
            lambda: pki.signature_valid(signer, image, signature), 50
        )
        * 1e3,
        "chain check us": _timed(lambda: pki.check_chain([signer], [root], _now()), 1000) * 1e6,
    }


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def main() -> None:
    links = asyncio.run(_links())
    print(f"connections ({CONNECTIONS} per round, median of {ROUNDS}), both ends in one process:")
    plain, tls = links["plain connection ms"], links["tls connection ms"]
    print(f"  plain + Basic auth   {plain:7.2f} ms per connection")
    print(f"  TLS + client cert    {tls:7.2f} ms per connection   ({tls / plain:.2f}x)")
    print(f"frames ({FRAMES} Heartbeat round trips on one connection, median of {ROUNDS}):")
    plain, tls = links["plain frame us"], links["tls frame us"]
    print(f"  plain                {plain:7.1f} us per round trip")
    print(f"  TLS                  {tls:7.1f} us per round trip   ({tls / plain:.2f}x)")
    figures = _certificates()
    print("certificates:")
    print(f"  CertificateHashData of a root   {figures['hash data us']:8.1f} us")
    print(f"  chain check, leaf to root       {figures['chain check us']:8.1f} us")
    print(f"  new EC P-256 key and its CSR    {figures['key + CSR ms']:8.2f} ms")
    print(f"  ECDSA check of a 1 MiB image    {figures['1 MiB signature check ms']:8.2f} ms")


if __name__ == "__main__":
    main()
