"""Real mail servers for the email node tests: a self-signed certificate, aiosmtpd, and Dovecot (IMAP).

Dovecot (Debian package `dovecot-imapd`) runs from a config written into a temp dir of its own
(pytest's tmp dirs are private to their owner, and Dovecot's auth and mail processes run as other
users): a passwd-file user, Maildir storage, IMAP on a free loopback port and IMAPS on another.
Run as root, mail is owned by `nobody` (Dovecot refuses uid 0 for mail); as another user, every
Dovecot process runs as that user.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import imaplib
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from support import unavailable

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem): a self-signed certificate for 127.0.0.1 / localhost, usable as its own CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flowbox test mail")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


class Dovecot:
    """One Dovecot instance with user `user`/`password`; `imap_port` plain, `imaps_port` TLS."""

    def __init__(self, user: str = "alice", password: str = "secret") -> None:
        if not os.path.exists(DOVECOT):
            unavailable("dovecot is not installed (apt-get install dovecot-imapd)")
        root = Path(tempfile.mkdtemp(prefix="flowbox-dovecot-"))
        root.chmod(0o755)
        self.root, self.user, self.password = root, user, password
        self.imap_port, self.imaps_port = free_port(), free_port()
        self.cert, self.key = self_signed(root / "tls")
        self.config = root / "dovecot.conf"

    def start(self) -> Dovecot:
        root = self.root
        for sub in ("run", "state", "home"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            uid, gid = nobody.pw_uid, nobody.pw_gid
            os.chown(root / "home", uid, gid)
            users = chroot = ""
        else:  # every process as this user, no chroot (checked with runuser -u nobody)
            uid, gid = os.getuid(), os.getgid()
            me, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
            users = (f"default_internal_user = {me}\ndefault_internal_group = {group}\n"
                     f"default_login_user = {me}\nservice anvil {{\n  chroot =\n}}\n")
            chroot = "  chroot =\n"
        self.config.write_text(f"""{users}protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
{chroot}  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
    ssl = yes
  }}
}}
""")
        # the master daemonizes: its output goes to a file, so no pipe is held open by the daemon
        with open(root / "start.log", "w") as out:
            code = subprocess.run([DOVECOT, "-c", str(self.config)], stdout=out, stderr=subprocess.STDOUT).returncode
        if code != 0:
            raise RuntimeError(f"dovecot did not start: {(root / 'start.log').read_text()}{self.logs()}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.imap_port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot does not answer on {self.imap_port}:\n{self.logs()}")

    def stop(self) -> None:
        """SIGTERM to the master (its pid file), waiting until it is gone; then the temp dir goes."""
        pid_file = self.root / "run" / "master.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not _zombie(pid):
                time.sleep(0.02)
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        imap.login(self.user, self.password)
        return imap

    def deliver(self, raw: bytes, mailbox: str = "INBOX", flags: str | None = None) -> None:
        """Put a message into `mailbox` (IMAP APPEND, as a delivery agent would)."""
        imap = self.client()
        try:
            if mailbox != "INBOX":
                imap.create(mailbox)
            typ, data = imap.append(mailbox, flags, None, raw)
            assert typ == "OK", data
        finally:
            imap.logout()
