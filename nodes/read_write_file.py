"""Read/Write Files from Disk: files matching a glob into binary items, or an item's binary into a file.

Only inside one folder, `ctx.files_dir` (FLOWBOX_FILES_DIR, default `<data dir>/files`):
a path or pattern is taken relative to it (an absolute path must lie inside it), and a
path that leaves it — by `..`, by being absolute elsewhere, or through a symlink that
points out — is refused. Written files never follow a symlink at their own name.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path, PurePosixPath
from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, binary_bytes, make_binary, node
from flowbox.nodes._files import OutsideFolder, inside
from flowbox.nodes._n8n import Params

MAX_FILES = 10_000


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Read/Write Files from Disk v1: read (`fileSelector`, `options.dataPropertyName`, `options.mimeType`;
    the file's facts in the item's json) and write (`fileName`, `dataPropertyName`, `options.append`). Paths
    lie inside flowbox's files folder; the read options fileName and fileExtension are not supported."""
    p = Params(params, version)
    operation = p.take("operation", "read")
    p.approximated("paths are taken inside flowbox's files folder (FLOWBOX_FILES_DIR); an absolute path must lie "
                   "in it")
    if operation == "read":
        options = p.options("options", ("dataPropertyName", "mimeType", "fileName", "fileExtension"))
        for name in ("fileName", "fileExtension"):
            if name in options:
                p.unsupported(f"option 'options.{name}' is not supported")
        out = {"operation": "read", "fileSelector": p.take("fileSelector", ""), "fileInfo": True, "fileFacts": "n8n",
               "dataPropertyName": options.get("dataPropertyName") or "data"}
        if options.get("mimeType"):
            out["mimeType"] = options["mimeType"]
        return p.done(out)
    if operation != "write":
        p.unsupported(f"operation {operation!r} is not supported")
        return p.done({})
    options = p.options("options", ("append",))
    p.approximated("the output's fileName is the path inside the files folder")
    return p.done({"operation": "write", "fileName": p.take("fileName", ""), "fileFacts": "n8n",
                   "dataPropertyName": p.take("dataPropertyName", "data"), "append": bool(options.get("append"))})


