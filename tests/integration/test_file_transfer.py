"""The FileTransfer port against real servers on 127.0.0.1: HTTP and HTTPS (aiohttp), FTP and
FTPS (pyftpdlib), with certificates the test makes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer

from ocpp_station.file_transfer import UrlFileTransfer
from ocpp_station.station.ports import TransferError
from tests.certs import TestCA

IMAGE = b"version: 2.0.0\n" + bytes(range(256)) * 1000  # 256 kB, every byte value


class HttpFiles:
    """GET /files/<name> from a dict, PUT /upload/<name> into it, anything else 404."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {"fw.bin": IMAGE}
        self.uploaded: dict[str, bytes] = {}
        self.url = ""

    async def get(self, request: web.Request) -> web.StreamResponse:
        data = self.files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data)

    async def put(self, request: web.Request) -> web.Response:
        self.uploaded[request.match_info["name"]] = await request.read()
        return web.Response(status=201)


async def _serve(files: HttpFiles, tls: object = None) -> web.AppRunner:
    app = web.Application()
    app.router.add_get("/files/{name}", files.get)
    app.router.add_put("/upload/{name}", files.put)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)  # type: ignore[arg-type]
    await site.start()
    port = runner.addresses[0][1]
    files.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    return runner


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
async def http() -> AsyncIterator[HttpFiles]:
    files = HttpFiles()
    runner = await _serve(files)
    yield files
    await runner.cleanup()


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "ca")


async def test_http_download_lands_whole(http: HttpFiles, tmp_path: Path) -> None:
    target = tmp_path / "fw.bin"
    await UrlFileTransfer().download(f"{http.url}/files/fw.bin", target)
    assert target.read_bytes() == IMAGE
    assert _names(tmp_path) == ["fw.bin"]  # no partial file left


async def test_http_not_found_fails_and_leaves_nothing(http: HttpFiles, tmp_path: Path) -> None:
    target = tmp_path / "fw.bin"
    with pytest.raises(TransferError, match="HTTP 404"):
        await UrlFileTransfer().download(f"{http.url}/files/missing.bin", target)
    assert _names(tmp_path) == []


async def test_http_put_upload(http: HttpFiles, tmp_path: Path) -> None:
    source = tmp_path / "diag.zip"
    source.write_bytes(IMAGE)
    await UrlFileTransfer().upload(source, f"{http.url}/upload/diag.zip")
    assert http.uploaded == {"diag.zip": IMAGE}


async def test_https_trusts_only_the_given_root(ca: TestCA, tmp_path: Path) -> None:
    files = HttpFiles()
    runner = await _serve(files, tls=ca.server_context())
    try:
        trusting = UrlFileTransfer(tls=ca.client_context())
        await trusting.download(f"{files.url}/files/fw.bin", tmp_path / "fw.bin")
        assert (tmp_path / "fw.bin").read_bytes() == IMAGE
        # The system's trust store does not know the test's CA: no download, no file.
        with pytest.raises(TransferError, match=r"(?i)certificate"):
            await UrlFileTransfer().download(f"{files.url}/files/fw.bin", tmp_path / "other.bin")
        assert not (tmp_path / "other.bin").exists()
    finally:
        await runner.cleanup()


async def test_an_unknown_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="unsupported scheme 'sftp'"):
        await UrlFileTransfer().download("sftp://127.0.0.1/fw.bin", tmp_path / "fw.bin")


async def test_a_refused_connection_is_a_transfer_error(tmp_path: Path) -> None:
    with pytest.raises(TransferError):
        await UrlFileTransfer(timeout=5).download("http://127.0.0.1:1/fw.bin", tmp_path / "f")


# ------------------------------------------------------------------------------------- FTP
class Ftp:
    def __init__(self, root: Path, port: int, scheme: str) -> None:
        self.root = root
        self.url = f"{scheme}://station:s3cret@127.0.0.1:{port}"


def _ftp_server(root: Path, handler: type[FTPHandler]) -> tuple[FTPServer, threading.Thread]:
    authorizer = DummyAuthorizer()
    authorizer.add_user("station", "s3cret", str(root), perm="elrw")
    handler.authorizer = authorizer
    handler.passive_ports = None
    server = FTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def ftp(tmp_path: Path) -> Iterator[Ftp]:
    root = tmp_path / "ftp"
    root.mkdir()
    (root / "fw.bin").write_bytes(IMAGE)
    handler = type("Handler", (FTPHandler,), {})
    server, thread = _ftp_server(root, handler)
    yield Ftp(root, server.address[1], "ftp")
    server.close_all()
    thread.join(5)


@pytest.fixture
def ftps(tmp_path: Path, ca: TestCA) -> Iterator[tuple[Ftp, TestCA]]:
    root = tmp_path / "ftps"
    root.mkdir()
    (root / "fw.bin").write_bytes(IMAGE)
    issued = ca.issue_server("ftp")
    handler = type(
        "TlsHandler",
        (TLS_FTPHandler,),
        {"certfile": str(issued.cert), "keyfile": str(issued.key), "tls_data_required": True},
    )
    server, thread = _ftp_server(root, handler)
    yield Ftp(root, server.address[1], "ftps"), ca
    server.close_all()
    thread.join(5)


async def test_ftp_download_and_upload(ftp: Ftp, tmp_path: Path) -> None:
    transfer = UrlFileTransfer(timeout=10)
    await transfer.download(f"{ftp.url}/fw.bin", tmp_path / "fw.bin")
    assert (tmp_path / "fw.bin").read_bytes() == IMAGE
    await transfer.upload(tmp_path / "fw.bin", f"{ftp.url}/diag.zip")
    assert (ftp.root / "diag.zip").read_bytes() == IMAGE


async def test_ftp_missing_file_and_wrong_password(ftp: Ftp, tmp_path: Path) -> None:
    transfer = UrlFileTransfer(timeout=10)
    with pytest.raises(TransferError, match="550"):
        await transfer.download(f"{ftp.url}/missing.bin", tmp_path / "x.bin")
    assert not (tmp_path / "x.bin").exists()
    wrong = ftp.url.replace("s3cret", "wrong")
    with pytest.raises(TransferError, match="530") as caught:
        await transfer.download(f"{wrong}/fw.bin", tmp_path / "x.bin")
    assert "wrong" not in str(caught.value)  # the password never reaches a log line


async def test_ftps_with_a_protected_data_channel(ftps: tuple[Ftp, TestCA], tmp_path: Path) -> None:
    server, ca = ftps
    transfer = UrlFileTransfer(tls=ca.client_context(), timeout=10)
    await transfer.download(f"{server.url}/fw.bin", tmp_path / "fw.bin")
    assert (tmp_path / "fw.bin").read_bytes() == IMAGE
    await transfer.upload(tmp_path / "fw.bin", f"{server.url}/up.bin")
    assert (server.root / "up.bin").read_bytes() == IMAGE
    with pytest.raises(TransferError, match=r"(?i)certificate"):
        await UrlFileTransfer(timeout=10).download(f"{server.url}/fw.bin", tmp_path / "y.bin")


async def test_a_slow_server_times_out(tmp_path: Path) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TransferError, match=r"not complete in 0\.5 s"):
            await UrlFileTransfer(timeout=0.5).download(
                f"http://127.0.0.1:{port}/fw.bin", tmp_path / "fw.bin"
            )
    finally:
        server.close()
