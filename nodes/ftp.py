"""FTP: list, download, upload, delete and rename files on an FTP(S) or SFTP server.

FTP uses the stdlib `ftplib` in a worker thread (credential `security` "tls": FTPS with
explicit TLS, the data connection protected too, the server's certificate verified);
SFTP uses asyncssh. One connection serves every item of a run. SFTP checks the server's
host key only when the credential gives `hostKey` (as n8n, which does not check it);
it never reads the local user's ~/.ssh keys, agent or config.

Listing gives one item per entry: {name, path, type "d"/"-"/"l", size, modifyTime}.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import posixpath
import stat
from typing import Any

from flowbox.credentials import CredentialType, register
from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, binary_bytes, make_binary, node
from flowbox.nodes._n8n import Params

TIMEOUT = 30.0
MAX_LISTED = 100_000

register(CredentialType(
    "ftp", "FTP", (
        Param("host", "string", label="Host", required=True),
        Param("port", "string", label="Port", default="21"),
        Param("user", "string", label="User", default="anonymous"),
        Param("password", "string", label="Password", secret=True),
        Param("security", "options", label="Security", default="none", options=("none", "tls"),
              description="tls: FTPS with explicit TLS (AUTH TLS); the server's certificate is verified")),
    description="An FTP or FTPS server"))
register(CredentialType(
    "sftp", "SFTP", (
        Param("host", "string", label="Host", required=True),
        Param("port", "string", label="Port", default="22"),
        Param("user", "string", label="User", required=True),
        Param("password", "string", label="Password", secret=True),
        Param("privateKey", "string", label="Private key", secret=True,
              description="An OpenSSH or PEM private key, used instead of the password"),
        Param("passphrase", "string", label="Passphrase", secret=True,
              description="Passphrase of an encrypted private key"),
        Param("hostKey", "string", label="Host key",
              description="The server's public host key (ssh-ed25519 AAAA...); when set, a server "
                          "showing another key is refused")),
    description="An SSH server's SFTP subsystem"))

OPERATIONS = ["download", "upload", "list", "delete", "rename"]


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's FTP v1: `protocol` ftp | sftp, `operation` download (default) | upload | list | delete | rename with
    their `path`, `binaryPropertyName`, `binaryData` / `fileContent`, `recursive`, options.folder /
    options.recursive (delete), `oldPath` / `newPath` / options.createDirectories (rename); SFTP's
    concurrent-read options are left to the client."""
    p = Params(params, version)
    operation = p.take("operation", "download")
    if operation not in OPERATIONS:
        p.unsupported(f"operation {operation!r} is not supported")
        return p.done({})
    out: dict[str, Any] = {"protocol": p.take("protocol", "ftp"), "operation": operation}
    if operation == "rename":
        options = p.options("options", ("createDirectories",))
        out.update(oldPath=p.take("oldPath", ""), newPath=p.take("newPath", ""),
                   createDirectories=bool(options.get("createDirectories")))
        return p.done(out)
    out["path"] = p.take("path", "")
    if operation == "download":
        out["binaryPropertyName"] = p.take("binaryPropertyName", "data")
        options = p.options("options", ("enableConcurrentReads", "maxConcurrentReads", "chunkSize"))
        if options:
            p.approximated("SFTP's concurrent-read options are left to the client")
    elif operation == "upload":
        binary = bool(p.take("binaryData", True))
        out["binaryData"] = binary
        if binary:
            out["binaryPropertyName"] = p.take("binaryPropertyName", "data")
        else:
            out["fileContent"] = p.take("fileContent", "")
    elif operation == "list":
        out["recursive"] = bool(p.take("recursive", False))
    else:
        options = p.options("options", ("folder", "recursive"))
        out.update(folder=bool(options.get("folder")), recursive=bool(options.get("recursive")))
    p.approximated("a listed entry and an operation's output item are flowbox's (see the node's page), not n8n's "
                   "exact fields")
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.ftp",), versions=(1,), convert=from_n8n)


