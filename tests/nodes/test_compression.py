"""compression through the real engine: zip/gzip round trips, archives made by the stdlib, zip bombs refused."""

from __future__ import annotations

import base64
import gzip
import io
import zipfile
from typing import Any

from flowbox.node import make_binary

CSV = b"a,b\n1,2\n" * 100
PNG = bytes(range(256)) * 50


def comp(**params: Any) -> dict[str, Any]:
    return {"name": "Zip", "type": "compression", "parameters": params}


def item(**files: tuple[bytes, str]) -> dict[str, Any]:
    return {"json": {"id": 1}, "binary": {prop: make_binary(data, name) for prop, (data, name) in files.items()}}


def binaries(result: Any, node: str = "Zip") -> dict[str, tuple[str, bytes, str | None]]:
    assert result.status == "success", result.error
    [out] = result.runs[node][-1].outputs[0]
    return {k: (v["fileName"], base64.b64decode(v["data"]), v.get("directory")) for k, v in out.binary.items()}


def chained(run_node, first: dict[str, Any], second: dict[str, Any], items: list[dict[str, Any]]) -> Any:
    back = {**second, "name": "Unzip", "position": [400, 0]}
    return run_node(first, items, extra=[back], connections={"Zip": {"main": [[{"node": "Unzip", "type": "main",
                                                                               "index": 0}]]}})


def test_zip_round_trip(run_node):
    result = chained(run_node, comp(operation="compress", binaryPropertyName="csv, pic", fileName="both.zip"),
                     comp(operation="decompress"), [item(csv=(CSV, "t.csv"), pic=(PNG, "p.png"))])
    [(name, data, _)] = binaries(result).values()
    assert name == "both.zip" and zipfile.ZipFile(io.BytesIO(data)).namelist() == ["t.csv", "p.png"]
    assert binaries(result, "Unzip") == {"file_0": ("t.csv", CSV, None), "file_1": ("p.png", PNG, None)}
    assert result.runs["Unzip"][-1].outputs[0][0].json == {"id": 1}


def test_gzip_round_trip(run_node):
    result = chained(run_node, comp(operation="compress", outputFormat="gzip"),
                     comp(operation="decompress", outputPrefix="out"), [item(data=(CSV, "t.csv"))])
    [(name, data, _)] = binaries(result).values()
    assert name == "t.csv.gz" and gzip.decompress(data) == CSV
    assert binaries(result, "Unzip") == {"out0": ("t.csv", CSV, None)}


def test_gzip_of_several_properties(run_node):
    result = run_node(comp(operation="compress", outputFormat="gzip", binaryPropertyName="a,b"),
                      [item(a=(b"A", "a.txt"), b=(b"B", "b.txt"))])
    files = binaries(result)
    assert {k: (n, gzip.decompress(d)) for k, (n, d, _) in files.items()} == {
        "data0": ("a.txt.gz", b"A"), "data1": ("b.txt.gz", b"B")}


def test_unzip_an_archive_with_folders(run_node):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("docs/", "")
        archive.writestr("docs/readme.md", "# hi")
        archive.writestr("top.bin", PNG)
    result = run_node(comp(operation="decompress"), [item(data=(buffer.getvalue(), "a.zip"))])
    assert binaries(result) == {"file_0": ("readme.md", b"# hi", "docs"), "file_1": ("top.bin", PNG, None)}


def bomb(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", bytes(size))
    return buffer.getvalue()


def test_zip_bomb_is_refused(run_node):
    packed = bomb(8 * 1024 * 1024)
    assert len(packed) < 20_000
    result = run_node(comp(operation="decompress", maxSize=1), [item(data=(packed, "bomb.zip"))])
    assert result.status == "error"
    assert result.error["message"] == ("item 0: bomb.zip: zeros.bin unpacks to more than 1 MB (a zip bomb?): "
                                       "refused; raise 'maxSize' if the file is genuine")
    ok = run_node(comp(operation="decompress", maxSize=10), [item(data=(packed, "bomb.zip"))])
    assert binaries(ok)["file_0"][1] == bytes(8 * 1024 * 1024)


def test_gzip_bomb_is_refused(run_node):
    packed = gzip.compress(bytes(4 * 1024 * 1024))
    result = run_node(comp(operation="decompress", maxSize=0.5), [item(data=(packed, "z.gz"))])
    assert result.status == "error" and "z.gz unpacks to more than 0.5 MB" in result.error["message"]


def test_the_limit_counts_all_files_of_an_item(run_node):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(3):
            archive.writestr(f"part{n}.bin", bytes(400 * 1024))
    result = run_node(comp(operation="decompress", maxSize=1), [item(data=(buffer.getvalue(), "parts.zip"))])
    assert result.status == "error" and "parts.zip: part2.bin unpacks to more than 1 MB" in result.error["message"]


def test_too_many_entries_are_refused(run_node, monkeypatch):
    from flowbox.nodes import compression

    monkeypatch.setattr(compression, "MAX_ENTRIES", 2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(3):
            archive.writestr(f"f{n}", b"")
    result = run_node(comp(operation="decompress"), [item(data=(buffer.getvalue(), "many.zip"))])
    assert result.status == "error" and "many.zip holds 3 files, more than the 2 allowed" in result.error["message"]


def test_bad_archives_name_the_item(run_node):
    good = item(data=(bomb(10), "ok.zip"))
    result = run_node(comp(operation="decompress"), [good, item(data=(b"plain text", "notes.txt"))])
    assert result.status == "error"
    assert result.error["message"] == "item 1: binary property 'data' (notes.txt) is neither a zip nor a gzip file"
    truncated = bomb(100_000)[:60]
    result = run_node(comp(operation="decompress"), [item(data=(truncated, "cut.zip"))])
    assert result.status == "error" and result.error["message"].startswith("item 0: cut.zip is not a valid zip")
    result = run_node(comp(operation="decompress"), [item(data=(gzip.compress(CSV)[:-12], "cut.gz"))])
    assert result.status == "error" and result.error["message"].startswith("item 0: cut.gz is not a valid gzip")
    result = run_node(comp(operation="compress", binaryPropertyName="nope"), [good])
    assert result.status == "error" and "item 0: the item has no binary property 'nope'" in result.error["message"]
