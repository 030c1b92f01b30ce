"""Compression: zip or gzip binary properties, or unpack zip and gzip files (stdlib zipfile, gzip).

compress: every named property into one zip (`binaryPropertyOutput`), or each into
its own .gz. decompress: the format is told by the file's first bytes; zip entries
become `file_0`, `file_1`, ... (`outputPrefix`). Unpacking stops with an error once
the item's files would grow past `maxSize` MB or `MAX_ENTRIES` entries (zip bombs):
the bytes are counted as they come out, whatever sizes the archive claims.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, binary_bytes, make_binary, node
from flowbox.nodes._n8n import Params, is_expression, split_names

MAX_ENTRIES = 10_000
CHUNK = 1 << 16
MB = 1024 * 1024


class TooLarge(ValueError):
    """Unpacking would pass the size or entry limit."""


@dataclass
class Budget:
    """Bytes an item's files may still unpack to, out of `limit`."""

    left: int
    limit: int


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Compression v1/v1.1: decompress (`binaryPropertyName`, `outputPrefix` default file_), compress to
    zip (`fileName`, `binaryPropertyOutput`) and, in v1.1, one property to gzip. Several properties to gzip
    (n8n names them data, data1, ...), a gzip fileName, and v1's gzip naming (`<prefix>0`, `<name>.gzip`)
    are not supported."""
    p = Params(params, version)
    operation = p.take("operation", "decompress")
    props = p.take("binaryPropertyName", "data")
    if operation == "decompress":
        p.approximated("archives are recognised by their first bytes, not the file extension; macOS '__MACOSX' "
                       "copies in a zip are unpacked too")
        return p.done({"operation": "decompress", "binaryPropertyName": props,
                       "outputPrefix": p.take("outputPrefix", "file_")})
    if operation != "compress":
        p.unsupported(f"operation {operation!r} is not supported")
        return p.done({})
    fmt = p.take("outputFormat", "" if version < 1.1 else "zip")
    out = {"operation": "compress", "binaryPropertyName": props, "outputFormat": fmt,
           "binaryPropertyOutput": p.take("binaryPropertyOutput", "data")}
    if fmt == "zip":
        out["fileName"] = p.take("fileName", "")
    elif fmt == "gzip" and version < 1.1:
        p.unsupported("Compression v1's gzip naming (properties <outputPrefix>0, 1, ...; files <name>.gzip) is "
                      "not supported")
        p.ignore("outputPrefix")
    elif fmt == "gzip":
        if p.take("fileName", ""):
            p.unsupported("a gzip fileName is not supported (the file keeps its name plus .gz)")
        if is_expression(props) or len(split_names(props)) != 1:
            p.unsupported("gzip of several binary properties is not supported (n8n names them data, data1, ...)")
    else:
        p.unsupported(f"outputFormat {fmt!r} is not supported")
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.compression",), versions=(1, 1.1), convert=from_n8n)


@node(
    n8n=N8N,
    type="compression", display_name="Compression", group="files", icon="file-archive",
    description="Zip or gzip binary data, or unpack zip and gzip files",
    params=[
        Param("operation", "options", default="decompress", required=True, options=["compress", "decompress"]),
        Param("binaryPropertyName", "string", default="data", required=True,
              description="Binary properties to work on, separated by commas"),
        Param("outputFormat", "options", default="zip", options=["zip", "gzip"],
              show_if={"operation": ["compress"]}),
        Param("fileName", "string", default="", show_if={"operation": ["compress"], "outputFormat": ["zip"]},
              description="Name of the zip file (default: data.zip)"),
        Param("binaryPropertyOutput", "string", default="data", show_if={"operation": ["compress"]},
              description="Property for the zip file (gzip of several properties: this name plus 0, 1, ...)"),
        Param("outputPrefix", "string", default="file_", show_if={"operation": ["decompress"]},
              description="Unpacked files go to properties named this prefix plus 0, 1, ..."),
        Param("maxSize", "number", default=100, min=0, show_if={"operation": ["decompress"]},
              description="Refuse to unpack more than this many MB per item (a guard against zip bombs)"),
    ],
)
async def compression(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """One output item per input item, its binary replaced by the packed or unpacked files."""
    errors = ItemErrors(ctx)
    out: list[Item] = []
    for i, item in enumerate(items):
        props = [p.strip() for p in ctx.param("binaryPropertyName", i).split(",") if p.strip()]
        try:
            if ctx.param("operation", i) == "compress":
                binary = _compress(ctx, item, props, i)
            else:
                binary = _decompress(ctx, item, props, i)
            out.append(item.derive(item.json, binary))
        except ValueError as exc:
            errors.fail(item, i, ValueError(f"item {i}: {exc}"), out)
    return errors.outputs(out)


def _compress(ctx: Context, item: Item, props: list[str], i: int) -> dict[str, Any]:
    files = [(_name(item, p), binary_bytes(item, p)) for p in props]
    output = ctx.param("binaryPropertyOutput", i)
    if ctx.param("outputFormat", i) == "gzip":
        packed = {f"{output}{n}" if len(files) > 1 else output: make_binary(gzip.compress(data), f"{name}.gz")
                  for n, (name, data) in enumerate(files)}
        return packed
    buffer = io.BytesIO()
    taken: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(_unique(name, taken), data)
    return {output: make_binary(buffer.getvalue(), ctx.param("fileName", i) or "data.zip")}


def _name(item: Item, prop: str) -> str:
    entry = (item.binary or {}).get(prop)
    return str(entry.get("fileName") or prop) if isinstance(entry, dict) else prop


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`, ... (before the extension) when already in the zip."""
    path, n = PurePosixPath(name), 1
    while name in taken:
        n += 1
        name = str(path.with_name(f"{path.stem}_{n}{path.suffix}"))
    taken.add(name)
    return name