@node(
    n8n=N8N, type="ftp", display_name="FTP", group="integration", icon="server", credentials=["ftp", "sftp"],
    description="List, download, upload, delete and rename files on an FTP(S) or SFTP server",
    params=[
        Param("protocol", "options", default="ftp", required=True, options=["ftp", "sftp"]),
        Param("operation", "options", default="download", required=True, options=OPERATIONS),
        Param("path", "string", default="", required=True,
              show_if={"operation": ["download", "upload", "list", "delete"]}, placeholder="/data/report.csv",
              description="Remote path of the file (the folder, for list)"),
        Param("binaryPropertyName", "string", default="data", show_if={"operation": ["download", "upload"]},
              description="Binary property that receives (download) or holds (upload) the file"),
        Param("binaryData", "boolean", default=True, show_if={"operation": ["upload"]},
              description="Upload a binary property (else the text of fileContent)"),
        Param("fileContent", "string", default="", show_if={"operation": ["upload"], "binaryData": [False]},
              description="Text to upload as the file"),
        Param("recursive", "boolean", default=False, show_if={"operation": ["list", "delete"]},
              description="List: go into sub-folders. Delete a folder: with everything in it"),
        Param("folder", "boolean", default=False, show_if={"operation": ["delete"]},
              description="The path is a folder"),
        Param("oldPath", "string", default="", required=True, show_if={"operation": ["rename"]}),
        Param("newPath", "string", default="", required=True, show_if={"operation": ["rename"]}),
        Param("createDirectories", "boolean", default=False, show_if={"operation": ["rename"]},
              description="Create the folders of newPath that do not exist (upload always does)"),
    ],
)
async def ftp(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """One output item per input item (list: one per entry)."""
    protocol = ctx.param("protocol")
    if protocol not in ("ftp", "sftp"):
        raise ctx.error(f"parameter 'protocol' must be ftp or sftp, got {protocol!r}")
    cred = await ctx.credential(protocol)
    if not cred:
        raise ctx.error(f"protocol {protocol} needs an {protocol} credential: choose one in the node's credentials")
    try:
        remote: Remote = await (SftpRemote.open(cred) if protocol == "sftp" else FtpRemote.open(cred))
    except ValueError as exc:
        raise ctx.error(str(exc)) from None
    errors = ItemErrors(ctx)
    out: list[Item] = []
    try:
        for i, item in enumerate(items):
            try:
                out.extend(await _run(ctx, remote, item, i))
            except ValueError as exc:
                errors.fail(item, i, ValueError(f"item {i}: {exc}"), out)
    finally:
        await remote.close()
    return errors.outputs(out)


async def _run(ctx: Context, remote: Remote, item: Item, i: int) -> list[Item]:
    operation = ctx.param("operation", i)
    path = ctx.param("path", i).strip()
    if operation == "rename":
        old, new = ctx.param("oldPath", i).strip(), ctx.param("newPath", i).strip()
        if not old or not new:
            raise ValueError("rename needs 'oldPath' and 'newPath'")
        if ctx.param("createDirectories", i):
            await remote.makedirs(posixpath.dirname(new))
        await remote.rename(old, new)
        return [item.derive({"success": True}, binary=None)]
    if not path:
        raise ValueError("parameter 'path' is empty")
    if operation == "list":
        entries = await remote.list(path, ctx.param("recursive", i))
        return [Item(e, None, item) for e in entries]
    prop = ctx.param("binaryPropertyName", i)
    if operation == "download":
        data = await remote.download(path)
        return [item.derive(item.json, {**(item.binary or {}), prop: make_binary(data, posixpath.basename(path))})]
    if operation == "upload":
        data = binary_bytes(item, prop) if ctx.param("binaryData", i) is not False else (
            ctx.param("fileContent", i).encode())
        await remote.makedirs(posixpath.dirname(path))
        await remote.upload(path, data)
        return [item.derive(item.json, binary=None)]
    if operation == "delete":
        await remote.delete(path, ctx.param("folder", i), ctx.param("recursive", i))
        return [item.derive({"success": True}, binary=None)]
    raise ValueError(f"parameter 'operation': unknown operation {operation!r} (one of {', '.join(OPERATIONS)})")


def _entry(folder: str, name: str, kind: str, size: Any, modified: dt.datetime | None) -> dict[str, Any]:
    out = {"name": name, "path": posixpath.join(folder, name), "type": kind, "size": int(size or 0)}
    if modified is not None:
        out["modifyTime"] = modified.isoformat().replace("+00:00", "Z")
    return out


def _port(cred: dict[str, Any], default: int) -> int:
    value = str(cred.get("port") or default).strip()
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"the credential's port must be a number from 1 to 65535, got {value!r}")
    return int(value)


class Remote:
    """What the node asks of a server; FTP and SFTP each implement it."""

    async def list(self, path: str, recursive: bool) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def download(self, path: str) -> bytes:
        raise NotImplementedError

    async def upload(self, path: str, data: bytes) -> None:
        raise NotImplementedError

    async def makedirs(self, folder: str) -> None:
        raise NotImplementedError

    async def delete(self, path: str, folder: bool, recursive: bool) -> None:
        raise NotImplementedError

    async def rename(self, old: str, new: str) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


# ---------------------------------------------------------------- FTP (ftplib in a thread)


