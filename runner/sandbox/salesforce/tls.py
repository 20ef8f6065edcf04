"""The emulator's own certificate authority and server certificate (made once per state dir).

Clients trust the written ``ca.pem`` explicitly; nothing anywhere turns verification off.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def ensure_tls(state_dir: Path) -> TlsFiles:
    files = TlsFiles(state_dir / "ca.pem", state_dir / "server.pem", state_dir / "server.key")
    if files.ca_file.exists() and files.cert_file.exists() and files.key_file.exists():
        return files
    ca = trustme.CA(organization_name="Fieldbridge Salesforce emulator")
    cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
    ca.cert_pem.write_to_path(str(files.ca_file))
    cert.private_key_pem.write_to_path(str(files.key_file))
    files.key_file.chmod(0o600)
    # The chain: leaf first, then the CA, as servers send it.
    with files.cert_file.open("wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    return files
