"""crypto through the real engine (expected digests are published test vectors)."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest


def cnode(**params: Any) -> dict[str, Any]:
    return {"name": "Crypto", "type": "crypto", "parameters": params}


def results(result: Any, field: str = "data") -> list[Any]:
    assert result.status == "success", result.error
    return [item.json[field] for item in result.runs["Crypto"][-1].outputs[0]]


@pytest.mark.parametrize(("algorithm", "encoding", "expected"), [
    ("md5", "hex", "900150983cd24fb0d6963f7d28e17f72"),
    ("sha1", "hex", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("sha256", "hex", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("sha256", "base64", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="),
    ("sha384", "hex", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                      "8086072ba1e7cc2358baeca134c825a7"),
    ("sha512", "hex", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
])
def test_hash(run_node, algorithm, encoding, expected):
    result = run_node(cnode(action="hash", algorithm=algorithm, encoding=encoding, value="{{ $json.s }}"),
                      [{"s": "abc"}])
    assert results(result) == [expected]


def test_hmac_rfc4231_case_2(run_node):
    result = run_node(cnode(action="hmac", algorithm="sha256", secret="Jefe", value="what do ya want for nothing?"))
    assert results(result) == ["5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"]


def test_non_text_values_hash_as_compact_json(run_node):
    by_json = run_node(cnode(action="hash", algorithm="md5", value="{{ $json.obj }}"), [{"obj": {"a": 1}}])
    as_text = run_node(cnode(action="hash", algorithm="md5", value='{"a":1}'))
    assert results(by_json) == results(as_text)


def test_output_field_keeps_the_item_and_lineage(run_node):
    result = run_node(cnode(action="hash", algorithm="sha1", value="abc", outputField="meta.sum"), [{"id": 7}])
    [item] = result.runs["Crypto"][-1].outputs[0]
    assert item.json == {"id": 7, "meta": {"sum": "a9993e364706816aba3e25717850c26c9cd0d89d"}}
    start = result.runs["Start"][-1].outputs[0][0]
    assert start.json == {"id": 7} and item.source is start


def test_uuid_v4_unique_per_item(run_node):
    ids = results(run_node(cnode(action="uuid", outputField="id"), [{}] * 5), "id")
    assert len(set(ids)) == 5
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u) for u in ids)


@pytest.mark.parametrize(("charset", "allowed"), [
    ("alphanumeric", string.ascii_letters + string.digits),
    ("hex", "0123456789abcdef"),
    ("numeric", string.digits),
])
def test_random_string(run_node, charset, allowed):
    values = results(run_node(cnode(action="randomString", length=64, charset=charset), [{}, {}]))
    assert all(len(v) == 64 and set(v) <= set(allowed) for v in values)
    assert values[0] != values[1]


def test_random_string_custom_characters(run_node):
    [value] = results(run_node(cnode(action="randomString", length=200, charset="custom", characters="ab")))
    assert set(value) == {"a", "b"}


def test_bad_parameters_are_refused(run_node):
    from flowbox.errors import WorkflowInvalid

    with pytest.raises(WorkflowInvalid, match="algorithm"):
        run_node(cnode(action="hash", algorithm="crc32", value="x"))
    keyless = run_node(cnode(action="hmac", value="x"))  # the key may come from a credential: refused at run
    assert keyless.status == "error" and "set 'secret' or name a 'crypto' credential" in keyless.error["message"]
    result = run_node(cnode(action="randomString", charset="custom"))
    assert result.status == "error" and "characters" in result.error["message"]
