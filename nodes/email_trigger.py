"""Email Trigger (IMAP): while the workflow is active, poll a mailbox and start one execution with the
messages that arrived since the last check (stdlib imaplib, run in a thread).

The cursor, in the node's static data, is the mailbox's UIDVALIDITY and the last UID seen. The
first check (and any check after UIDVALIDITY changed, i.e. the mailbox was re-created) only
records the mailbox's current end and emits nothing; later checks fetch the messages with a
higher UID, at most `MAX_PER_CHECK` per check (the rest follow at the next one). With
`markRead` they are flagged \\Seen on the server; otherwise they are read without changing
their flags. The `imap` credential has the shape of `smtp` (see `send_email`), ports 993 for
security "tls" and 143 otherwise.

Each item: `uid`, `messageId`, `from`, `to`, `cc`, `replyTo`, `subject`, `date` (ISO 8601 when
it parses), `text`, `html`, `flags`, and the attachments as binary properties `attachment_0`, ...
(listed in `attachments` with their file names).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

from flowbox.node import (
    POLL_SECONDS,
    Context,
    Item,
    N8n,
    N8nNotes,
    Param,
    TriggerContext,
    make_binary,
    node,
    polling,
)
from flowbox.nodes._mail import (
    TIMEOUT,
    connection_error,
    server_credential,
    server_settings,
    tls_context,
)
from flowbox.nodes._n8n import Params

PORTS = {"tls": 993, "starttls": 143, "none": 143}
MAX_PER_CHECK = 100

server_credential("imap", "IMAP", "993 (tls), 143 (starttls, none)", "An IMAP mailbox to read email from",
                  login_optional=False)


class MailboxError(Exception):
    """The IMAP server refused something; the message says what, in words."""


def _text(data: Any) -> str:
    parts = data if isinstance(data, list) else [data]
    return " ".join(p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p) for p in parts if p)


def _connect(host: str, port: int, security: str, cred: dict[str, Any], allow: bool) -> imaplib.IMAP4:
    context = tls_context(allow)
    if security == "tls":
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=TIMEOUT)
    else:
        imap = imaplib.IMAP4(host, port, timeout=TIMEOUT)
    try:
        if security == "starttls":
            imap.starttls(ssl_context=context)
        imap.login(str(cred.get("user") or ""), str(cred.get("password") or ""))
    except imaplib.IMAP4.error as exc:
        imap.shutdown()
        if security == "starttls" and "STARTTLS" in str(exc):
            raise MailboxError(f"the IMAP server {host}:{port} does not support STARTTLS") from None
        raise MailboxError(f"the IMAP server {host}:{port} refused the login of user {cred.get('user')!r}: "
                           f"{_text(exc.args[0] if exc.args else exc)}") from None
    except BaseException:
        imap.shutdown()
        raise
    return imap


def fetch_new(host: str, port: int, security: str, cred: dict[str, Any], mailbox: str, mark_read: bool,
              allow: bool, cursor: dict[str, Any]) -> tuple[list[tuple[int, bytes, str]], dict[str, Any]]:
    """The messages after `cursor` as (uid, raw message, flags), and the cursor past them (blocking)."""
    try:
        imap = _connect(host, port, security, cred, allow)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(connection_error(exc, "IMAP", host, port, security)) from None
    try:
        typ, data = imap.select(_quoted(mailbox), readonly=not mark_read)
        if typ != "OK":
            raise MailboxError(f"mailbox {mailbox!r} cannot be opened: {_text(data)}")
        validity = int(imap.response("UIDVALIDITY")[1][0])
        if cursor.get("uidValidity") != validity:  # first check, or the mailbox was re-created
            return [], {"uidValidity": validity, "lastUid": _last_uid(imap)}
        last = int(cursor.get("lastUid") or 0)
        typ, data = imap.uid("SEARCH", f"UID {last + 1}:*")
        uids = sorted(u for u in map(int, (data[0] or b"").split()) if u > last)[:MAX_PER_CHECK]
        found = []
        for uid in uids:
            typ, parts = imap.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[])")
            message = next((p for p in parts if isinstance(p, tuple)), None)
            if typ != "OK" or message is None:  # expunged meanwhile
                continue
            flags = imaplib.ParseFlags(b" ".join([message[0], *(p for p in parts if isinstance(p, bytes))]))
            found.append((uid, message[1], " ".join(f.decode() for f in flags)))
        if mark_read and found:
            imap.uid("STORE", ",".join(str(uid) for uid, _, _ in found), "+FLAGS.SILENT", r"(\Seen)")
        return found, {"uidValidity": validity, "lastUid": uids[-1] if uids else last}
    except imaplib.IMAP4.error as exc:
        raise MailboxError(f"IMAP server {host}:{port}: {_text(exc.args[0] if exc.args else exc)}") from None
    finally:
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            imap.shutdown()


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _last_uid(imap: imaplib.IMAP4) -> int:
    """The highest UID in the selected mailbox (UIDNEXT - 1 when the server says it, else a search)."""
    uidnext = imap.response("UIDNEXT")[1]
    if uidnext and uidnext[0]:
        return int(uidnext[0]) - 1
    typ, data = imap.uid("SEARCH", "ALL")
    return max(map(int, (data[0] or b"").split()), default=0)


def message_item(uid: int, raw: bytes, flags: str) -> Item:
    """A fetched message as an item; attachments as binary `attachment_<n>`."""
    message: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    binary: dict[str, Any] = {}
    for n, part in enumerate(message.iter_attachments()):
        data = part.get_payload(decode=True) or b""
        binary[f"attachment_{n}"] = make_binary(data, part.get_filename() or f"attachment_{n}",
                                                part.get_content_type())
    date = message["Date"]
    try:
        date = parsedate_to_datetime(str(date)).isoformat() if date else None
    except (TypeError, ValueError):
        date = str(date)
    return Item({"uid": uid, "messageId": message["Message-ID"], "from": message["From"], "to": message["To"],
                 "cc": message["Cc"], "replyTo": message["Reply-To"], "subject": message["Subject"], "date": date,
                 "text": _lines(text), "html": _lines(html), "flags": flags,
                 "attachments": [b["fileName"] for b in binary.values()]}, binary or None)


def _lines(part: EmailMessage | None) -> str | None:
    """A text part's content with the wire's CRLF line ends as \n."""
    return part.get_content().replace("\r\n", "\n") if part is not None else None


async def new_messages(ctx: TriggerContext) -> list[Item]:
    """The messages that arrived since the last check; moves the cursor in `ctx.static`."""
    cred = await ctx.credential("imap")
    host, port, security = server_settings(ctx, cred, "imap", PORTS)
    mailbox = ctx.param("mailbox")
    try:
        found, cursor = await asyncio.to_thread(fetch_new, host, port, security, cred or {}, mailbox,
                                                ctx.param("markRead"), ctx.param("allowUnauthorizedCerts"),
                                                dict(ctx.static))
    except MailboxError as exc:
        raise ctx.error(str(exc)) from None
    if cursor.get("uidValidity") != ctx.static.get("uidValidity") and ctx.static:
        ctx.log(f"mailbox {mailbox!r} has a new UIDVALIDITY: starting again from its current end")
    ctx.static.update(cursor)
    return [message_item(uid, raw, flags) for uid, raw, flags in found]


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Email Trigger (IMAP) v1-v2.1: `mailbox`, `postProcessAction` read (default) | nothing,
    options.allowUnauthorizedCerts; attachments always come as binary `attachment_<n>`. Custom search criteria
    and n8n's raw / resolved formats are not supported."""
    p = Params(params, version)
    out: dict[str, Any] = {"mailbox": p.take("mailbox", "INBOX") or "INBOX",
                           "markRead": p.take("postProcessAction", "read") == "read"}
    fmt = p.take("format", "simple")
    if fmt != "simple":
        p.unsupported(f"format {fmt!r} is not supported (flowbox gives the simple form: headers, text, html)")
    p.take("downloadAttachments", False)
    p.ignore("dataPropertyAttachmentsPrefixName")
    p.approximated("the mailbox is checked every 60 s (n8n waits on IMAP IDLE)")
    p.approximated("an item holds uid, messageId, from, to, cc, replyTo, subject, date, text, html, flags and the "
                   "attachments (as binary attachment_<n>), not n8n's textPlain / textHtml / metadata layout")
    options = p.options("options", ("allowUnauthorizedCerts", "customEmailConfig", "forceReconnect",
                                    "trackLastMessageId"))
    if options.get("customEmailConfig") not in (None, "", '["UNSEEN"]'):
        p.unsupported("custom search criteria (options.customEmailConfig) are not supported: new messages are read")
    if options.get("allowUnauthorizedCerts"):
        out["allowUnauthorizedCerts"] = True
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.emailReadImap",), versions=(1, 2, 2.1), convert=from_n8n)


@node(
    n8n=N8N, type="emailTrigger", display_name="Email Trigger (IMAP)", group="trigger", trigger=True, icon="mail",
    description="Start the workflow when new email arrives in an IMAP mailbox (polls while active)",
    credentials=["imap"], listen=polling(new_messages),
    params=[
        Param("mailbox", "string", "INBOX", required=True, description="The mailbox (folder) to watch"),
        Param("markRead", "boolean", False, description="Flag the messages as read on the server"),
        POLL_SECONDS,
        Param("allowUnauthorizedCerts", "boolean", False,
              description="Accept a TLS certificate that cannot be verified (self-signed)"),
    ],
)
async def email_trigger(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return [items]
