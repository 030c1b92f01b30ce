"""Send Email: one message per item over SMTP (stdlib smtplib, run in a thread).

The `smtp` credential names the server: `host`, `port` (default 465 for security "tls",
587 for "starttls", 25 for "none"), `user` and `password` (no login when `user` is empty)
and `security`. Certificates are verified against the system's CAs unless
`allowUnauthorizedCerts` is set. Each item gives a text and/or HTML body and attachments from
its binary properties (`attachments`: property names, comma-separated). One connection sends
the messages of one node run; the output item is `{"messageId", "accepted", "rejected"}`.
The credential shape, TLS context and error wording it shares with `emailTrigger` are in `_mail`.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

from flowbox.errors import describe
from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, binary_bytes, node
from flowbox.nodes._mail import TIMEOUT, connection_error, server_credential, server_settings, tls_context
from flowbox.nodes._n8n import Params, bad

server_credential("smtp", "SMTP", "465 (tls), 587 (starttls), 25 (none)", "An SMTP server to send email through",
                  login_optional=True)


def _addresses(value: Any) -> list[str]:
    """Addresses from a comma-separated string or a list ("Name <a@b>" kept as written)."""
    parts = value if isinstance(value, list) else [value] if value else []
    return [f"{name} <{addr}>" if name else addr
            for name, addr in getaddresses([str(p) for p in parts if p is not None]) if addr]


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Send Email v1 (`toEmail`, `ccEmail`, `bccEmail`, `text`, `html`, `attachments`) and v2/v2.1
    (operation send; `emailFormat` text/html/both, default text in v2 and html in v2.1; cc, bcc, replyTo,
    attachments and allowUnauthorizedCerts in `options`). sendAndWait is not supported; n8n's "sent
    automatically with n8n" line is not appended."""
    p = Params(params, version)
    out: dict[str, Any] = {"fromEmail": p.take("fromEmail", ""), "to": p.take("toEmail", ""),
                           "subject": p.take("subject", "")}
    p.approximated("the output item is {messageId, accepted, rejected}; nodemailer's envelope, response and "
                   "timing fields are not given")
    if version < 2:
        out.update(cc=p.take("ccEmail", ""), bcc=p.take("bccEmail", ""), text=p.take("text", ""),
                   html=p.take("html", ""), attachments=p.take("attachments", ""))
        options = p.options("options", ("allowUnauthorizedCerts",))
        out["allowUnauthorizedCerts"] = bool(options.get("allowUnauthorizedCerts"))
        return p.done(out)
    operation = p.take("operation", "send")
    p.ignore("resource")
    if operation != "send":
        p.unsupported(f"operation {operation!r} is not supported")
        p.ignore("message", "responseType", "approvalOptions", "formFields", "limitWaitTime", "defineForm")
        return p.done(out)
    fmt = p.take("emailFormat", "html" if version >= 2.1 else "text")
    if fmt not in ("text", "html", "both"):
        raise bad("emailFormat", f"must be 'text', 'html' or 'both'; got {fmt!r}")
    text, html = p.take("text", ""), p.take("html", "")
    out.update(text=text if fmt in ("text", "both") else "", html=html if fmt in ("html", "both") else "")
    options = p.options("options", ("appendAttribution", "attachments", "ccEmail", "bccEmail",
                                    "allowUnauthorizedCerts", "replyTo"))
    if options.get("appendAttribution", version >= 2.1):
        p.approximated("n8n's line \"This email was sent automatically with n8n\" is not appended")
    out.update(cc=options.get("ccEmail", ""), bcc=options.get("bccEmail", ""), replyTo=options.get("replyTo", ""),
               attachments=options.get("attachments", ""),
               allowUnauthorizedCerts=bool(options.get("allowUnauthorizedCerts")))
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.emailSend",), versions=(1, 2, 2.1), convert=from_n8n)


