"""ftp through the real engine against a real local FTP server (pyftpdlib), FTPS, and SFTP (asyncssh)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from support import credential_services

from flowbox.engine.runner import EngineServices
from flowbox.node import make_binary

USER, PASSWORD = "alice", "s3cret"
PAYLOAD = bytes(range(256)) * 300 + b"end"


# ---------------------------------------------------------------- servers


class FtpServer:
    """pyftpdlib on 127.0.0.1 serving `root` to USER/PASSWORD; with `cert`, FTPS (explicit TLS) required;
    `mlsd=False` answers MLSD as unknown, as vsftpd does."""

    def __init__(self, root: Path, cert: tuple[Path, Path] | None = None, mlsd: bool = True) -> None:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer

        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmwMT")
        handler: Any = FTPHandler
        if cert is not None:
            from pyftpdlib.handlers import TLS_FTPHandler

            handler = TLS_FTPHandler
        handler = type("Handler", (handler,), {"authorizer": authorizer, "auth_failed_timeout": 0})
        if not mlsd:
            handler.proto_cmds = {k: v for k, v in handler.proto_cmds.items() if k not in ("MLSD", "MLST")}
        if cert is not None:
            handler.certfile, handler.keyfile = str(cert[0]), str(cert[1])
            handler.tls_control_required = handler.tls_data_required = True
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)  # not a line per poll of the server
        self.server = FTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.address[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            self.server.serve_forever(timeout=0.02, blocking=False, handle_exit=False)
        self.server.close_all()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)


class SftpServer:
    """An asyncssh SFTP server on 127.0.0.1, chrooted to `root`, in its own thread and event loop.

    USER logs in with PASSWORD or with `client_key`; the host key is generated per test.
    """

    def __init__(self, root: Path) -> None:
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.root = root
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.acceptor = asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)
        self.port = self.acceptor.get_port()

    async def _listen(self) -> Any:
        keys = asyncssh.import_authorized_keys(self.client_key.export_public_key().decode())

        class Auth(asyncssh.SSHServer):
            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == USER and password == PASSWORD

        return await asyncssh.listen("127.0.0.1", 0, server_host_keys=[self.host_key], server_factory=Auth,
                                     authorized_client_keys=keys,
                                     sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root)))

    def stop(self) -> None:
        self.acceptor.close()
        asyncio.run_coroutine_threadsafe(self.acceptor.wait_closed(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def ftp_server(tmp_path: Path) -> Iterator[FtpServer]:
    root = tmp_path / "ftp"
    root.mkdir()
    srv = FtpServer(root)
    srv.root = root  # type: ignore[attr-defined]
    yield srv
    srv.stop()


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[SftpServer]:
    root = tmp_path / "sftp"
    root.mkdir()
    srv = SftpServer(root)
    yield srv
    srv.stop()


@pytest.fixture(params=["ftp", "sftp"])
def remote(request: pytest.FixtureRequest) -> tuple[str, Any, dict[str, Any]]:
    """(protocol, server, credential) for each protocol."""
    srv = request.getfixturevalue(f"{request.param}_server")
    cred = {"host": "127.0.0.1", "port": str(srv.port), "user": USER, "password": PASSWORD}
    return request.param, srv, cred


# ---------------------------------------------------------------- helpers


def ftp(protocol: str, **params: Any) -> dict[str, Any]:
    return {"name": "FTP", "type": "ftp", "parameters": {"protocol": protocol, **params},
            "credentials": {protocol: {"id": "c1", "name": "test server"}}}


def with_cred(cred: dict[str, Any]) -> EngineServices:
    return credential_services(cred, id_="c1")


def out(result: Any) -> list[Any]:
    assert result.status == "success", result.error
    return result.runs["FTP"][-1].outputs[0]


# ---------------------------------------------------------------- both protocols


def test_upload_list_download_rename_delete(run_node, remote):
    protocol, srv, cred = remote
    files = [{"json": {"name": "a.bin"}, "binary": {"data": make_binary(PAYLOAD, "a.bin")}},
             {"json": {"name": "b.txt"}, "binary": {"data": make_binary(b"hello", "b.txt")}}]
    [up, _] = out(run_node(ftp(protocol, operation="upload", path="/in/deep/{{ $json.name }}"), files,
                           services=with_cred(cred)))
    assert up.json == {"name": "a.bin"} and up.binary is None
    assert (srv.root / "in" / "deep" / "a.bin").read_bytes() == PAYLOAD

    listed = [i.json for i in out(run_node(ftp(protocol, operation="list", path="/in/deep"),
                                           services=with_cred(cred)))]
    assert sorted((e["name"], e["path"], e["type"], e["size"]) for e in listed) == [
        ("a.bin", "/in/deep/a.bin", "-", len(PAYLOAD)), ("b.txt", "/in/deep/b.txt", "-", 5)]
    modified = dt.datetime.fromisoformat(listed[0]["modifyTime"].replace("Z", "+00:00"))
    assert abs((modified - dt.datetime.now(dt.UTC)).total_seconds()) < 120

    [down] = out(run_node(ftp(protocol, operation="download", path="/in/deep/a.bin", binaryPropertyName="file"),
                          [{"keep": 1}], services=with_cred(cred)))
    assert down.json == {"keep": 1} and down.binary["file"]["fileName"] == "a.bin"
    assert base64.b64decode(down.binary["file"]["data"]) == PAYLOAD

    [moved] = out(run_node(ftp(protocol, operation="rename", oldPath="/in/deep/b.txt", newPath="/out/new/b2.txt",
                               createDirectories=True), services=with_cred(cred)))
    assert moved.json == {"success": True}
    assert (srv.root / "out" / "new" / "b2.txt").read_bytes() == b"hello"
    assert not (srv.root / "in" / "deep" / "b.txt").exists()

    out(run_node(ftp(protocol, operation="delete", path="/in/deep/a.bin"), services=with_cred(cred)))
    assert not (srv.root / "in" / "deep" / "a.bin").exists()


def test_list_recursive_and_delete_folder(run_node, remote):
    protocol, srv, cred = remote
    (srv.root / "top" / "sub").mkdir(parents=True)
    (srv.root / "top" / "one.txt").write_text("1")
    (srv.root / "top" / "sub" / "two.txt").write_text("22")
    listed = [i.json for i in out(run_node(ftp(protocol, operation="list", path="/top", recursive=True),
                                           services=with_cred(cred)))]
    assert sorted((e["path"], e["type"]) for e in listed) == [
        ("/top/one.txt", "-"), ("/top/sub", "d"), ("/top/sub/two.txt", "-")]

    refused = run_node(ftp(protocol, operation="delete", path="/top", folder=True), services=with_cred(cred))
    assert refused.status == "error" and refused.error["message"].startswith(f"item 0: {protocol.upper()} delete")
    out(run_node(ftp(protocol, operation="delete", path="/top", folder=True, recursive=True),
                 services=with_cred(cred)))
    assert not (srv.root / "top").exists()


def test_upload_text_content(run_node, remote):
    protocol, srv, cred = remote
    out(run_node(ftp(protocol, operation="upload", path="/note.txt", binaryData=False, fileContent="hi {{ $json.n }}"),
                 [{"n": 7}], services=with_cred(cred)))
    assert (srv.root / "note.txt").read_text() == "hi 7"


def test_missing_file_names_the_item(run_node, remote):
    protocol, srv, cred = remote
    (srv.root / "there.txt").write_text("x")
    result = run_node(ftp(protocol, operation="download", path="/{{ $json.f }}"), [{"f": "there.txt"}, {"f": "gone"}],
                      services=with_cred(cred))
    assert result.status == "error"
    assert result.error["message"].startswith(f"item 1: {protocol.upper()} download /gone: ")


def test_wrong_password_is_a_clear_error(run_node, remote):
    protocol, srv, cred = remote
    result = run_node(ftp(protocol, operation="list", path="/"), services=with_cred({**cred, "password": "nope"}))
    assert result.status == "error"
    assert f"server 127.0.0.1:{srv.port} rejected the credential" in result.error["message"]


def test_missing_credential(run_node):
    node = {**ftp("sftp", operation="list", path="/"), "credentials": {}}
    result = run_node(node)
    assert result.status == "error"
    assert result.error["message"] == "protocol sftp needs an sftp credential: choose one in the node's credentials"


def test_ftp_server_without_mlsd(run_node, tmp_path):
    root = tmp_path / "plain"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f.txt").write_text("12345")
    (root / "top.bin").write_bytes(PAYLOAD)
    srv = FtpServer(root, mlsd=False)
    try:
        cred = {"host": "127.0.0.1", "port": str(srv.port), "user": USER, "password": PASSWORD}
        listed = [i.json for i in out(run_node(ftp("ftp", operation="list", path="/", recursive=True),
                                               services=with_cred(cred)))]
        assert sorted((e["path"], e["type"], e["size"]) for e in listed) == [
            ("/sub", "d", 0), ("/sub/f.txt", "-", 5), ("/top.bin", "-", len(PAYLOAD))]
        assert all("modifyTime" in e for e in listed if e["type"] == "-")
        out(run_node(ftp("ftp", operation="delete", path="/sub", folder=True, recursive=True),
                     services=with_cred(cred)))
        assert not (root / "sub").exists()
    finally:
        srv.stop()


# ---------------------------------------------------------------- SFTP keys


def test_sftp_private_key_and_host_key(run_node, sftp_server):
    srv = sftp_server
    cred = {"host": "127.0.0.1", "port": str(srv.port), "user": USER,
            "privateKey": srv.client_key.export_private_key().decode(),
            "hostKey": srv.host_key.export_public_key().decode()}
    (srv.root / "k.txt").write_text("by key")
    [down] = out(run_node(ftp("sftp", operation="download", path="/k.txt"), services=with_cred(cred)))
    assert base64.b64decode(down.binary["data"]["data"]) == b"by key"

    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    result = run_node(ftp("sftp", operation="list", path="/"), services=with_cred({**cred, "hostKey": other}))
    assert result.status == "error" and "is not the one the credential's hostKey names" in result.error["message"]

    result = run_node(ftp("sftp", operation="list", path="/"), services=with_cred({**cred, "privateKey": "junk"}))
    assert result.status == "error" and "the sftp credential holds an unusable key" in result.error["message"]


def test_sftp_encrypted_private_key(run_node, sftp_server):
    srv = sftp_server
    cred = {"host": "127.0.0.1", "port": str(srv.port), "user": USER, "passphrase": "pass phrase",
            "privateKey": srv.client_key.export_private_key("pkcs8-pem", passphrase="pass phrase").decode()}
    assert out(run_node(ftp("sftp", operation="list", path="/"), services=with_cred(cred))) == []


# ---------------------------------------------------------------- FTPS


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_ftps_verifies_the_server_and_protects_data(run_node, tmp_path, monkeypatch):
    pytest.importorskip("OpenSSL", reason="pyftpdlib's FTPS server needs pyOpenSSL")
    root = tmp_path / "ftps"
    root.mkdir()
    cert = self_signed(tmp_path)
    srv = FtpServer(root, cert)
    try:
        cred = {"host": "127.0.0.1", "port": str(srv.port), "user": USER, "password": PASSWORD, "security": "tls"}
        untrusted = run_node(ftp("ftp", operation="list", path="/"), services=with_cred(cred))
        assert untrusted.status == "error" and "CERTIFICATE_VERIFY_FAILED" in untrusted.error["message"]

        monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # trust the test's own certificate
        item = {"json": {}, "binary": {"data": make_binary(PAYLOAD, "s.bin")}}
        out(run_node(ftp("ftp", operation="upload", path="/s.bin"), [item], services=with_cred(cred)))
        [down] = out(run_node(ftp("ftp", operation="download", path="/s.bin"), services=with_cred(cred)))
        assert base64.b64decode(down.binary["data"]["data"]) == PAYLOAD == (root / "s.bin").read_bytes()

        plain = run_node(ftp("ftp", operation="list", path="/"), services=with_cred({**cred, "security": "none"}))
        assert plain.status == "error"  # the server requires TLS: a plain login is turned away
    finally:
        srv.stop()
