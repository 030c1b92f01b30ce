"""debugHelper through the real engine: errors on purpose, the simulated out-of-memory, seeded random data."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from flowbox.errors import WorkflowInvalid


def debug(**params: Any) -> dict[str, Any]:
    return {"name": "Debug", "type": "debugHelper", "parameters": params}


def out(result: Any) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["Debug"][-1].outputs[0]]


@pytest.mark.parametrize("kind", ["NodeApiError", "NodeOperationError", "Error"])
def test_throw_error_fails_with_the_message(run_node, kind):
    result = run_node(debug(category="throwError", throwErrorType=kind, throwErrorMessage="boom {{ $json.n }}"),
                      [{"n": 1}])
    assert result.status == "error"
    assert result.error["node"] == "Debug" and result.error["message"] == "boom 1"


def test_throw_error_with_continue_gives_one_error_item_per_input(run_node):
    node = {**debug(category="throwError"), "onError": "continue"}
    assert out(run_node(node, [{}, {}])) == [{"error": "Node has thrown an error"}] * 2


def test_out_of_memory_is_simulated_not_real(run_node):
    result = run_node(debug(category="oom", memorySizeValue=100000))
    assert result.status == "error" and result.error["node"] == "Debug"
    assert result.error["message"].startswith("simulated out of memory")
    assert "100000 MB" in result.error["message"]


def test_do_nothing_outputs_nothing_like_n8n(run_node):
    assert out(run_node(debug(category="doNothing"), [{"a": 1}])) == []


def test_random_users_are_reproducible_with_a_seed(run_node):
    params = {"category": "randomData", "randomDataType": "user", "randomDataCount": 3, "randomDataSeed": "n8n"}
    first, again = out(run_node(debug(**params))), out(run_node(debug(**params)))
    assert first == again and len(first) == 3
    assert all(set(u) == {"uid", "email", "firstname", "lastname", "password"} for u in first)
    assert all(uuid.UUID(u["uid"]).version == 4 and "@" in u["email"] for u in first)
    other = out(run_node(debug(**{**params, "randomDataSeed": "other"})))
    assert other != first


@pytest.mark.parametrize(("kind", "keys"), [
    ("email", {"email", "confirmed"}), ("address", {"firstname", "lastname", "street", "city", "zip", "state", "country"}),
    ("creditCard", {"type", "number", "ccv", "exp", "holder_name"}), ("uuid", {"uuid"}), ("url", {"url"}),
    ("ipv4", {"ip"}), ("ipv6", {"ipv6"}), ("macAddress", {"mac"}), ("latLong", {"location"}), ("semver", {"version"}),
    ("nanoid", {"nanoId"}),
])
def test_each_data_type_has_n8n_keys(run_node, kind, keys):
    items = out(run_node(debug(category="randomData", randomDataType=kind, randomDataCount=2, randomDataSeed="1")))
    assert len(items) == 2 and all(set(i) == keys for i in items)


def test_values_look_right(run_node):
    def one(kind: str, **extra: Any) -> dict[str, Any]:
        return out(run_node(debug(category="randomData", randomDataType=kind, randomDataCount=1, **extra)))[0]

    assert re.fullmatch(r"\d{5}", one("address")["zip"])
    assert re.fullmatch(r"\d{2}/\d{2}", one("creditCard")["exp"])
    assert re.fullmatch(r"[1-9]\.\d\.\d", one("semver")["version"])
    assert re.fullmatch(r"[ab]{8}", one("nanoid", nanoidAlphabet="ab", nanoidLength="8")["nanoId"])


def test_single_array_per_input_item(run_node):
    result = run_node(debug(category="randomData", randomDataType="uuid", randomDataCount=4, randomDataSingleArray=True),
                      [{"a": 1}, {"a": 2}])
    items = out(result)
    assert len(items) == 2 and all(len(i["generatedItems"]) == 4 for i in items)
    start = result.runs["Start"][-1].outputs[0]
    assert [i.source for i in result.runs["Debug"][-1].outputs[0]] == start


def test_a_bad_nanoid_length_names_the_parameter(run_node):
    with pytest.raises(WorkflowInvalid, match="node 'Debug': parameter 'nanoidLength' must be a number; got 'ten'"):
        run_node(debug(category="randomData", randomDataType="nanoid", nanoidLength="ten"))
    result = run_node(debug(category="randomData", randomDataType="nanoid", nanoidLength="{{ $json.n }}"),
                      [{"n": 2.5}])
    assert result.status == "error" and result.error["node"] == "Debug"
    assert result.error["message"] == "parameter 'nanoidLength' must be a whole number; got 2.5"