class FtpRemote(Remote):
    def __init__(self, client: Any) -> None:
        self.client = client
        self.mlsd = True  # until the server says it does not know MLSD

    @classmethod
    async def open(cls, cred: dict[str, Any]) -> FtpRemote:
        return cls(await asyncio.to_thread(cls._connect, cred))

    @staticmethod
    def _connect(cred: dict[str, Any]) -> Any:
        import ftplib
        import ssl

        host, port = str(cred.get("host") or ""), _port(cred, 21)
        tls = cred.get("security") == "tls"
        client = ftplib.FTP_TLS(context=ssl.create_default_context(), timeout=TIMEOUT) if tls else ftplib.FTP(
            timeout=TIMEOUT)
        try:
            client.connect(host, port)
        except (OSError, EOFError, ftplib.Error) as exc:
            raise ValueError(f"could not connect to the FTP server {host}:{port}: {exc}") from None
        try:
            client.login(str(cred.get("user") or "anonymous"), str(cred.get("password") or ""))
            if tls:
                client.prot_p()
        except ftplib.error_perm as exc:
            client.close()
            raise ValueError(f"the FTP server {host}:{port} rejected the credential: {exc}") from None
        except (OSError, EOFError, ftplib.Error) as exc:
            client.close()
            raise ValueError(f"FTP login to {host}:{port} failed: {exc}") from None
        return client

    async def _call(self, what: str, fn: Any, *args: Any) -> Any:
        import ftplib

        try:
            return await asyncio.to_thread(fn, *args)
        except (ftplib.Error, OSError, EOFError) as exc:
            raise ValueError(f"FTP {what}: {exc}") from None

    async def list(self, path: str, recursive: bool) -> list[dict[str, Any]]:
        return await self._call(f"list {path}", self._list, path, recursive)

    def _list(self, path: str, recursive: bool) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        folders = [path]
        while folders and len(found) < MAX_LISTED:
            for entry in self._entries(folders.pop(0)):
                found.append(entry)
                if recursive and entry["type"] == "d":
                    folders.append(entry["path"])
        return found

    def _entries(self, folder: str) -> list[dict[str, Any]]:
        """A folder's entries by MLSD; from servers without it (vsftpd) by NLST, SIZE and MDTM."""
        import ftplib

        if self.mlsd:
            try:
                return [_entry(folder, name, _mlsd_kind(facts.get("type", "file")), facts.get("size"),
                               _mlsd_time(facts.get("modify")))
                        for name, facts in self.client.mlsd(folder, ["type", "size", "modify"])
                        if name not in (".", "..") and facts.get("type", "").lower() not in ("cdir", "pdir")]
            except ftplib.error_perm as exc:
                if not str(exc).startswith(("500", "501", "502")):  # the server does not know MLSD
                    raise
                self.mlsd = False
        listing = self.client.nlst(folder)
        self.client.voidcmd("TYPE I")  # SIZE needs binary mode (NLST just switched to ASCII)
        out = []
        for listed in listing:
            name = posixpath.basename(listed.rstrip("/"))
            if name in ("", ".", ".."):
                continue
            path = posixpath.join(folder, name)
            try:
                size = self.client.size(path)
            except ftplib.error_perm:  # no size: a folder
                out.append(_entry(folder, name, "d", 0, None))
                continue
            try:
                modified = _mlsd_time(self.client.voidcmd(f"MDTM {path}").split()[-1])
            except ftplib.error_perm:
                modified = None
            out.append(_entry(folder, name, "-", size, modified))
        return out

    async def download(self, path: str) -> bytes:
        buffer = io.BytesIO()
        await self._call(f"download {path}", self.client.retrbinary, f"RETR {path}", buffer.write)
        return buffer.getvalue()

    async def upload(self, path: str, data: bytes) -> None:
        await self._call(f"upload {path}", self.client.storbinary, f"STOR {path}", io.BytesIO(data))

    async def makedirs(self, folder: str) -> None:
        await self._call(f"create folder {folder}", self._makedirs, folder)

    def _makedirs(self, folder: str) -> None:
        import ftplib

        current = "/" if folder.startswith("/") else ""
        for part in [p for p in folder.split("/") if p]:
            current = posixpath.join(current, part)
            with contextlib.suppress(ftplib.error_perm):  # it exists (or cannot be made: the upload says so)
                self.client.mkd(current)

    async def delete(self, path: str, folder: bool, recursive: bool) -> None:
        if not folder:
            await self._call(f"delete {path}", self.client.delete, path)
        else:
            await self._call(f"delete folder {path}", self._remove_folder, path, recursive)

    def _remove_folder(self, path: str, recursive: bool) -> None:
        if recursive:
            for entry in self._list(path, False):
                if entry["type"] == "d":
                    self._remove_folder(entry["path"], True)
                else:
                    self.client.delete(entry["path"])
        self.client.rmd(path)

    async def rename(self, old: str, new: str) -> None:
        await self._call(f"rename {old} to {new}", self.client.rename, old, new)

    async def close(self) -> None:
        def quit_() -> None:
            try:
                self.client.quit()
            except Exception:  # the server went away: just drop the socket
                self.client.close()

        await asyncio.to_thread(quit_)