def from_n8n_read_binary_file(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's legacy Read Binary File (`filePath`, `dataPropertyName`): the input item with the file added."""
    p = Params(params, version)
    p.approximated("paths are taken inside flowbox's files folder (FLOWBOX_FILES_DIR); an absolute path must lie "
                   "in it")
    return p.done({"operation": "read", "fileSelector": p.take("filePath", ""), "keepInput": True,
                   "dataPropertyName": p.take("dataPropertyName", "data")})


def from_n8n_read_binary_files(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's legacy Read Binary Files (`fileSelector`, `dataPropertyName`): every matching file as an item with
    empty json and the file in the binary property."""
    p = Params(params, version)
    p.approximated("paths are taken inside flowbox's files folder (FLOWBOX_FILES_DIR); an absolute path must lie "
                   "in it")
    p.approximated("the files are read once per input item (n8n reads them once, with the first item's pattern)")
    return p.done({"operation": "read", "fileSelector": p.take("fileSelector", ""),
                   "dataPropertyName": p.take("dataPropertyName", "data")})


def from_n8n_write_binary_file(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's legacy Write Binary File (`fileName`, `dataPropertyName`, `options.append`)."""
    p = Params(params, version)
    options = p.options("options", ("append",))
    p.approximated("paths are taken inside flowbox's files folder (FLOWBOX_FILES_DIR); the output's fileName is "
                   "the path inside it")
    return p.done({"operation": "write", "fileName": p.take("fileName", ""), "fileFacts": "n8n",
                   "dataPropertyName": p.take("dataPropertyName", "data"), "append": bool(options.get("append"))})


N8N = N8n(types=("n8n-nodes-base.readWriteFile",), versions=(1,), convert=from_n8n)
READ_BINARY_FILE = N8n(types=("n8n-nodes-base.readBinaryFile",), versions=(1,), convert=from_n8n_read_binary_file)
READ_BINARY_FILES = N8n(types=("n8n-nodes-base.readBinaryFiles",), versions=(1,), convert=from_n8n_read_binary_files)
WRITE_BINARY_FILE = N8n(types=("n8n-nodes-base.writeBinaryFile",), versions=(1,), convert=from_n8n_write_binary_file)


@node(
    n8n=(N8N, READ_BINARY_FILE, READ_BINARY_FILES, WRITE_BINARY_FILE),
    type="readWriteFile", display_name="Read/Write Files from Disk", group="files", icon="file",
    description="Read files (a glob pattern) into binary items, or write an item's binary data to a file",
    params=[
        Param("operation", "options", default="read", required=True, options=["read", "write"]),
        Param("fileSelector", "string", default="", required=True, show_if={"operation": ["read"]},
              placeholder="reports/*.csv",
              description="Glob pattern of the files to read, relative to the files folder (** spans folders)"),
        Param("fileName", "string", default="", required=True, show_if={"operation": ["write"]},
              placeholder="out/report.csv", description="Path of the file to write, relative to the files folder"),
        Param("dataPropertyName", "string", default="data", required=True,
              description="Binary property that receives (read) or holds (write) the file's data"),
        Param("append", "boolean", default=False, show_if={"operation": ["write"]},
              description="Append to the file instead of replacing it"),
        Param("mimeType", "string", default="", show_if={"operation": ["read"]},
              description="MIME type to set (default: guessed from the file name)"),
        Param("fileInfo", "boolean", default=False, show_if={"operation": ["read"]},
              description="Also put the file's mimeType, fileName, fileExtension and fileSize (bytes) in the "
                          "item's json, as n8n does"),
        Param("fileFacts", "options", default="bytes", options=["bytes", "n8n"],
              description="bytes: fileSize a number of bytes; n8n (set on import): n8n's facts, fileSize as text "
                          "(\"1.04 kB\") and fileType, and a write's fileName as the parameter gave it"),
        Param("keepInput", "boolean", default=False, show_if={"operation": ["read"]},
              description="Each output item is its input item (json and binary) with the file added (n8n's Read "
                          "Binary File)"),
    ],
)
async def read_write_file(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """Read: one output item per file matched (for every input item). Write: one item per input item."""
    root = ctx.files_dir
    errors = ItemErrors(ctx)
    out: list[Item] = []
    for i, item in enumerate(items):
        prop = ctx.param("dataPropertyName", i)
        try:
            if ctx.param("operation", i) == "write":
                path = await asyncio.to_thread(write_file, root, ctx.param("fileName", i),
                                               binary_bytes(item, prop), ctx.param("append", i))
                given = ctx.param("fileName", i) if ctx.param("fileFacts", i) == "n8n" else path
                out.append(item.derive({**item.json, "fileName": given}))  # n8n: the path as given
            else:
                mime = ctx.param("mimeType", i) or None
                found = await asyncio.to_thread(read_files, root, ctx.param("fileSelector", i))
                info, n8n, keep = ctx.param("fileInfo", i, False), ctx.param("fileFacts", i) == "n8n", \
                    ctx.param("keepInput", i)
                for rel, data in found:
                    entry = _binary(rel, data, mime)
                    facts = n8n_facts(entry) if n8n else {
                        k: entry[k] for k in ("mimeType", "fileName", "fileExtension", "fileSize") if k in entry}
                    if keep:
                        out.append(item.derive({**item.json, **(facts if info else {})},
                                               {**(item.binary or {}), prop: entry}))
                    else:
                        out.append(Item(facts if info else {}, {prop: entry}, item))
        except (OSError, ValueError) as exc:
            errors.fail(item, i, ValueError(f"item {i}: {_explain(exc)}"), out)
    return errors.outputs(out)


def n8n_facts(entry: dict[str, Any]) -> dict[str, Any]:
    """A binary entry's facts as n8n puts them in the item's json: fileExtension, fileName, fileSize as
    pretty-bytes text ("1.04 kB"), fileType (image, audio, video, text, json, html, pdf) and mimeType."""
    mime = str(entry.get("mimeType") or "")
    kind = next((k for prefixes, k in ((("application/json",), "json"), (("text/html",), "html"),
                                       (("image/",), "image"), (("audio/",), "audio"), (("video/",), "video"),
                                       (("text/", "application/javascript"), "text"), (("application/pdf",), "pdf"))
                 if mime.startswith(prefixes)), None)
    facts = {"fileExtension": entry.get("fileExtension"), "fileName": entry.get("fileName"),
             "fileSize": pretty_bytes(int(entry.get("fileSize") or 0)), "fileType": kind, "mimeType": mime or None}
    return {k: v for k, v in facts.items() if v is not None}


def pretty_bytes(size: int) -> str:
    """A byte count as the pretty-bytes library writes it (SI units, three significant digits): 12 B, 1.04 kB."""
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
    if size < 1:
        return f"{size} B"
    exponent = min(len(str(size)) - 1, 3 * (len(units) - 1)) // 3
    value = float(f"{size / 1000 ** exponent:.3g}")
    return f"{int(value) if value.is_integer() else value} {units[exponent]}"


def _binary(rel: str, data: bytes, mime: str | None) -> dict[str, object]:
    path = PurePosixPath(rel)
    return make_binary(data, path.name, mime, None if str(path.parent) == "." else str(path.parent))


def read_files(root: Path, pattern: str) -> list[tuple[str, bytes]]:
    """(path relative to root, bytes) of every file matching the glob `pattern`, sorted by path."""
    base = root.resolve()
    base.mkdir(parents=True, exist_ok=True)
    given = Path(pattern.strip())
    if given.is_absolute():
        under = next((p for p in (base, root) if given.is_relative_to(p)), None)
        if under is None:
            raise OutsideFolder(f"fileSelector {pattern!r} is outside the files folder {base} (set "
                                f"FLOWBOX_FILES_DIR to allow another folder)")
        given = given.relative_to(under)
    inside(base, str(given), "fileSelector")
    found = []
    for match in sorted(base.glob(str(given))):
        if match.is_file():
            resolved = inside(base, str(match), "file")
            found.append((resolved.relative_to(base).as_posix(), resolved))
        if len(found) > MAX_FILES:
            raise ValueError(f"fileSelector {pattern!r} matches more than {MAX_FILES:,} files")
    return [(rel, path.read_bytes()) for rel, path in found]


def write_file(root: Path, path: str, data: bytes, append: bool) -> str:
    """Write `data` to `path` inside `root` (parent folders made); returns the path relative to root."""
    base = root.resolve()
    target = inside(base, path, "fileName")
    if target == base:
        raise ValueError(f"fileName {path!r} names the files folder itself, not a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    inside(base, str(target.parent), "fileName")  # the folders made are still inside
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(target, flags, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return target.relative_to(base).as_posix()


def _explain(exc: Exception) -> Exception:
    """OS errors as one readable line (the file named, without errno noise)."""
    if isinstance(exc, OSError):
        where = f" {exc.filename!s}" if exc.filename else ""
        return ValueError(f"{exc.strerror or type(exc).__name__}:{where}".rstrip(":"))
    return exc
