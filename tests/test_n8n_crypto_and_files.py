"""n8n's Crypto (hash and HMAC of a binary property, sign with a PEM key), its legacy file nodes (Read Binary
Files, Write Binary File) and Convert to File / Extract from File, written from n8n's documentation: run through
`flowbox run --json`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from n8n_support import n8n_node, n8n_workflow, outputs, placeholder_check, run_json


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def test_sign_with_rsa_and_ec_keys_verifies_with_the_public_key(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    """RSA-SHA256 gives a PKCS#1 v1.5 signature (the same each time), an EC key a DER ECDSA one; n8n's `\\n`
    escapes in a pasted key are line breaks."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    escaped = _pem(rsa_key).replace("\n", "\\n")
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("RSA", "crypto", 1, {"action": "sign", "value": "order 42", "algorithm": "RSA-SHA256",
                                     "encoding": "base64", "privateKey": escaped}),
        n8n_node("EC", "crypto", 1, {"action": "sign", "value": "order 42", "algorithm": "sha256",
                                    "dataPropertyName": "sig", "privateKey": _pem(ec_key)}))
    result = run_json(capsys, tmp_path, data)
    [rsa_out] = outputs(result, "RSA")
    signature = base64.b64decode(rsa_out["data"])
    rsa_key.public_key().verify(signature, b"order 42", padding.PKCS1v15(), hashes.SHA256())
    assert signature == rsa_key.sign(b"order 42", padding.PKCS1v15(), hashes.SHA256())
    [ec_out] = outputs(result, "EC")
    ec_key.public_key().verify(bytes.fromhex(ec_out["sig"]), b"order 42", ec.ECDSA(hashes.SHA256()))


def test_sign_refuses_a_bad_key_and_an_unknown_algorithm(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from n8n_support import cli

    path = tmp_path / "bad.json"
    path.write_text(__import__("json").dumps(n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Sign", "crypto", 1, {"action": "sign", "value": "x", "algorithm": "RSA-SHA256",
                                      "privateKey": "not a key"}))))
    code, _, err = cli(capsys, "run", str(path), "--data-dir", str(tmp_path / "data"))
    assert code == 1 and "Sign" in err and "'privateKey' is not a PEM private key" in err
    placeholder_check("crypto", 1, {"action": "sign", "algorithm": "RSA-WHIRLPOOL"}, "sign algorithm 'RSA-WHIRLPOOL'")


