"""redis node through the real engine against the real Redis server (support.REDIS_URL), under a unique key prefix."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from support import REDIS_URL, credential_services, unavailable

from flowbox.engine.runner import EngineServices

pytestmark = pytest.mark.services

_URL = urlsplit(REDIS_URL)
CRED = {"host": _URL.hostname or "127.0.0.1", "port": str(_URL.port or 6379),
        "database": (_URL.path.strip("/") or "0"), "password": _URL.password or ""}


def services(cred: dict[str, Any] | None = None) -> EngineServices:
    return credential_services(cred or CRED, "redis", "r1")


@pytest.fixture
def client() -> Iterator[Any]:
    import redis

    conn = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        conn.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis does not answer at {REDIS_URL}: {exc}")
    yield conn
    conn.close()


@pytest.fixture
def prefix(client: Any) -> Iterator[str]:
    """A key prefix of this test; its keys are deleted after it."""
    prefix = f"fb-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def run(run_node):
    def go(params: dict[str, Any], items: list[dict[str, Any]] | None = None, on_error: str = "stop",
           cred: dict[str, Any] | None = None) -> Any:
        node = {"name": "R", "type": "redis", "parameters": params, "credentials": {"redis": "r1"},
                "onError": on_error}
        return run_node(node, items, services=services(cred))

    return go


def out(result: Any, output: int = 0) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["R"][-1].outputs[output]]


def test_set_then_get_decodes_json(run, client, prefix):
    items = [{"k": "text", "v": "hello"}, {"k": "num", "v": 42}, {"k": "obj", "v": {"a": [1, None]}},
             {"k": "flag", "v": True}, {"k": "nan", "v": "NaN"}]
    written = run({"operation": "set", "key": prefix + "{{ $json.k }}", "value": "{{ $json.v }}"}, items)
    assert out(written) == items  # the items pass through
    assert client.get(prefix + "obj") == b'{"a":[1,null]}' and client.get(prefix + "num") == b"42"
    read = run({"operation": "get", "key": prefix + "{{ $json.k }}", "propertyName": "got.it"}, items)
    assert [o["got"]["it"] for o in out(read)] == ["hello", 42, {"a": [1, None]}, True, "NaN"]
    raw = run({"operation": "get", "key": prefix + "{{ $json.k }}", "jsonDecode": False}, items)
    assert [o["value"] for o in out(raw)] == ["hello", "42", '{"a":[1,null]}', "true", "NaN"]
    missing = run({"operation": "get", "key": prefix + "nope"}, [{"a": 1}])
    assert out(missing) == [{"a": 1, "value": None}]


def test_get_reads_other_types(run, client, prefix):
    client.hset(prefix + "h", mapping={"a": "1", "b": "x"})
    client.rpush(prefix + "l", "1", "two")
    client.sadd(prefix + "s", "b", "a")
    client.zadd(prefix + "z", {"m": 2.5})
    client.set(prefix + "bin", b"\xff\x00")
    client.xadd(prefix + "stream", {"f": "v"})
    keys = [{"k": k} for k in ("h", "l", "s", "z", "bin")]
    read = run({"operation": "get", "key": prefix + "{{ $json.k }}"}, keys)
    assert [o["value"] for o in out(read)] == [{"a": 1, "b": "x"}, [1, "two"], ["a", "b"], {"m": 2.5}, "/wA="]
    stream = run({"operation": "get", "key": prefix + "stream"}, [{}])
    assert stream.status == "error" and "holds a stream" in stream.error["message"]


def test_set_with_ttl(run, client, prefix):
    out(run({"operation": "set", "key": prefix + "t", "value": "v", "ttl": 100}))
    out(run({"operation": "set", "key": prefix + "forever", "value": "v"}))
    assert 95 < client.ttl(prefix + "t") <= 100
    assert client.ttl(prefix + "forever") == -1


def test_incr_delete(run, client, prefix):
    node = {"operation": "incr", "key": prefix + "n", "incrBy": "{{ $json.by }}", "propertyName": "count"}
    result = run(node, [{"by": 1}, {"by": 5}, {"by": -2}, {"by": 0.5}])
    assert [o["count"] for o in out(result)] == [1, 6, 4, 4.5]
    out(run({**node, "incrBy": 1, "ttl": 50, "key": prefix + "m"}))
    assert 45 < client.ttl(prefix + "m") <= 50
    assert out(run({"operation": "delete", "key": prefix + "n"}, [{"x": 1}])) == [{"x": 1}]
    assert client.exists(prefix + "n") == 0


def test_push_and_pop_both_ends(run, client, prefix):
    key = prefix + "q"
    out(run({"operation": "push", "key": key, "value": "{{ $json.v }}"}, [{"v": "a"}, {"v": {"b": 1}}]))
    out(run({"operation": "push", "key": key, "value": "c", "side": "right"}))
    assert client.lrange(key, 0, -1) == [b'{"b":1}', b"a", b"c"]
    right = run({"operation": "pop", "key": key, "side": "right"}, [{}, {}])
    assert [o["value"] for o in out(right)] == ["c", "a"]
    left = run({"operation": "pop", "key": key}, [{}, {}])
    assert [o["value"] for o in out(left)] == [{"b": 1}, None]


def test_publish(run, client, prefix):
    channel = prefix + "chan"
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    got: list[Any] = []
    reader = threading.Thread(target=lambda: got.append(pubsub.get_message(timeout=5)))
    reader.start()
    time.sleep(0.05)
    result = run({"operation": "publish", "channel": channel, "value": "{{ $json }}"}, [{"id": 7}])
    reader.join()
    pubsub.close()
    assert out(result) == [{"id": 7}]
    assert got[0]["data"] == b'{"id":7}'


def test_keys_by_pattern(run, client, prefix):
    for name, value in [("a:1", "1"), ("a:2", '{"x": 1}'), ("b:1", "z")]:
        client.set(prefix + name, value)
    result = run({"operation": "keys", "pattern": prefix + "a:*"})
    assert out(result) == [{"key": prefix + "a:1", "value": 1}, {"key": prefix + "a:2", "value": {"x": 1}}]
    names = run({"operation": "keys", "pattern": prefix + "*", "getValues": False})
    assert [o["key"] for o in out(names)] == [prefix + "a:1", prefix + "a:2", prefix + "b:1"]


def test_wrong_type_follows_on_error(run, client, prefix):
    client.set(prefix + "s", "text")
    node = {"operation": "incr", "key": prefix + "{{ $json.k }}"}
    items = [{"k": "n"}, {"k": "s"}]
    stopped = run(node, items)
    assert stopped.status == "error"
    assert stopped.error["message"].startswith("item 1: value is not an integer")
    continued = run(node, items, on_error="continue")
    assert [o.get("value") for o in out(continued)] == [2, None]
    assert out(continued)[1]["error"].startswith("item 1:")
    routed = run(node, items, on_error="errorOutput")
    assert out(routed) == [{"k": "n", "value": 3}] and out(routed, 1)[0]["k"] == "s"


def test_connection_failure_names_the_server(run):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run({"operation": "get", "key": "x"}, cred={**CRED, "port": str(port), "password": "hunter2-secret"})
    assert result.status == "error"
    assert f"could not connect to Redis at 127.0.0.1:{port}" in result.error["message"]
    assert "hunter2" not in result.error["message"]


def test_missing_credential_and_empty_key(run_node, run, client, prefix):
    node = {"name": "R", "type": "redis", "parameters": {"operation": "get", "key": "x"}}
    result = run_node(node, services=services())
    assert result.status == "error" and "needs a redis credential" in result.error["message"]
    empty = run({"operation": "get", "key": "{{ '' }}"})
    assert empty.status == "error" and "parameter 'key' is empty" in empty.error["message"]


def test_include_input_off_outputs_only_the_value(run, client, prefix):
    """includeInput off (what n8n's Redis node does for get, incr and pop): the item holds only the value."""
    client.set(prefix + "a", "7")
    client.rpush(prefix + "l", '{"x": 1}')
    got = run({"operation": "get", "key": prefix + "a", "propertyName": "v", "includeInput": False}, [{"keep": 1}])
    assert out(got) == [{"v": 7}]
    incr = run({"operation": "incr", "key": prefix + "a", "propertyName": "n", "includeInput": False}, [{"keep": 1}])
    assert out(incr) == [{"n": 8}]
    pop = run({"operation": "pop", "key": prefix + "l", "includeInput": False}, [{"keep": 1}])
    assert out(pop) == [{"value": {"x": 1}}]
    kept = run({"operation": "get", "key": prefix + "a"}, [{"keep": 1}])
    assert out(kept) == [{"keep": 1, "value": 8}]