@node(
    n8n=N8N,
    type="sendEmail", display_name="Send Email", group="integration", icon="mail",
    description="Send an email per item over SMTP: text and/or HTML, attachments from binary data",
    credentials=["smtp"],
    params=[
        Param("fromEmail", "string", "", required=True, placeholder="Flowbox <bot@example.com>"),
        Param("to", "string", "", required=True, description="Recipients, comma-separated"),
        Param("cc", "string", ""),
        Param("bcc", "string", "", description="Hidden recipients (not written in the message)"),
        Param("replyTo", "string", ""),
        Param("subject", "string", ""),
        Param("text", "string", "", description="Plain-text body"),
        Param("html", "string", "", description="HTML body (sent with the text as its alternative)"),
        Param("attachments", "string", "", placeholder="data, invoice",
              description="Binary properties of the item to attach, comma-separated"),
        Param("allowUnauthorizedCerts", "boolean", False,
              description="Accept a TLS certificate that cannot be verified (self-signed)"),
    ],
)
async def send_email(ctx: Context, items: list[Item]) -> list[list[Item]]:
    cred = await ctx.credential("smtp")
    host, port, security = server_settings(ctx, cred, "smtp", {"tls": 465, "starttls": 587, "none": 25})
    cred = cred or {}
    errors = ItemErrors(ctx)
    done: dict[int, Item] = {}

    def failed(i: int, exc: Exception) -> None:
        kept: list[Item] = []
        errors.fail(items[i], i, exc, kept)  # raises when onError is "stop"
        if kept:
            done[i] = kept[0]

    messages: list[tuple[int, EmailMessage]] = []
    for i, item in enumerate(items):
        try:
            messages.append((i, _message(ctx, item, i)))
        except Exception as exc:  # noqa: BLE001 - routed per item
            failed(i, exc)
    allow = ctx.param("allowUnauthorizedCerts")
    try:
        results = await asyncio.to_thread(_send_all, host, port, security, cred, allow, [m for _, m in messages])
    except smtplib.SMTPAuthenticationError as exc:
        raise ctx.error(f"the SMTP server {host}:{port} refused the login of user {cred.get('user')!r}: "
                        f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise ctx.error(f"the SMTP server {host}:{port} does not support {exc}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise ctx.error(connection_error(exc, "SMTP", host, port, security)) from None
    for (i, message), result in zip(messages, results, strict=True):
        if isinstance(result, Exception):
            failed(i, ValueError(_send_error(result, host, port)))
        else:
            done[i] = items[i].derive({"messageId": message["Message-ID"], **result}, binary=None)
    return errors.outputs([done[i] for i in sorted(done)])


def _message(ctx: Context, item: Item, i: int) -> EmailMessage:
    sender = _addresses(ctx.param("fromEmail", i))
    if not sender:
        raise ValueError("parameter 'fromEmail' is empty")
    to, cc, bcc = (_addresses(ctx.param(name, i)) for name in ("to", "cc", "bcc"))
    if not to and not cc and not bcc:
        raise ValueError("parameter 'to' names no recipient")
    message = EmailMessage()
    message["From"] = sender[0]
    for header, values in (("To", to), ("Cc", cc), ("Bcc", bcc), ("Reply-To", _addresses(ctx.param("replyTo", i)))):
        if values:
            message[header] = ", ".join(values)
    message["Subject"] = ctx.param("subject", i)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender[0].rsplit("@", 1)[-1].strip(">") or None)
    text, html = ctx.param("text", i), ctx.param("html", i)
    if html:
        message.set_content(text or "This message is in HTML.")
        message.add_alternative(html, subtype="html")
    else:
        message.set_content(text)
    for prop in (p.strip() for p in ctx.param("attachments", i).split(",")):
        if not prop:
            continue
        data = binary_bytes(item, prop)
        entry = (item.binary or {})[prop]
        maintype, _, subtype = str(entry.get("mimeType") or "application/octet-stream").partition("/")
        message.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                               filename=str(entry.get("fileName") or prop))
    return message


def _send_all(host: str, port: int, security: str, cred: dict[str, Any], allow: bool,
              messages: list[EmailMessage]) -> list[dict[str, Any] | Exception]:
    """Connect, log in, send each message on one connection; a per-message failure is returned, not raised."""
    if not messages:
        return []
    context = tls_context(allow)
    smtp: smtplib.SMTP
    if security == "tls":
        smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
    with smtp:
        smtp.ehlo()
        if security == "starttls":
            if not smtp.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("STARTTLS (set the credential's security to tls or none)")
            smtp.starttls(context=context)
            smtp.ehlo()
        if cred.get("user"):
            if not smtp.has_extn("auth"):
                raise smtplib.SMTPNotSupportedError("logging in (AUTH); leave the credential's user empty")
            smtp.login(str(cred["user"]), str(cred.get("password") or ""))
        results: list[dict[str, Any] | Exception] = []
        for message in messages:
            recipients = [addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", [])
                                                           + message.get_all("Bcc", []))]
            try:
                refused = smtp.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                results.append(exc)
                continue
            results.append({"accepted": [r for r in recipients if r not in refused], "rejected": sorted(refused)})
        return results


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _send_error(exc: Exception, host: str, port: int) -> str:
    if isinstance(exc, smtplib.SMTPSenderRefused):
        if exc.smtp_code == 530:
            return (f"the SMTP server {host}:{port} requires authentication: set user and password in the smtp "
                    f"credential ({exc.smtp_code} {_text(exc.smtp_error)})")
        return f"the SMTP server refused the sender {exc.sender}: {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{addr}: {code} {_text(text)}" for addr, (code, text) in exc.recipients.items())
        return f"the SMTP server refused every recipient ({refused})"
    if isinstance(exc, smtplib.SMTPDataError):
        return f"the SMTP server refused the message: {exc.smtp_code} {_text(exc.smtp_error)}"
    return describe(exc)
