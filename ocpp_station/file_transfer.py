"""Files to and from URLs: the station's FileTransfer port (station.ports) over HTTP(S) and
FTP(S), for UpdateFirmware, GetDiagnostics and GetLog.

HTTP and HTTPS go through aiohttp; FTP and FTPS (explicit TLS, AUTH TLS, with a protected data
channel) through the standard library's ftplib, in a worker thread so the event loop never
blocks. A download lands in a temporary file next to its destination and is renamed into place
only when complete, so a failed or cut transfer never leaves a partial file behind.
"""

from __future__ import annotations

import asyncio
import ftplib
import os
import ssl
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp

from ocpp_station.station.ports import PROTOCOLS, TransferError, protocol_of, shown

# How long one transfer may take before it counts as failed.
DEFAULT_TIMEOUT = 300.0
_CHUNK = 64 * 1024


class UrlFileTransfer:
    """Downloads and uploads over HTTP, HTTPS, FTP and FTPS.

    `tls` is the context HTTPS and FTPS verify servers with (None: the system's trust store).
    An HTTP upload is a PUT of the file's bytes to the URL (a POST of a form with the file
    where the server refuses PUT); an FTP upload stores the file at the URL's path (the
    caller names the file).
    """

    protocols = frozenset(PROTOCOLS.values())

    def __init__(self, *, tls: ssl.SSLContext | None = None, timeout: float = DEFAULT_TIMEOUT):
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        self._tls = tls
        self._timeout = timeout

    async def download(self, url: str, destination: Path) -> None:
        scheme = _scheme(url)
        partial = destination.with_name(f".{destination.name}.part")
        try:
            async with asyncio.timeout(self._timeout):
                if scheme in ("HTTP", "HTTPS"):
                    await self._http_get(url, partial)
                else:
                    await asyncio.to_thread(self._ftp_get, url, partial)
            os.replace(partial, destination)
        except TimeoutError:
            raise TransferError(f"{shown(url)}: not complete in {self._timeout:g} s") from None
        except OSError as exc:
            raise TransferError(f"{shown(url)}: {_reason(exc)}") from None
        finally:
            partial.unlink(missing_ok=True)

    async def upload(self, source: Path, url: str) -> None:
        scheme = _scheme(url)
        try:
            async with asyncio.timeout(self._timeout):
                if scheme in ("HTTP", "HTTPS"):
                    await self._http_put(source, url)
                else:
                    await asyncio.to_thread(self._ftp_put, source, url)
        except TimeoutError:
            raise TransferError(f"{shown(url)}: not accepted in {self._timeout:g} s") from None
        except OSError as exc:
            raise TransferError(f"{shown(url)}: {_reason(exc)}") from None

    # -- HTTP(S) ----------------------------------------------------------------------------
    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=self._tls if self._tls is not None else True)
        return aiohttp.ClientSession(connector=connector)

    async def _http_get(self, url: str, into: Path) -> None:
        try:
            async with self._session() as session, session.get(url) as response:
                if response.status != 200:
                    raise TransferError(f"{shown(url)}: HTTP {response.status} {response.reason}")
                with into.open("wb") as out:
                    async for chunk in response.content.iter_chunked(_CHUNK):
                        out.write(chunk)
        except aiohttp.ClientError as exc:
            raise TransferError(f"{shown(url)}: {exc}") from None

    async def _http_put(self, source: Path, url: str) -> None:
        """PUT the bytes; a server that will not take a PUT (405) gets a POST of a form with
        the file, as web upload endpoints expect."""
        data = await asyncio.to_thread(source.read_bytes)
        try:
            async with self._session() as session:
                async with session.put(url, data=data) as response:
                    status, reason = response.status, response.reason
                if status == 405:
                    form = aiohttp.FormData()
                    form.add_field("file", data, filename=source.name)
                    async with session.post(url, data=form) as response:
                        status, reason = response.status, response.reason
                if status not in (200, 201, 204):
                    raise TransferError(f"{shown(url)}: HTTP {status} {reason}")
        except aiohttp.ClientError as exc:
            raise TransferError(f"{shown(url)}: {exc}") from None

    # -- FTP(S), in a worker thread ------------------------------------------------------------
    def _ftp(self, url: str) -> tuple[ftplib.FTP, str]:
        parts = urlsplit(url)
        if not parts.hostname:
            raise TransferError(f"{shown(url)}: no host")
        ftp: ftplib.FTP
        if parts.scheme.lower() == "ftps":
            context = self._tls if self._tls is not None else ssl.create_default_context()
            ftp = ftplib.FTP_TLS(context=context, timeout=self._timeout)
        else:
            ftp = ftplib.FTP(timeout=self._timeout)
        try:
            ftp.connect(parts.hostname, parts.port or 21)
            ftp.login(unquote(parts.username or "anonymous"), unquote(parts.password or ""))
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()  # the file itself over TLS too, not only the commands
        except ftplib.Error as exc:
            ftp.close()
            raise TransferError(f"{shown(url)}: {exc}") from None
        except BaseException:
            ftp.close()
            raise
        path = unquote(parts.path) or "/"
        return ftp, path

    def _ftp_get(self, url: str, into: Path) -> None:
        ftp, path = self._ftp(url)
        try:
            with into.open("wb") as out:
                ftp.retrbinary(f"RETR {path}", out.write, blocksize=_CHUNK)
            ftp.quit()
        except ftplib.Error as exc:
            raise TransferError(f"{shown(url)}: {exc}") from None
        finally:
            ftp.close()

    def _ftp_put(self, source: Path, url: str) -> None:
        ftp, path = self._ftp(url)
        try:
            with source.open("rb") as data:
                ftp.storbinary(f"STOR {path}", data, blocksize=_CHUNK)
            ftp.quit()
        except ftplib.Error as exc:
            raise TransferError(f"{shown(url)}: {exc}") from None
        finally:
            ftp.close()


def _scheme(url: str) -> str:
    """The protocol name of `url` (HTTP, HTTPS, FTP, FTPS); TransferError for anything else."""
    name = protocol_of(url)
    if name is None:
        scheme = urlsplit(url).scheme.lower()
        raise TransferError(f"{shown(url)}: unsupported scheme {scheme or '(none)'!r}")
    return name


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
