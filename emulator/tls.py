"""The emulator's certificate authority and HTTPS server certificate.

The CA is created once per state directory and kept there, so clients can
keep trusting the same ca.pem across restarts. The server certificate is
issued from it at every start.
"""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

import trustme

logger = logging.getLogger(__name__)


def load_or_create_ca(directory: Path) -> tuple[trustme.CA, Path]:
    """Return the state directory's CA and the path of its certificate (ca.pem)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "ca.pem"
    key_path = directory / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        ca = trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
        return ca, cert_path

    ca = trustme.CA(organization_name="Image Factory emulator")
    key_path.write_bytes(ca.private_key_pem.bytes())
    os.chmod(key_path, 0o600)
    ca.cert_pem.write_to_path(str(cert_path))
    logger.info("created a certificate authority in %s", directory)
    return ca, cert_path


def server_context(ca: trustme.CA, hosts: list[str]) -> ssl.SSLContext:
    """Build a TLS server context with a certificate for hosts, signed by ca."""
    certificate = ca.issue_cert(*dict.fromkeys(hosts))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    return context