def test_read_binary_files_then_hash_and_hmac_the_files_bytes(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Read Binary Files puts each matching file in `data` with empty json; Crypto with binaryData hashes its
    bytes, not a value; Write Binary File writes the binary back out."""
    files = tmp_path / "files"
    (files / "in").mkdir(parents=True)
    (files / "in" / "a.bin").write_bytes(b"\x00\x01payload")
    (files / "in" / "b.txt").write_bytes(b"second")
    monkeypatch.setenv("FLOWBOX_FILES_DIR", str(files))
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Read", "readBinaryFiles", 1, {"fileSelector": f"{files}/in/*"}),
        n8n_node("Hash", "crypto", 1, {"binaryData": True, "type": "SHA256"}),
        n8n_node("Hmac", "crypto", 1, {"action": "hmac", "binaryData": True, "secret": "k", "encoding": "base64",
                                      "dataPropertyName": "mac"}),
        n8n_node("Write", "writeBinaryFile", 1, {"fileName": "={{ 'out/' + $binary.data.fileName }}"}))
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Read") == [{}, {}]
    assert outputs(result, "Hash") == [{"data": hashlib.sha256(b"\x00\x01payload").hexdigest()},
                                       {"data": hashlib.sha256(b"second").hexdigest()}]
    mac = base64.b64encode(hmac.new(b"k", b"second", "md5").digest()).decode()
    assert outputs(result, "Hmac")[1] == {"data": hashlib.sha256(b"second").hexdigest(), "mac": mac}
    assert (files / "out" / "a.bin").read_bytes() == b"\x00\x01payload"
    assert (files / "out" / "b.txt").read_bytes() == b"second"


def test_hashing_a_missing_binary_property_names_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from n8n_support import cli

    path = tmp_path / "w.json"
    path.write_text(__import__("json").dumps(n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Hash", "crypto", 1, {"binaryData": True, "binaryPropertyName": "file"}))))
    code, _, err = cli(capsys, "run", str(path), "--data-dir", str(tmp_path / "data"))
    assert code == 1 and "no binary property 'file'" in err


def test_convert_to_file_and_extract_from_file_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """n8n's Convert to File (toText, toJson compact and formatted, csv with a delimiter, toBinary) read back by
    Extract from File (text, csv) gives the values n8n's docs describe: JSON text as JSON.stringify writes it, CSV
    rows as text."""
    row = {"id": 7, "name": "Ann", "note": "a|b", "b64": base64.b64encode(b"hello file").decode()}
    nodes = [n8n_node("Start", "manualTrigger"),
             n8n_node("Text", "convertToFile", 1, {"operation": "toText", "sourceProperty": "note", "options": {}}),
             n8n_node("Json", "convertToFile", 1.1, {"operation": "toJson", "options": {}}),
             n8n_node("Pretty", "convertToFile", 1.1, {"operation": "toJson", "mode": "each",
                                                       "options": {"format": True}}),
             n8n_node("Csv", "convertToFile", 1.1, {"options": {"delimiter": ";", "fileName": "rows.csv"}}),
             n8n_node("Bin", "convertToFile", 1.1, {"operation": "toBinary", "sourceProperty": "b64", "options": {}})]
    readers = {"Text": ("text", {}), "Json": ("text", {}), "Pretty": ("text", {}), "Csv": ("csv", {"delimiter": ";"}),
               "Bin": ("text", {})}
    for name, (operation, options) in readers.items():
        nodes.append(n8n_node(f"Read {name}", "extractFromFile", 1, {"operation": operation, "options": options}))
    connections = {"Start": {"main": [[{"node": n, "type": "main", "index": 0} for n in readers]]},
                   **{n: {"main": [[{"node": f"Read {n}", "type": "main", "index": 0}]]} for n in readers}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections, pinData={"Start": [{"json": row}]}))
    assert outputs(result, "Read Text") == [{"data": "a|b"}]
    assert outputs(result, "Read Json") == [{"data": '[{"id":7,"name":"Ann","note":"a|b","b64":"aGVsbG8gZmlsZQ=="}]'}]
    assert outputs(result, "Read Pretty")[0]["data"].startswith('{\n  "id": 7,\n')
    assert outputs(result, "Read Csv") == [{"id": "7", "name": "Ann", "note": "a|b", "b64": "aGVsbG8gZmlsZQ=="}]
    assert outputs(result, "Read Bin") == [{"data": "hello file"}]


def test_spreadsheet_formats_round_trip_as_sheetjs_reads_them(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    """Convert to File ods, xls, rtf, html and xlsx, read back by Extract from File (the same format, and
    `spreadsheet` v2 autodetect for each): numbers stay numbers, text stays text, a value with RTF's and HTML's
    special characters survives, the header row gives the keys."""
    rows = [{"row_number": 2, "country": "uk", "note": "a {b} \\ <c> & é 🚀", "visits": 1.5},
            {"row_number": 3, "country": "fr", "note": "", "visits": 0}]
    formats = ("ods", "xls", "rtf", "html", "xlsx")
    nodes = [n8n_node("Start", "manualTrigger")]
    for fmt in formats:
        nodes += [n8n_node(f"To {fmt}", "convertToFile", 1.1, {"operation": fmt, "options": {}}),
                  n8n_node(f"From {fmt}", "extractFromFile", 1, {"operation": fmt, "options": {}}),
                  n8n_node(f"Sniff {fmt}", "spreadsheetFile", 2, {"options": {}})]
    connections = {"Start": {"main": [[{"node": f"To {fmt}", "type": "main", "index": 0} for fmt in formats]]},
                   **{f"To {fmt}": {"main": [[{"node": f"From {fmt}", "type": "main", "index": 0},
                                              {"node": f"Sniff {fmt}", "type": "main", "index": 0}]]}
                      for fmt in formats}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections,
                                                     pinData={"Start": [{"json": r} for r in rows]}))
    expected = [rows[0], {"row_number": 3, "country": "fr", "visits": 0}]
    for fmt in formats:
        assert outputs(result, f"From {fmt}") == expected, fmt
        assert outputs(result, f"Sniff {fmt}") == expected, fmt


def test_extract_text_keeps_what_keep_source_says(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Extract from File's keepSource (n8n's options): json and both keep the item's fields beside the content;
    without it only the content remains (which binary properties stay: tests/nodes/test_read_pdf.py)."""
    nodes = [n8n_node("Start", "manualTrigger"),
             n8n_node("Made", "convertToFile", 1.1, {"operation": "toText", "sourceProperty": "note", "options": {}}),
             n8n_node("File", "merge", 3, {"mode": "combine", "combineBy": "combineByPosition", "options": {}}),
             n8n_node("Plain", "extractFromFile", 1, {"operation": "text", "options": {}}),
             n8n_node("Json", "extractFromFile", 1, {"operation": "text", "destinationKey": "t",
                                                     "options": {"keepSource": "json"}}),
             n8n_node("Both", "extractFromFile", 1, {"operation": "text", "options": {"keepSource": "both"}})]
    connections = {"Start": {"main": [[{"node": "Made", "type": "main", "index": 0},
                                       {"node": "File", "type": "main", "index": 0}]]},
                   "Made": {"main": [[{"node": "File", "type": "main", "index": 1}]]},
                   "File": {"main": [[{"node": n, "type": "main", "index": 0} for n in ("Plain", "Json", "Both")]]}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections,
                                                     pinData={"Start": [{"json": {"note": "hi", "n": 1}}]}))
    assert outputs(result, "Made") == [{}]  # n8n's Convert to File: the item holds the file alone
    assert outputs(result, "Plain") == [{"data": "hi"}]
    assert outputs(result, "Json") == [{"note": "hi", "n": 1, "t": "hi"}]
    assert outputs(result, "Both") == [{"note": "hi", "n": 1, "data": "hi"}]


