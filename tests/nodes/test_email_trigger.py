"""emailTrigger against a real Dovecot IMAP server started here (Debian package dovecot-imapd):
new messages since the last check, mark read, attachments as binary, TLS/STARTTLS, the cursor
(UIDVALIDITY + last UID) across a Runtime restart."""

from __future__ import annotations

import base64
import imaplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from mail_servers import Dovecot
from support import Harness
from trigger_support import listener_state, run_services, trigger_outputs, until

from flowbox.nodes.email_trigger import MailboxError, fetch_new

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot().start()
    yield server
    server.stop()


def mail(n: int, *, html: bool = False, attach: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = "Ann <ann@example.com>"
    message["To"] = "alice@example.com"
    message["Cc"] = "cy@example.com"
    message["Subject"] = f"Message {n}"
    message["Date"] = "Wed, 05 Mar 2025 10:00:00 +0100"
    message["Message-ID"] = f"<m{n}@example.com>"
    message.set_content(f"Hello {n}\n")
    if html:
        message.add_alternative(f"<p>Hello <b>{n}</b></p>\n", subtype="html")
    if attach:
        message.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    return message.as_bytes()


def flags(server: Dovecot, mailbox: str = "INBOX") -> dict[str, str]:
    """Subject -> flags of every message in the mailbox."""
    imap = server.client()
    try:
        imap.select(mailbox, readonly=True)
        _, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        out = {}
        for part in data:
            if isinstance(part, tuple):
                subject = part[1].decode().split(":", 1)[1].strip()
                out[subject] = " ".join(f.decode() for f in imaplib.ParseFlags(part[0]) if f != b"\\Recent")
        return out
    finally:
        imap.logout()


def trigger_workflow(credential_id: str, **params: Any) -> dict[str, Any]:
    return {"name": "mail", "settings": {"timezone": "UTC"}, "connections": {},
            "nodes": [{"name": "T", "type": "emailTrigger", "position": [0, 0],
                       "parameters": {"mailbox": "INBOX", "every": 0.1, **params},
                       "credentials": {"imap": {"id": credential_id, "name": "mailbox"}}}]}


def test_new_messages_mark_read_attachments_and_restart(tmp_path: Path, dovecot: Dovecot) -> None:
    dovecot.deliver(mail(1))  # already there when the workflow is activated: never emitted
    data_dir = tmp_path / "data"
    ids: list[str] = []

    async def first(services: Harness) -> None:
        cred = await services.create_credential("mailbox", "imap", {
            "host": "127.0.0.1", "port": str(dovecot.imap_port), "user": "alice", "password": "secret",
            "security": "none"})
        record = await services.create_workflow(trigger_workflow(cred["id"], markRead=True))
        ids.append(record.id)
        await services.activate(record.id)
        await listener_state(services, record.id, lambda s: s["state"] == "running")
        cursor = await _saved(services, record.id)
        assert cursor["lastUid"] == 1 and cursor["uidValidity"] > 0

        dovecot.deliver(mail(2, html=True, attach=True))
        [run] = await trigger_outputs(services, record.id, 1)
        [item] = run
        assert {k: item[k] for k in ("uid", "messageId", "from", "to", "cc", "subject", "date", "attachments")} == {
            "uid": 2, "messageId": "<m2@example.com>", "from": "Ann <ann@example.com>", "to": "alice@example.com",
            "cc": "cy@example.com", "subject": "Message 2", "date": "2025-03-05T10:00:00+01:00",
            "attachments": ["report.pdf"]}
        assert item["text"] == "Hello 2\n" and item["html"] == "<p>Hello <b>2</b></p>\n"
        execution = await services.get_execution((await services.list_executions(workflow_id=record.id)).data[0].id)
        attachment = execution.nodes["T"][0].binary[0][0]["attachment_0"]
        assert base64.b64decode(attachment["data"]) == PDF
        assert attachment["mimeType"] == "application/pdf" and attachment["fileName"] == "report.pdf"
        assert flags(dovecot) == {"Message 1": "", "Message 2": "\\Seen"}  # marked read; 1 untouched
        assert (await _saved(services, record.id))["lastUid"] == 2

    run_services(data_dir, first)
    dovecot.deliver(mail(3))  # arrives while the server is down
    dovecot.deliver(mail(4))

    async def second(services: Harness) -> None:
        (wid,) = ids
        runs = await trigger_outputs(services, wid, 2)
        assert [[i["subject"] for i in run] for run in runs] == [["Message 2"], ["Message 3", "Message 4"]]
        dovecot.deliver(mail(5))
        runs = await trigger_outputs(services, wid, 3)
        assert [i["subject"] for i in runs[2]] == ["Message 5"]
        assert len((await services.list_executions(workflow_id=wid)).data) == 3

    run_services(data_dir, second)


async def _saved(services: Harness, workflow_id: str) -> dict[str, Any]:
    return await until(lambda: services.store.get_static_data(workflow_id, "T"), what="the saved cursor")


def test_login_refused_is_logged_and_retried(tmp_path: Path, dovecot: Dovecot) -> None:
    async def body(services: Harness) -> None:
        cred = await services.create_credential("mailbox", "imap", {
            "host": "127.0.0.1", "port": str(dovecot.imap_port), "user": "alice", "password": "wrong",
            "security": "none"})
        record = await services.create_workflow(trigger_workflow(cred["id"]))
        await services.activate(record.id)
        state = await listener_state(services, record.id, lambda s: s["restarts"] >= 1)
        assert state["lastError"].startswith(f"the IMAP server 127.0.0.1:{dovecot.imap_port} refused the login "
                                             "of user 'alice'")
        assert "wrong" not in state["lastError"]

    run_services(tmp_path / "data", body)


def login(**extra: Any) -> dict[str, Any]:
    return {"user": "alice", "password": "secret", **extra}


def test_tls_starttls_readonly_and_uidvalidity(dovecot: Dovecot) -> None:
    dovecot.deliver(mail(1), "Reports")
    tls = ("127.0.0.1", dovecot.imaps_port, "tls")
    with pytest.raises(MailboxError, match=f"TLS certificate of IMAP server 127.0.0.1:{dovecot.imaps_port} is "
                                           "not trusted.*allowUnauthorizedCerts"):
        fetch_new(*tls, login(), "Reports", False, False, {})
    found, cursor = fetch_new(*tls, login(), "Reports", False, True, {})
    assert found == [] and cursor["lastUid"] == 1  # the first check only records the end

    dovecot.deliver(mail(2), "Reports")
    dovecot.deliver(mail(3), "Reports")
    starttls = ("127.0.0.1", dovecot.imap_port, "starttls")
    found, after = fetch_new(*starttls, login(), "Reports", False, True, cursor)
    assert [(uid, "\\Seen" in fl) for uid, _, fl in found] == [(2, False), (3, False)]
    assert after == {**cursor, "lastUid": 3}
    assert b"Subject: Message 3" in found[1][1]
    assert flags(dovecot, "Reports") == {"Message 1": "", "Message 2": "", "Message 3": ""}  # read-only: unchanged
    assert fetch_new(*starttls, login(), "Reports", False, True, after) == ([], after)  # nothing new

    imap = dovecot.client()  # the mailbox is re-created: old UIDs mean nothing any more
    imap.delete("Reports")
    imap.create("Reports")
    imap.logout()
    dovecot.deliver(mail(4), "Reports")
    found, reset = fetch_new(*starttls, login(), "Reports", False, True, after)
    assert found == [] and reset["uidValidity"] != after["uidValidity"] and reset["lastUid"] == 1

    with pytest.raises(MailboxError, match="mailbox 'Nope' cannot be opened"):
        fetch_new(*starttls, login(), "Nope", False, True, {})
    with pytest.raises(MailboxError, match="refused the login of user 'alice'"):
        fetch_new(*tls, login(password="bad"), "INBOX", False, True, {})