def _mlsd_kind(kind: str) -> str:
    """MLSD's `type` fact as n8n's d / l / -."""
    kind = kind.lower()
    return "d" if kind == "dir" else "l" if "link" in kind else "-"


def _mlsd_time(value: str | None) -> dt.datetime | None:
    """MLSD's `modify` fact (YYYYMMDDHHMMSS[.sss], UTC) as a datetime."""
    try:
        return dt.datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC) if value else None
    except ValueError:
        return None


# ---------------------------------------------------------------- SFTP (asyncssh)


class SftpRemote(Remote):
    def __init__(self, conn: Any, client: Any) -> None:
        self.conn = conn
        self.client = client

    @classmethod
    async def open(cls, cred: dict[str, Any]) -> SftpRemote:
        import asyncssh

        host, port = str(cred.get("host") or ""), _port(cred, 22)
        options: dict[str, Any] = {"username": str(cred.get("user") or ""), "known_hosts": None, "config": None,
                                   "agent_path": None, "client_keys": None, "connect_timeout": TIMEOUT,
                                   "login_timeout": TIMEOUT}
        try:
            if cred.get("privateKey"):
                options["client_keys"] = [asyncssh.import_private_key(
                    str(cred["privateKey"]), str(cred["passphrase"]) if cred.get("passphrase") else None)]
            if cred.get("password"):
                options["password"] = str(cred["password"])
            if cred.get("hostKey"):
                options["known_hosts"] = ([asyncssh.import_public_key(str(cred["hostKey"]).strip())], [], [])
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise ValueError(f"the sftp credential holds an unusable key: {exc}") from None
        try:
            conn = await asyncssh.connect(host, port, **options)
        except asyncssh.PermissionDenied:
            raise ValueError(f"the SFTP server {host}:{port} rejected the credential (user, password or key)") from None
        except asyncssh.HostKeyNotVerifiable as exc:
            raise ValueError(f"the SFTP server {host}:{port} is not the one the credential's hostKey names: "
                             f"{exc}") from None
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            raise ValueError(f"could not connect to the SFTP server {host}:{port}: {exc}") from None
        try:
            return cls(conn, await conn.start_sftp_client())
        except asyncssh.Error as exc:
            conn.close()
            raise ValueError(f"the server {host}:{port} offers no SFTP: {exc}") from None

    async def _call(self, what: str, work: Any) -> Any:
        import asyncssh

        try:
            return await work
        except (asyncssh.SFTPError, OSError) as exc:
            raise ValueError(f"SFTP {what}: {getattr(exc, 'reason', None) or exc}") from None

    async def list(self, path: str, recursive: bool) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        folders = [path]
        while folders and len(found) < MAX_LISTED:
            folder = folders.pop(0)
            for name in await self._call(f"list {folder}", self.client.readdir(folder)):
                if name.filename in (".", ".."):
                    continue
                mode = name.attrs.permissions or 0
                kind = "d" if stat.S_ISDIR(mode) else "l" if stat.S_ISLNK(mode) else "-"
                modified = dt.datetime.fromtimestamp(name.attrs.mtime, dt.UTC) if name.attrs.mtime else None
                entry = _entry(folder, name.filename, kind, name.attrs.size, modified)
                found.append(entry)
                if recursive and kind == "d":
                    folders.append(entry["path"])
        return found

    async def download(self, path: str) -> bytes:
        async def read() -> bytes:
            async with self.client.open(path, "rb") as f:
                return await f.read()

        return await self._call(f"download {path}", read())

    async def upload(self, path: str, data: bytes) -> None:
        async def write() -> None:
            async with self.client.open(path, "wb") as f:
                await f.write(data)

        await self._call(f"upload {path}", write())

    async def makedirs(self, folder: str) -> None:
        if folder not in ("", "/", "."):
            await self._call(f"create folder {folder}", self.client.makedirs(folder, exist_ok=True))

    async def delete(self, path: str, folder: bool, recursive: bool) -> None:
        if not folder:
            await self._call(f"delete {path}", self.client.remove(path))
        elif recursive:
            await self._call(f"delete folder {path}", self.client.rmtree(path))
        else:
            await self._call(f"delete folder {path}", self.client.rmdir(path))

    async def rename(self, old: str, new: str) -> None:
        await self._call(f"rename {old} to {new}", self.client.rename(old, new))

    async def close(self) -> None:
        self.client.exit()
        self.conn.close()
        await self.conn.wait_closed()