def test_convert_to_ics_and_extract_from_ics(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Convert to File's iCal operation (the iCalendar node) and Extract from File's fromIcs: the event comes back
    as n8n's calendar object, `data.events[0]` with its summary, description and all-day dates."""
    nodes = [n8n_node("Start", "manualTrigger"),
             n8n_node("Ics", "convertToFile", 1.1, {"operation": "iCal", "title": "Launch",
                                                    "start": "2024-01-03T00:00:00", "end": "2024-01-04T00:00:00",
                                                    "allDay": True,
                                                    "additionalFields": {"description": "event description"}}),
             n8n_node("Read", "extractFromFile", 1, {"operation": "fromIcs", "options": {}})]
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes))
    [calendar] = outputs(result, "Read")
    event = calendar["data"]["events"][0]
    assert calendar["data"]["version"] == "2.0"
    assert (event["summary"], event["description"]) == ("Launch", "event description")
    assert event["start"] == {"date": "2024-01-03T00:00:00Z", "type": "DATE"}
    assert event["end"] == {"date": "2024-01-05T00:00:00Z", "type": "DATE"}


@pytest.mark.parametrize(("kind", "params", "reason"), [
    ("convertToFile", {"operation": "csv", "options": {"compression": True}}, "option 'options.compression'"),
    ("extractFromFile", {"operation": "text", "options": {"encoding": "hex"}}, "encoding 'hex'"),
])
def test_file_conversions_flowbox_lacks_are_placeholders(kind: str, params: dict[str, object], reason: str) -> None:
    placeholder_check(kind, 1, params, reason)


def test_crypto_v2_takes_its_secret_and_key_from_a_crypto_credential() -> None:
    """Crypto v2 keeps the HMAC secret and the signing key in n8n's `crypto` credential: imported, the node names
    that credential and HMACs and signs with it; the workflow never holds the secret."""
    import asyncio
    import json

    from support import credential_services

    from flowbox.engine.runner import Runner
    from flowbox.n8n import convert
    from flowbox.node import make_items
    from flowbox.workflow import load_workflow

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ref = {"crypto": {"id": "c1", "name": "keys"}}
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Mac", "crypto", 2, {"action": "hmac", "type": "SHA256", "value": "pay 5"}, credentials=ref),
        n8n_node("Sign", "crypto", 2, {"action": "sign", "algorithm": "RSA-SHA256", "value": "pay 5",
                                       "encoding": "base64"}, credentials=ref),
        connections={"Start": {"main": [[{"node": "Mac", "type": "main", "index": 0},
                                         {"node": "Sign", "type": "main", "index": 0}]]}})
    converted = convert(data).workflow
    assert "s3cret" not in json.dumps(converted) and converted["nodes"][1]["credentials"] == {"crypto": "c1"}
    services = credential_services({"hmacSecret": "s3cret", "signPrivateKey": _pem(key)}, "crypto", "c1")
    result = asyncio.run(Runner(load_workflow(converted), services=services).run(make_items([{}])))
    assert result.status == "success", result.error
    out = {name: runs[-1].outputs[0][0].json for name, runs in result.runs.items()}
    assert out["Mac"] == {"data": hmac.new(b"s3cret", b"pay 5", "sha256").hexdigest()}
    key.public_key().verify(base64.b64decode(out["Sign"]["data"]), b"pay 5", padding.PKCS1v15(), hashes.SHA256())


