"""TLS contexts from PEM text: the ssl module reads certificates and keys only from files, so
they are written, readable by this user alone, into a private temporary folder that is gone
once they are read."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path


def load_cert_chain(context: ssl.SSLContext, chain_pem: str, key_pem: str) -> None:
    """Give `context` this certificate chain (leaf first) and its private key."""
    with tempfile.TemporaryDirectory(prefix="ocpp-station-tls-") as folder:
        cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        for path, text in ((cert_path, chain_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
        context.load_cert_chain(cert_path, key_path)
