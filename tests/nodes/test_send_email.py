"""sendEmail against a real local SMTP server (aiosmtpd): plain, STARTTLS and TLS with a self-signed
certificate made here, login accepted and refused, attachments received byte for byte."""

from __future__ import annotations

import email
import email.policy
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from mail_servers import free_port, self_signed

from flowbox.engine.runner import EngineServices

PNG = bytes(range(256)) * 4
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Inbox:
    """aiosmtpd handler keeping every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            login = (data.login.decode(), data.password.decode())
            self.logins.append(login)
            ok = login == ("bob", "hunter2")
            return AuthResult(success=True) if ok else AuthResult(success=False, handled=False)  # False: send 535
        return AuthResult(success=False, handled=False)

    def message(self, n: int = 0) -> email.message.EmailMessage:
        return email.message_from_bytes(self.envelopes[n].content, policy=email.policy.default)


class Smtp:
    def __init__(self, tmp: Path, *, security: str, auth: bool) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.cert, key = self_signed(tmp / "tls")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        kwargs: dict[str, Any] = {}
        if auth:
            kwargs.update(authenticator=self.inbox.authenticate, auth_required=True,
                          # aiosmtpd only knows STARTTLS as TLS: implicit TLS must not require it again
                          auth_require_tls=security == "starttls")
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     ssl_context=context if security == "tls" else None,
                                     server_hostname="localhost", **kwargs)
        self.security = security

    def credential(self, **extra: Any) -> EngineServices:
        data = {"host": "127.0.0.1", "port": str(self.port), "security": self.security, **extra}

        async def credential(type_: str, id_: str) -> dict[str, Any]:
            assert (type_, id_) == ("smtp", "mail1")
            return data

        return EngineServices(credential=credential)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Any]:
    made: list[Smtp] = []

    def make(security: str = "none", auth: bool = False) -> Smtp:
        server = Smtp(tmp_path / f"s{len(made)}", security=security, auth=auth)
        server.controller.start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.controller.stop()


def email_node(**params: Any) -> dict[str, Any]:
    base = {"fromEmail": "Flowbox <bot@example.com>", "to": "ann@example.com", "subject": "Hi {{ $json.name }}",
            "text": "Hello {{ $json.name }}"}
    return {"name": "Mail", "type": "sendEmail", "parameters": {**base, **params},
            "credentials": {"smtp": {"id": "mail1", "name": "mail"}}}


def with_png(run_node: Any, node: dict[str, Any], services: EngineServices) -> Any:
    """Run `node` after a Code node that gives each item a binary property `pic` (and `doc`)."""
    code = {"name": "Files", "type": "code", "position": [100, 0], "parameters": {"mode": "allItems", "code": (
        "import base64\n"
        "png = base64.b64encode(bytes(range(256)) * 4).decode()\n"
        "return [{'json': {'name': 'Ann'}, 'binary': {'pic': {'data': png, 'mimeType': 'image/png',"
        " 'fileName': 'pic.png'}, 'doc': {'data': base64.b64encode(b'%PDF-1.4 tiny').decode(),"
        " 'mimeType': 'application/pdf', 'fileName': 'report.pdf'}}}]")}}
    node = {**node, "position": [300, 0]}
    return run_node(code, [{}], services=services, extra=[node],
                    connections={"Files": {"main": [[{"node": node["name"], "index": 0}]]}})


def test_plain_text_html_cc_bcc_and_attachments(run_node: Any, smtp_server: Any) -> None:
    server = smtp_server("none")
    node = email_node(cc="Cy <cy@example.com>", bcc="hidden@example.com", replyTo="help@example.com",
                      html="<p>Hello <b>{{ $json.name }}</b></p>", attachments="pic, doc")
    result = with_png(run_node, node, server.credential())
    assert result.status == "success", result.error
    [out] = [i.json for i in result.runs["Mail"][0].outputs[0]]
    assert out["accepted"] == ["ann@example.com", "cy@example.com", "hidden@example.com"]
    assert out["rejected"] == [] and out["messageId"].endswith("@example.com>")
    envelope = server.inbox.envelopes[0]
    assert envelope.mail_from == "bot@example.com"
    assert sorted(envelope.rcpt_tos) == ["ann@example.com", "cy@example.com", "hidden@example.com"]
    msg = server.inbox.message()
    assert msg["Subject"] == "Hi Ann" and msg["To"] == "ann@example.com" and msg["Cc"] == "Cy <cy@example.com>"
    assert msg["Bcc"] is None and msg["Reply-To"] == "help@example.com"  # bcc is never written in the message
    assert msg.get_body(("plain",)).get_content().strip() == "Hello Ann"
    assert msg.get_body(("html",)).get_content().strip() == "<p>Hello <b>Ann</b></p>"
    attachments = {part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
                   for part in msg.iter_attachments()}
    assert attachments == {"pic.png": ("image/png", PNG), "report.pdf": ("application/pdf", b"%PDF-1.4 tiny")}


def test_one_message_per_item_html_only(run_node: Any, smtp_server: Any) -> None:
    server = smtp_server("none")
    node = email_node(to="{{ $json.to }}", text="", html="<h1>{{ $json.name }}</h1>")
    result = run_node(node, [{"name": "A", "to": "a@example.com"}, {"name": "B", "to": "b@example.com, c@example.com"}],
                      services=server.credential())
    assert result.status == "success", result.error
    assert [i.json["accepted"] for i in result.runs["Mail"][0].outputs[0]] == [
        ["a@example.com"], ["b@example.com", "c@example.com"]]
    assert [e.rcpt_tos for e in server.inbox.envelopes] == [["a@example.com"], ["b@example.com", "c@example.com"]]
    assert server.inbox.message(1).get_body(("html",)).get_content().strip() == "<h1>B</h1>"


def test_starttls_with_a_self_signed_certificate_and_login(run_node: Any, smtp_server: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    server = smtp_server("starttls", auth=True)
    services = server.credential(user="bob", password="hunter2")
    refused = run_node(email_node(), services=services)
    assert refused.status == "error"
    message = refused.error["message"]
    assert f"TLS certificate of SMTP server 127.0.0.1:{server.port} is not trusted" in message
    assert "allowUnauthorizedCerts" in message and not server.inbox.envelopes

    ok = run_node(email_node(allowUnauthorizedCerts=True), services=server.credential(user="bob", password="hunter2"))
    assert ok.status == "success", ok.error
    assert server.inbox.logins == [("bob", "hunter2")] and len(server.inbox.envelopes) == 1

    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))  # trusted: verified, no need to allow anything
    trusted = run_node(email_node(), services=server.credential(user="bob", password="hunter2"))
    assert trusted.status == "success", trusted.error
    assert len(server.inbox.envelopes) == 2


def test_implicit_tls(run_node: Any, smtp_server: Any) -> None:
    server = smtp_server("tls", auth=True)
    result = run_node(email_node(allowUnauthorizedCerts=True, attachments="none"),
                      services=server.credential(user="bob", password="hunter2"))
    # the item has no binary property "none": a clear error naming it and the item
    assert result.status == "error" and "no binary property 'none'" in result.error["message"]
    result = run_node(email_node(allowUnauthorizedCerts=True), services=server.credential(user="bob", password="hunter2"))
    assert result.status == "success", result.error
    assert server.inbox.message()["Subject"] == "Hi "


def test_login_refused_and_login_required_are_clear_errors(run_node: Any, smtp_server: Any) -> None:
    server = smtp_server("none", auth=True)
    wrong = run_node(email_node(), services=server.credential(user="bob", password="nope"))
    assert wrong.status == "error"
    assert wrong.error["message"].startswith(f"the SMTP server 127.0.0.1:{server.port} refused the login of user "
                                             "'bob': 535")
    anonymous = run_node(email_node(), services=server.credential())
    assert anonymous.status == "error"
    assert f"the SMTP server 127.0.0.1:{server.port} requires authentication: set user and password" in \
        anonymous.error["message"]
    assert not server.inbox.envelopes


def test_wrong_security_missing_credential_and_no_server(run_node: Any, smtp_server: Any) -> None:
    server = smtp_server("none")
    tls_to_plain = run_node(email_node(), services=server.credential(security="tls"))
    assert tls_to_plain.status == "error" and "TLS with SMTP server" in tls_to_plain.error["message"]
    no_starttls = run_node(email_node(), services=server.credential(security="starttls"))
    assert "does not support STARTTLS" in no_starttls.error["message"]

    port = free_port()
    closed = run_node(email_node(), services=EngineServices(credential=lambda *a: _async({
        "host": "127.0.0.1", "port": port, "security": "none"})))
    assert closed.error["message"].startswith(f"cannot connect to SMTP server 127.0.0.1:{port}")

    bare = {k: v for k, v in email_node().items() if k != "credentials"}
    missing = run_node(bare, services=server.credential())
    assert "sendEmail needs an smtp credential" in missing.error["message"]


async def _async(value: Any) -> Any:
    return value


def test_continue_on_fail_keeps_item_order(run_node: Any, smtp_server: Any) -> None:
    server = smtp_server("none")
    node = {**email_node(to="{{ $json.to }}"), "onError": "continueRegularOutput"}
    result = run_node(node, [{"to": "a@example.com"}, {"to": ""}, {"to": "c@example.com"}],
                      services=server.credential())
    assert result.status == "success", result.error
    out = [i.json for i in result.runs["Mail"][0].outputs[0]]
    assert out[0]["accepted"] == ["a@example.com"] and out[2]["accepted"] == ["c@example.com"]
    assert out[1] == {"error": "parameter 'to' names no recipient"}