def _decompress(ctx: Context, item: Item, props: list[str], i: int) -> dict[str, Any]:
    try:
        limit = ctx.param("maxSize", i) * MB
    except (TypeError, ValueError):
        raise ValueError(f"parameter 'maxSize' must be a number of MB, got {ctx.param('maxSize', i)!r}") from None
    prefix = ctx.param("outputPrefix", i)
    budget = Budget(limit, limit)
    out: dict[str, Any] = {}
    for prop in props:
        data, name = binary_bytes(item, prop), _name(item, prop)
        if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            files = list(unzip(data, budget, name))
        elif data[:2] == b"\x1f\x8b":
            files = [(name[:-3] if name.lower().endswith(".gz") else name, gunzip(data, budget, name))]
        else:
            raise ValueError(f"binary property {prop!r} ({name}) is neither a zip nor a gzip file")
        for path, content in files:
            where = PurePosixPath(path)
            parent = str(where.parent)
            out[f"{prefix}{len(out)}"] = make_binary(content, where.name, directory=None if parent == "." else parent)
    return out


def unzip(data: bytes, budget: Budget, name: str) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of each file in a zip, counting every byte against `budget`."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{name} is not a valid zip file: {exc}") from None
    with archive:
        entries = [e for e in archive.infolist() if not e.is_dir()]
        if len(entries) > MAX_ENTRIES:
            raise TooLarge(f"{name} holds {len(entries):,} files, more than the {MAX_ENTRIES:,} allowed")
        for entry in entries:
            try:
                with archive.open(entry) as f:
                    yield entry.filename, _drain(f, budget, f"{name}: {entry.filename}")
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                # RuntimeError: an encrypted entry; NotImplementedError: an unknown compression method
                raise ValueError(f"{name}: cannot unpack {entry.filename}: {exc}") from None


def gunzip(data: bytes, budget: Budget, name: str) -> bytes:
    """The content of a gzip file, counting every byte against `budget`."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            return _drain(f, budget, name)
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"{name} is not a valid gzip file: {exc}") from None


def _drain(f: Any, budget: Budget, what: str) -> bytes:
    """Read `f` in chunks; TooLarge as soon as the bytes read pass what is left of the budget."""
    parts = []
    while chunk := f.read(CHUNK):
        budget.left -= len(chunk)
        if budget.left < 0:
            raise TooLarge(f"{what} unpacks to more than {budget.limit / MB:g} MB (a zip bomb?): refused; "
                           f"raise 'maxSize' if the file is genuine")
        parts.append(chunk)
    return b"".join(parts)
