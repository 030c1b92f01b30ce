"""What sendEmail (SMTP) and emailTrigger (IMAP) share: the server credential's shape, reading it, the TLS
context and the words for a failed connection."""

from __future__ import annotations

import smtplib
import socket
import ssl
from typing import Any

from flowbox.credentials import CredentialType, register
from flowbox.errors import describe
from flowbox.node import Context, Param, TriggerContext

SECURITY = ("tls", "starttls", "none")
TIMEOUT = 30.0


def server_credential(name: str, display_name: str, ports: str, description: str,
                      login_optional: bool) -> CredentialType:
    """The credential shape shared by `smtp` and `imap`: host, port, user, password, security."""
    return register(CredentialType(name, display_name, (
        Param("host", "string", label="Host", required=True),
        Param("port", "string", label="Port", description=f"Default: {ports}"),
        Param("user", "string", label="User", required=not login_optional,
              description="Leave empty to send without logging in" if login_optional else ""),
        Param("password", "string", label="Password", secret=True),
        Param("security", "options", label="Security", default="tls", options=SECURITY,
              description="tls: TLS from the start; starttls: upgrade a plain connection; none: plain")),
        description=description))


def server_settings(ctx: Context | TriggerContext, cred: dict[str, Any] | None, kind: str,
                    ports: dict[str, int]) -> tuple[str, int, str]:
    """(host, port, security) of an smtp/imap credential; a clear node error when it is missing or wrong."""
    if cred is None:
        raise ctx.error(f"{ctx.node_type} needs an {kind} credential (credentials: {{\"{kind}\": id}})")
    security = str(cred.get("security") or "tls")
    if security not in SECURITY:
        raise ctx.error(f"{kind} credential: security must be one of {', '.join(SECURITY)}, got {security!r}")
    try:
        port = int(cred.get("port") or ports[security])
    except ValueError:
        raise ctx.error(f"{kind} credential: port must be a number, got {cred.get('port')!r}") from None
    return str(cred.get("host") or ""), port, security


def tls_context(allow_unauthorized: bool) -> ssl.SSLContext:
    """The system's CAs, or (allowUnauthorizedCerts) no verification at all."""
    context = ssl.create_default_context()
    if allow_unauthorized:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def connection_error(exc: BaseException, what: str, host: str, port: int, security: str) -> str:
    """What went wrong connecting to a mail server, in words (certificate, TLS, refused, timeout)."""
    where = f"{what} server {host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"the TLS certificate of {where} is not trusted ({exc.verify_message}); set "
                "allowUnauthorizedCerts to accept a self-signed certificate")
    if isinstance(exc, ssl.SSLError):
        hint = "465/993 use tls, 587/143 starttls" if security != "none" else "the server may require TLS"
        return f"TLS with {where} failed ({exc.reason or exc}); check the credential's security ({hint})"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"{where} did not answer within {TIMEOUT:g} s"
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return f"cannot connect to {where}: {exc.strerror or exc}"
    return f"{where}: {describe(exc)}"