def test_legacy_spreadsheet_file_writes_and_reads_back_telling_csv_from_xlsx(capsys: pytest.CaptureFixture[str],
                                                                           tmp_path: Path) -> None:
    """n8n's Spreadsheet File: toFile (xlsx, csv) as Convert to File, fromFile (autodetect) as Extract from File,
    which tells an XLSX workbook from a CSV file by its bytes; CSV cells come back as text, XLSX numbers as numbers."""
    rows = [{"sku": "a-1", "qty": 3}, {"sku": "b-2", "qty": 5}]
    nodes = [n8n_node("Start", "manualTrigger"),
             n8n_node("Xlsx", "spreadsheetFile", 2, {"operation": "toFile", "fileFormat": "xlsx"}),
             n8n_node("Csv", "spreadsheetFile", 2, {"operation": "toFile", "fileFormat": "csv"}),
             n8n_node("Read Xlsx", "spreadsheetFile", 1, {}), n8n_node("Read Csv", "spreadsheetFile", 2, {})]
    connections = {"Start": {"main": [[{"node": "Xlsx", "type": "main", "index": 0},
                                       {"node": "Csv", "type": "main", "index": 0}]]},
                   "Xlsx": {"main": [[{"node": "Read Xlsx", "type": "main", "index": 0}]]},
                   "Csv": {"main": [[{"node": "Read Csv", "type": "main", "index": 0}]]}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections,
                                                     pinData={"Start": [{"json": r} for r in rows]}))
    assert outputs(result, "Read Xlsx") == rows
    assert outputs(result, "Read Csv") == [{"sku": "a-1", "qty": "3"}, {"sku": "b-2", "qty": "5"}]


def test_legacy_move_binary_data_both_ways(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """n8n's Move Binary Data: jsonToBinary writes the item's json as a JSON file (convertAllData) or one field's
    text; binaryToJson makes the file's JSON the item's json (setAllData), or puts its text / parsed JSON under
    destinationKey."""
    nodes = [n8n_node("Start", "manualTrigger"),
             n8n_node("ToFile", "moveBinaryData", 1, {"mode": "jsonToBinary", "destinationKey": "file"}),
             n8n_node("Back", "moveBinaryData", 1.1, {"sourceKey": "file"}),
             n8n_node("AsText", "moveBinaryData", 1, {"sourceKey": "file", "setAllData": False,
                                                      "destinationKey": "raw"}),
             n8n_node("Note", "moveBinaryData", 1, {"mode": "jsonToBinary", "convertAllData": False,
                                                    "sourceKey": "note"}),
             n8n_node("NoteText", "moveBinaryData", 1, {"setAllData": False})]
    connections = {"Start": {"main": [[{"node": "ToFile", "type": "main", "index": 0},
                                       {"node": "Note", "type": "main", "index": 0}]]},
                   "ToFile": {"main": [[{"node": "Back", "type": "main", "index": 0},
                                        {"node": "AsText", "type": "main", "index": 0}]]},
                   "Note": {"main": [[{"node": "NoteText", "type": "main", "index": 0}]]}}
    row = {"id": 7, "note": "hello", "tags": ["a"]}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections,
                                                     pinData={"Start": [{"json": row}]}))
    assert outputs(result, "ToFile") == [{}]  # the json went into the file (no keepSource)
    assert outputs(result, "Note") == [{"id": 7, "tags": ["a"]}]  # the field went into the file
    assert outputs(result, "Back") == [row]
    assert outputs(result, "AsText") == [{"raw": '{"id":7,"note":"hello","tags":["a"]}'}]
    assert outputs(result, "NoteText") == [{"data": "hello"}]


def test_iconv_encoding_names_become_pythons(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """n8n names encodings as iconv-lite does (windows1256, latin1, utf16le): imported, the text is read and
    written in that encoding under Python's name."""
    arabic = "مرحبا"
    nodes = [n8n_node("Start", "manualTrigger"),
             n8n_node("File", "convertToFile", 1.1, {"operation": "toText", "sourceProperty": "t",
                                                     "options": {"encoding": "windows1256"}}),
             n8n_node("Read", "extractFromFile", 1, {"operation": "text", "options": {"encoding": "windows1256"}}),
             n8n_node("Bytes", "extractFromFile", 1, {"operation": "text", "options": {"encoding": "latin1"}})]
    connections = {"Start": {"main": [[{"node": "File", "type": "main", "index": 0}]]},
                   "File": {"main": [[{"node": "Read", "type": "main", "index": 0},
                                      {"node": "Bytes", "type": "main", "index": 0}]]}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections,
                                                     pinData={"Start": [{"json": {"t": arabic}}]}))
    assert outputs(result, "Read") == [{"data": arabic}]
    assert outputs(result, "Bytes") == [{"data": arabic.encode("cp1256").decode("latin-1")}]


