"""readWriteFile through the real engine, on real files in a temporary files folder."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from flowbox.engine.runner import EngineServices
from flowbox.node import make_binary
from flowbox.settings import Settings


def rw(**params: Any) -> dict[str, Any]:
    return {"name": "Files", "type": "readWriteFile", "parameters": params}


def in_folder(root: Path) -> EngineServices:
    services = EngineServices()
    services.files_dir = root
    return services


def out(result: Any) -> list[Any]:
    assert result.status == "success", result.error
    return result.runs["Files"][-1].outputs[0]


def data_of(item: Any, prop: str = "data") -> bytes:
    return base64.b64decode(item.binary[prop]["data"])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


def test_write_then_read_back_byte_identical(run_node, root):
    payload = bytes(range(256)) * 10
    item = {"json": {"id": 1}, "binary": {"data": make_binary(payload, "blob.bin")}}
    [written] = out(run_node(rw(operation="write", fileName="out/{{ $json.id }}.bin"), [item],
                             services=in_folder(root)))
    assert written.json == {"id": 1, "fileName": "out/1.bin"}
    assert (root / "out" / "1.bin").read_bytes() == payload

    [read] = out(run_node(rw(operation="read", fileSelector="out/*.bin"), services=in_folder(root)))
    assert data_of(read) == payload
    assert read.binary["data"]["fileName"] == "1.bin" and read.binary["data"]["directory"] == "out"
    assert read.binary["data"]["fileSize"] == len(payload)


def test_read_glob_gives_one_item_per_file_sorted(run_node, root):
    (root / "a").mkdir()
    (root / "a" / "x.csv").write_text("x")
    (root / "b.csv").write_text("b")
    (root / "c.txt").write_text("c")
    items = out(run_node(rw(operation="read", fileSelector="**/*.csv", dataPropertyName="file"),
                         services=in_folder(root)))
    assert [(i.binary["file"]["fileName"], data_of(i, "file")) for i in items] == [("x.csv", b"x"), ("b.csv", b"b")]
    assert items[0].binary["file"]["mimeType"] == "text/csv"


def test_read_nothing_matched_gives_no_items(run_node, root):
    assert out(run_node(rw(operation="read", fileSelector="*.none"), services=in_folder(root))) == []


def test_absolute_path_inside_the_folder_is_allowed(run_node, root):
    (root / "in.txt").write_text("hello")
    [item] = out(run_node(rw(operation="read", fileSelector=str(root / "*.txt")), services=in_folder(root)))
    assert data_of(item) == b"hello"


def test_append(run_node, root):
    items = [{"json": {}, "binary": {"data": make_binary(t, "t.txt")}} for t in (b"one\n", b"two\n")]
    out(run_node(rw(operation="write", fileName="log.txt", append=True), items, services=in_folder(root)))
    assert (root / "log.txt").read_bytes() == b"one\ntwo\n"


@pytest.mark.parametrize(("params", "message"), [
    ({"operation": "read", "fileSelector": "../*"}, "contains '..'"),
    ({"operation": "read", "fileSelector": "/etc/passwd"}, "outside the files folder"),
    ({"operation": "write", "fileName": "../escaped.txt"}, "contains '..'"),
    ({"operation": "write", "fileName": "/tmp/escaped.txt"}, "outside the files folder"),
])
def test_paths_that_leave_the_folder_are_refused(run_node, root, params, message):
    item = {"json": {}, "binary": {"data": make_binary(b"x", "x.txt")}}
    result = run_node(rw(**params), [item], services=in_folder(root))
    assert result.status == "error"
    assert message in result.error["message"] and "item 0" in result.error["message"]
    assert not (root.parent / "escaped.txt").exists()


def test_symlinks_pointing_out_are_refused(run_node, root, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(secret, root / "link.txt")
    os.symlink(outside, root / "dir")

    read = run_node(rw(operation="read", fileSelector="*.txt"), services=in_folder(root))
    assert read.status == "error" and "symlink pointing outside the files folder" in read.error["message"]
    read_dir = run_node(rw(operation="read", fileSelector="dir/*"), services=in_folder(root))
    assert read_dir.status == "error" and "outside the files folder" in read_dir.error["message"]

    item = {"json": {}, "binary": {"data": make_binary(b"overwritten", "x.txt")}}
    for name in ("link.txt", "dir/new.txt"):
        result = run_node(rw(operation="write", fileName=name), [item], services=in_folder(root))
        assert result.status == "error" and "symlink pointing outside" in result.error["message"]
    assert secret.read_text() == "secret" and list(outside.iterdir()) == []


def test_symlinks_inside_the_folder_are_fine(run_node, root):
    (root / "real.txt").write_text("real")
    os.symlink(root / "real.txt", root / "alias.txt")
    items = out(run_node(rw(operation="read", fileSelector="alias.txt"), services=in_folder(root)))
    assert [data_of(i) for i in items] == [b"real"]


def test_missing_binary_property_names_item_and_property(run_node, root):
    items = [{"json": {}, "binary": {"data": make_binary(b"x", "x")}}, {"json": {"n": 2}}]
    result = run_node(rw(operation="write", fileName="f{{ $json.n }}.txt"), items, services=in_folder(root))
    assert result.status == "error"
    assert "item 1" in result.error["message"] and "no binary property 'data'" in result.error["message"]


def test_on_error_continue_keeps_the_good_items(run_node, root):
    items = [{"json": {"name": "ok.txt"}, "binary": {"data": make_binary(b"x", "x")}},
             {"json": {"name": "../bad.txt"}, "binary": {"data": make_binary(b"x", "x")}}]
    node = {**rw(operation="write", fileName="{{ $json.name }}"), "onError": "continue"}
    result = run_node(node, items, services=in_folder(root))
    assert result.status == "success", result.error
    first, second = result.runs["Files"][-1].outputs[0]
    assert first.json["fileName"] == "ok.txt" and "contains '..'" in second.json["error"]


def test_the_folder_comes_from_settings(run_node, tmp_path, monkeypatch):
    assert Settings.load(tmp_path / "data").files_dir == tmp_path / "data" / "files"
    chosen = tmp_path / "chosen"
    monkeypatch.setenv("FLOWBOX_FILES_DIR", str(chosen))
    assert Settings.load(tmp_path / "data").files_dir == chosen
    item = {"json": {}, "binary": {"data": make_binary(b"via settings", "x")}}
    out(run_node(rw(operation="write", fileName="s.txt"), [item]))  # no files_dir given to the engine
    assert (chosen / "s.txt").read_bytes() == b"via settings"


def test_flowbox_run_uses_the_data_dirs_files_folder(tmp_path, monkeypatch, capsys):
    import gc
    import json

    from flowbox.cli import main

    monkeypatch.delenv("FLOWBOX_FILES_DIR", raising=False)
    wf = {"nodes": [
        {"name": "Start", "type": "manualTrigger", "parameters": {}},
        {"name": "Text", "type": "convertToFile", "parameters": {"operation": "toText", "sourceProperty": "t"}},
        {"name": "Files", "type": "readWriteFile", "parameters": {"operation": "write", "fileName": "cli.txt"}}],
        "connections": {"Start": {"main": [[{"node": "Text", "type": "main", "index": 0}]]},
                        "Text": {"main": [[{"node": "Files", "type": "main", "index": 0}]]}}}
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf))
    threshold = gc.get_threshold()
    try:
        main(["run", str(path), "--input", '{"t": "from the cli"}', "--no-save", "--json",
              "--data-dir", str(tmp_path / "data")])
    finally:  # `flowbox run` tunes the collector for its one run: give the test process its own back
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert json.loads(capsys.readouterr().out)["status"] == "success"
    assert (tmp_path / "data" / "files" / "cli.txt").read_text() == "from the cli"


def test_read_file_info_puts_the_files_facts_in_json(run_node, root):
    """fileInfo on (what n8n's node does): the item's json has mimeType, fileName, fileExtension, fileSize."""
    (root / "r.csv").write_text("a,b\n")
    [plain] = out(run_node(rw(operation="read", fileSelector="r.csv"), services=in_folder(root)))
    assert plain.json == {}
    [item] = out(run_node(rw(operation="read", fileSelector="r.csv", fileInfo=True), services=in_folder(root)))
    assert item.json == {"mimeType": "text/csv", "fileName": "r.csv", "fileExtension": "csv", "fileSize": 4}
