"""The code node's network: none by default; the hosts of a workflow's `settings.codeNetwork` through the
server's filtering proxy (`flowbox.engine.codesandbox.NetProxy`). Only 127.0.0.1 servers of this test."""

from __future__ import annotations

import asyncio
import http.server
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from support import serving

from flowbox.engine.codebox import CodePool
from flowbox.engine.codesandbox import Allowlist
from flowbox.engine.runner import Runner
from flowbox.errors import NodeError
from flowbox.node import Item
from flowbox.workflow import load_workflow

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux's")

FETCH = """
import json, urllib.request, urllib.error
out = {}
for url in items[0]['urls']:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            out[url] = response.read().decode()
    except urllib.error.HTTPError as exc:
        out[url] = f'{exc.code} {exc.read().decode().strip()}'
    except OSError as exc:
        out[url] = 'failed'
return [out]
"""


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def ports() -> Iterator[tuple[int, int]]:
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)) as one, \
            serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)) as two:
        yield one.server_address[1], two.server_address[1]


@pytest.fixture(scope="module")
def pool() -> Iterator[CodePool]:
    pool = CodePool(size=1)
    yield pool
    pool.close_now()


def fetch(pool: CodePool, urls: list[str], network: Any) -> dict[str, str]:
    out = asyncio.run(pool.run(FETCH, "allItems", [{"urls": urls}], network=network))
    return out[0]["json"]


def test_no_network_without_the_setting(pool: CodePool, ports: tuple[int, int]) -> None:
    url = f"http://127.0.0.1:{ports[0]}/a"
    assert fetch(pool, [url], None) == {url: "failed"}


def test_only_the_listed_hosts_and_ports(pool: CodePool, ports: tuple[int, int]) -> None:
    allowed, other = f"http://127.0.0.1:{ports[0]}/a", f"http://127.0.0.1:{ports[1]}/b"
    out = fetch(pool, [allowed, other], [f"127.0.0.1:{ports[0]}"])
    assert out[allowed] == "hello /a"
    assert out[other] == f"403 flowbox: 127.0.0.1:{ports[1]} is not in this workflow's settings.codeNetwork"
    # the next run (another workflow, say) has its own list, here none: the proxy refuses everything
    assert fetch(pool, [allowed], None) == {allowed: "failed"}
    assert fetch(pool, [allowed], ["example.com:443"])[allowed].startswith("403 ")


def test_a_listed_name_that_resolves_to_loopback_is_refused(pool: CodePool, ports: tuple[int, int]) -> None:
    url = f"http://localhost:{ports[0]}/a"
    assert fetch(pool, [url], [f"*host:{ports[0]}"])[url].startswith("502 flowbox: cannot reach localhost")
    assert fetch(pool, [url], [f"localhost:{ports[0]}"])[url] == "hello /a"  # named literally: allowed


def test_tunnels_for_https_clients(pool: CodePool, ports: tuple[int, int]) -> None:
    code = """
import http.client, os
proxy = os.environ['HTTPS_PROXY'].split('//')[1]
conn = http.client.HTTPConnection(*proxy.split(':'), timeout=5)
conn.set_tunnel('127.0.0.1', items[0]['port'])
conn.request('GET', '/tunnel')
return [{'body': conn.getresponse().read().decode()}]
"""
    out = asyncio.run(pool.run(code, "allItems", [{"port": ports[0]}], network=[f"127.0.0.1:{ports[0]}"]))
    assert out[0]["json"] == {"body": "hello /tunnel"}


def test_allowlist_entries() -> None:
    rules = Allowlist(["api.example.com:443", "*.example.org", "10.0.0.5:*", "[::1]:8000"])
    assert rules.matches("api.example.com", 443) and not rules.matches("api.example.com", 80)
    assert rules.matches("a.example.org", 80) and rules.matches("a.example.org", 443)
    assert not rules.matches("example.org", 443) and not rules.matches("a.example.org", 8080)
    assert rules.matches("10.0.0.5", 5432) and rules.matches("::1", 8000)
    assert not Allowlist(None) and not Allowlist([])
    for bad in (["api.example.com:http"], [""], "host:99999", {"host": 1}, [5]):
        with pytest.raises(NodeError, match="codeNetwork"):
            Allowlist(bad)


def test_the_workflow_setting_reaches_the_code(ports: tuple[int, int]) -> None:
    url = f"http://127.0.0.1:{ports[0]}/wf"
    code = f"import urllib.request\nreturn [{{'body': urllib.request.urlopen({url!r}, timeout=5).read().decode()}}]"
    workflow = load_workflow({
        "name": "net", "settings": {"codeNetwork": [f"127.0.0.1:{ports[0]}"]},
        "nodes": [{"name": "Start", "type": "manualTrigger", "parameters": {}},
                  {"name": "Fetch", "type": "code", "parameters": {"code": code}}],
        "connections": {"Start": {"main": [[{"node": "Fetch"}]]}}})
    result = asyncio.run(Runner(workflow).run([Item({})]))
    assert result.status == "success", result.error
    assert result.to_json()["nodes"]["Fetch"][0]["outputs"][0] == [{"body": "hello /wf"}]