def test_text_an_encoding_cannot_hold_is_replaced_as_iconv_does(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    """Imported, Convert to File writes '?' for a character the encoding lacks and Extract from File reads a byte
    that is not text as U+FFFD (n8n's iconv-lite); a native workflow fails the item instead (tests/nodes)."""
    nodes = [n8n_node("Start", "manualTrigger"),
             n8n_node("File", "convertToFile", 1.1, {"operation": "toText", "sourceProperty": "t",
                                                     "options": {"encoding": "windows1256"}}),
             n8n_node("Read", "extractFromFile", 1, {"operation": "text", "options": {"encoding": "utf8"}})]
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, pinData={"Start": [{"json": {"t": "ěaé"}}]}))
    assert outputs(result, "Read") == [{"data": "?a\ufffd"}]  # é is byte E9 in windows1256, not UTF-8


def test_spreadsheet_file_reads_csv_as_each_version_does(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Spreadsheet File v1 reads a CSV as SheetJS (numbers become numbers, rawData keeps text), v2 as csv-parse
    (text); a BOM stays in the first key unless enableBOM; an empty cell is left out unless includeEmptyCells;
    relaxQuotes takes a quote inside a field."""
    monkeypatch.delenv("FLOWBOX_FILES_DIR", raising=False)
    folder = tmp_path / "data" / "files"
    folder.mkdir(parents=True)
    (folder / "s.csv").write_bytes("\ufeffa,b,c\n1,,x\"y\n".encode())
    reads = {"V1": (1, {}), "V1 raw": (1, {"rawData": True}), "V2": (2, {"fileFormat": "csv"}),
             "V2 bom": (2, {"fileFormat": "csv", "enableBOM": True, "includeEmptyCells": True})}
    nodes = [n8n_node("Start", "manualTrigger"), n8n_node("Read", "readBinaryFiles", 1, {"fileSelector": "s.csv"}),
             *(n8n_node(name, "spreadsheetFile", version, {**{k: v for k, v in options.items() if k == "fileFormat"},
                                                            "options": {"relaxQuotes": True, **{
                                                                k: v for k, v in options.items()
                                                                if k != "fileFormat"}}})
               for name, (version, options) in reads.items())]
    connections = {"Start": {"main": [[{"node": "Read", "type": "main", "index": 0}]]},
                   "Read": {"main": [[{"node": name, "type": "main", "index": 0} for name in reads]]}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections))
    assert outputs(result, "V1") == [{"\ufeffa": 1, "c": 'x"y'}]
    assert outputs(result, "V1 raw") == [{"\ufeffa": "1", "c": 'x"y'}]
    assert outputs(result, "V2") == [{"\ufeffa": "1", "c": 'x"y'}]
    assert outputs(result, "V2 bom") == [{"a": "1", "b": "", "c": 'x"y'}]


def test_move_binary_data_base64_and_write_binary_file_names(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Move Binary Data's encoding base64 gives the file as base64 text (iconv-lite's base64); Write Binary File
    answers with the item's json and the fileName as given."""
    monkeypatch.delenv("FLOWBOX_FILES_DIR", raising=False)
    nodes = [n8n_node("Start", "manualTrigger"),
             n8n_node("File", "convertToFile", 1.1, {"operation": "toText", "sourceProperty": "t", "options": {}}),
             n8n_node("B64", "moveBinaryData", 1, {"setAllData": False, "options": {"encoding": "base64"}}),
             n8n_node("Write", "writeBinaryFile", 1, {"fileName": "out/./w.txt"})]
    connections = {"Start": {"main": [[{"node": "File", "type": "main", "index": 0}]]},
                   "File": {"main": [[{"node": "B64", "type": "main", "index": 0},
                                      {"node": "Write", "type": "main", "index": 0}]]}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections,
                                                     pinData={"Start": [{"json": {"t": "hi"}}]}))
    assert outputs(result, "B64") == [{"data": base64.b64encode(b"hi").decode()}]
    assert outputs(result, "Write") == [{"fileName": "out/./w.txt"}]  # Convert to File's item: the file alone
    assert (tmp_path / "data" / "files" / "out" / "w.txt").read_text() == "hi"
