"""The command line as a user runs it: real processes, a real data dir, real SQLite files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import node, workflow

FLOWBOX = str(Path(sys.executable).with_name("flowbox"))
NODES_DIR = Path(__file__).resolve().parent.parent / "nodes"


@pytest.fixture
def fb(tmp_path: Path):  # type: ignore[no-untyped-def]
    data = tmp_path / "data"

    def run(*args: str, input: str | None = None, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, FLOWBOX_DATA_DIR=str(data))
        proc = subprocess.run([FLOWBOX, *args], capture_output=True, text=True, env=env, input=input, timeout=60)
        if check is not None:
            assert proc.returncode == check, (proc.returncode, proc.stdout[-500:], proc.stderr[-500:])
        return proc

    run.data = data  # type: ignore[attr-defined]
    run.tmp = tmp_path  # type: ignore[attr-defined]
    return run


def write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_run_json_success_shape(fb, tmp_path: Path) -> None:
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"),
                                           node("Total", "set", fields={"total": "{{ $json.price * $json.qty }}"})))
    out = json.loads(fb("run", wf, "--json", "--input", '{"price": 60, "qty": 2}').stdout)
    assert out["status"] == "success"
    assert out["lastNode"] == "Total"
    assert out["nodes"]["Total"] == [{"outputs": [[{"price": 60, "qty": 2, "total": 120}]], "error": None}]
    assert out["executionId"]


def test_run_failure_exits_1_and_names_the_node(fb, tmp_path: Path) -> None:
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"), node("Boom", "stopAndError", message="no")))
    proc = fb("run", wf, "--json", check=1)
    out = json.loads(proc.stdout)
    assert out["status"] == "error" and out["error"] == {"node": "Boom", "message": "no"}


def test_output_the_store_cannot_encode_fails_the_run_naming_the_node(fb, tmp_path: Path) -> None:
    """A node's output nested past what the store encodes (orjson: 255 levels) failed the write and left the
    execution "running" with a traceback; it is an error of that node, recorded, with valid JSON out."""
    deep = node("Deep", "set", fields={"x": "{{ json_loads('[' * 300 + ']' * 300) }}"})
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"), deep, node("After", "noOp")))
    out = json.loads(fb("run", wf, "--json", check=1).stdout)
    assert out["status"] == "error" and out["error"]["node"] == "Deep", out
    assert "could not be saved" in out["error"]["message"]
    listed = fb("executions", check=0).stdout
    assert "error" in listed and "running" not in listed, listed


@pytest.mark.parametrize(("args", "text"), [
    (["--input", "{bad"], "--input is not valid JSON"),
    (["--input", "[1, 2]"], "input"),
    (["--input", "3"], "input must be a JSON object"),
    (["--input-file", "/nonexistent/x.json"], "cannot read"),
])
def test_bad_input_exits_2(fb, tmp_path: Path, args: list[str], text: str) -> None:
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger")))
    proc = fb("run", wf, *args, check=2)
    assert text in proc.stderr


def test_missing_workflow_and_bad_json_exit_2(fb, tmp_path: Path) -> None:
    assert "not found" in fb("run", str(tmp_path / "nope.json"), check=2).stderr
    assert "no workflow file or stored workflow" in fb("run", "nosuchid", check=2).stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "cannot read workflow file" in fb("run", str(bad), check=2).stderr or "JSON" in fb(
        "run", str(bad), check=2).stderr
    assert fb("run", check=2).returncode == 2  # missing argument is a usage error


def test_invalid_workflow_is_refused_before_it_runs(fb, tmp_path: Path) -> None:
    wf = workflow(node("Start", "manualTrigger"), node("A", "set", fields={"x": 1}), node("B", "noOp"))
    wf["connections"]["B"] = {"main": [[{"node": "A", "type": "main", "index": 0}]]}
    proc = fb("run", write(tmp_path / "wf.json", wf), check=2)
    assert "cycle" in proc.stderr and "'A'" in proc.stderr and "'B'" in proc.stderr
    assert fb("executions", "--json").stdout.count('"id"') == 0  # nothing was recorded


def test_history_import_export_and_run_by_id(fb, tmp_path: Path) -> None:
    wf = workflow(node("Start", "manualTrigger"), node("Hi", "set", fields={"hi": "{{ $workflow.name }}"}),
               name="Greeter")
    wid = fb("import", write(tmp_path / "wf.json", wf)).stdout.split("\t")[0]
    wf["id"] = wid
    wf["nodes"][1]["parameters"]["fields"]["v"] = 2
    out = fb("import", write(tmp_path / "wf2.json", wf)).stdout
    assert out.startswith(wid) and "version 2" in out

    run = json.loads(fb("run", wid, "--json").stdout)
    assert run["nodes"]["Hi"][0]["outputs"] == [[{"hi": "Greeter", "v": 2}]]

    exported = json.loads(fb("export", wid).stdout)
    assert exported["id"] == wid and exported["name"] == "Greeter" and exported["version"] == 2
    fb("export", "--out", str(tmp_path / "out"))
    assert json.loads((tmp_path / "out" / f"{wid}.json").read_text())["nodes"] == wf["nodes"]

    listing = json.loads(fb("executions", "--json", "--workflow", wid).stdout)
    assert [e["id"] for e in listing["data"]] == [run["executionId"]]
    assert listing["data"][0]["status"] == "success" and listing["data"][0]["workflowId"] == wid
    detail = json.loads(fb("execution", run["executionId"]).stdout)
    assert detail["status"] == "success" and detail["mode"] == "cli"
    assert detail["nodes"]["Hi"][0]["outputs"] == [[{"hi": "Greeter", "v": 2}]]
    assert detail["startedAt"] <= detail["finishedAt"]
    assert "not found" in fb("execution", "nope", check=2).stderr


def test_no_save_keeps_no_history(fb, tmp_path: Path) -> None:
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger")))
    out = json.loads(fb("run", wf, "--json", "--no-save").stdout)
    assert out["executionId"] is None
    assert json.loads(fb("executions", "--json").stdout)["data"] == []


def test_import_and_run_are_audited_as_cli(fb, tmp_path: Path) -> None:
    """The CLI goes through the same operations as the API: what it saves and runs is in the audit log."""
    path = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"), name="Audited"))
    wid = fb("import", path).stdout.split("\t")[0]
    by_id = json.loads(fb("run", wid, "--json").stdout)
    fb("run", path, "--json", "--no-save")
    with sqlite3.connect(fb.data / "flowbox.db") as conn:
        rows = conn.execute("SELECT actor, action, target_kind, target_id, details FROM audit ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("cli", "workflow.create"), ("cli", "execution.run"),
                                            ("cli", "execution.run")]
    assert rows[0][2:4] == ("workflow", wid)
    assert rows[1][2:4] == ("execution", by_id["executionId"])
    assert json.loads(rows[1][4]) == {"workflow": wid, "mode": "cli", "status": "success", "saved": True}
    assert rows[2][3] is None and json.loads(rows[2][4])["saved"] is False


def test_failed_execution_is_recorded_with_its_error(fb, tmp_path: Path) -> None:
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"),
                                           node("Div", "set", fields={"x": "{{ 1 / $json.n }}"})))
    out = json.loads(fb("run", wf, "--json", "--input", '{"n": 0}', check=1).stdout)
    assert out["error"]["node"] == "Div" and "ZeroDivisionError" in out["error"]["message"]
    listing = json.loads(fb("executions", "--json", "--status", "error").stdout)["data"]
    assert listing[0]["id"] == out["executionId"] and listing[0]["error"]["node"] == "Div"


def test_interrupted_run_is_recorded_as_crashed(fb, tmp_path: Path) -> None:
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"), node("Nap", "wait", seconds=30)))
    env = dict(os.environ, FLOWBOX_DATA_DIR=str(fb.data))
    proc = subprocess.Popen([FLOWBOX, "run", wf], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:  # wait until the execution is recorded as running
        rows = json.loads(fb("executions", "--json").stdout)["data"]
        if rows and rows[0]["status"] == "running" and rows[0]["lastNode"] == "Start":
            break
        time.sleep(0.1)
    assert rows and rows[0]["status"] == "running", (rows, proc.poll())
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    assert proc.returncode != 0
    row = json.loads(fb("executions", "--json").stdout)["data"][0]
    assert row["status"] == "crashed" and row["error"]["message"] == "interrupted"


def test_nodes_catalog_lists_every_node_module(fb) -> None:
    catalog = json.loads(fb("nodes", "--json").stdout)
    types = {entry["type"] for entry in catalog}
    modules = {p.stem for p in NODES_DIR.glob("*.py") if not p.stem.startswith("_")}
    # one type per module, but loop.py also holds n8n's legacy Split in Batches (v1/v2)
    assert len(types) == len(modules) + 1 and "splitInBatches" in types, (sorted(types), sorted(modules))
    required = {"manualTrigger", "set", "if", "filter", "switch", "merge", "code", "noOp", "stopAndError", "sort",
                "limit", "removeDuplicates", "aggregate", "splitOut", "loop", "wait", "httpRequest", "webhook",
                "respondToWebhook", "schedule", "executeWorkflow", "errorTrigger", "dateTime", "crypto"}
    assert required <= types
    merge = next(e for e in catalog if e["type"] == "merge")
    assert merge["inputs"] == 2
    mode = next(p for p in merge["params"] if p["name"] == "mode")
    assert mode["options"] == ["append", "combineByFields", "combineByPosition", "combineAll", "combineBySql",
                               "chooseBranch"]
    text = fb("nodes").stdout
    assert "httpRequest" in text


def test_third_party_node_from_the_data_dir(fb, tmp_path: Path) -> None:
    (fb.data / "nodes").mkdir(parents=True)
    (fb.data / "nodes" / "shout.py").write_text(
        "from flowbox.node import Param, node\n"
        "@node(type='shout', display_name='Shout', group='transform', description='Upper-case a field',\n"
        "      params=[Param('field', 'string', 'text', required=True)])\n"
        "async def shout(ctx, items):\n"
        "    return [[i.derive({**i.json, ctx.param('field', n): str(i.json.get(ctx.param('field', n))).upper()})\n"
        "             for n, i in enumerate(items)]]\n")
    assert "shout" in {e["type"] for e in json.loads(fb("nodes", "--json").stdout)}
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"), node("Loud", "shout")))
    out = json.loads(fb("run", wf, "--json", "--input", '{"text": "hi"}').stdout)
    assert out["nodes"]["Loud"][0]["outputs"] == [[{"text": "HI"}]]
    typo = write(tmp_path / "typo.json", workflow(node("Start", "manualTrigger"), node("Loud", "shout", feild="x")))
    assert "node 'Loud': unknown parameter 'feild' (did you mean 'field'?)" in fb("run", typo, check=2).stderr


def test_unknown_parameters_are_refused_by_run_and_import(fb, tmp_path: Path) -> None:
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"), node("Tag", "set", keepOnlySet=True)))
    for command in ("run", "import"):
        stderr = fb(command, wf, check=2).stderr
        assert "node 'Tag': unknown parameter 'keepOnlySet' (did you mean 'keepOnly'?)" in stderr, command
    assert fb("executions", "--json").stdout.count('"id"') == 0
    assert json.loads(fb("export").stdout) == []  # nothing was imported


def test_execute_workflow_by_file_and_by_id(fb, tmp_path: Path) -> None:
    sub = workflow(node("In", "manualTrigger"), node("Double", "set", fields={"d": "{{ $json.n * 2 }}"}), name="Sub")
    write(tmp_path / "sub.json", sub)
    sub_id = fb("import", str(tmp_path / "sub.json")).stdout.split("\t")[0]
    for ref, mode in (("sub.json", "once"), (sub_id, "eachItem")):
        wf = write(tmp_path / "main.json", workflow(node("Start", "manualTrigger"),
                                                 node("Call", "executeWorkflow", workflow=ref, mode=mode)))
        out = json.loads(fb("run", wf, "--json", "--input", '[{"n": 1}, {"n": 2}]').stdout)
        assert out["nodes"]["Call"][0]["outputs"] == [[{"n": 1, "d": 2}, {"n": 2, "d": 4}]], ref
    modes = [e["mode"] for e in json.loads(fb("executions", "--json").stdout)["data"]]
    assert modes.count("integrated") == 3 and modes.count("cli") == 2  # sub-executions are kept too


def test_failing_subworkflow_fails_the_calling_node(fb, tmp_path: Path) -> None:
    write(tmp_path / "sub.json", workflow(node("In", "manualTrigger"), node("Stop", "stopAndError", message="sub broke")))
    wf = write(tmp_path / "main.json", workflow(node("Start", "manualTrigger"),
                                             node("Call", "executeWorkflow", workflow="sub.json")))
    out = json.loads(fb("run", wf, "--json", check=1).stdout)
    assert out["error"]["node"] == "Call" and "sub broke" in out["error"]["message"]


def test_human_output_shows_progress_and_result(fb, tmp_path: Path) -> None:
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"), node("Tag", "set", fields={"t": 1})))
    proc = fb("run", wf)
    assert "Tag" in proc.stderr and "1 item" in proc.stderr and "success" in proc.stderr
    assert json.loads(proc.stdout) == [{"t": 1}]


def test_make_run_example_works(fb) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "orders.json"
    out = json.loads(fb("run", str(example), "--json").stdout)
    assert out["status"] == "success"
    assert out["nodes"]["Sort"][0]["outputs"][0][0]["total"] == 120


def test_third_party_node_from_an_entry_point(fb, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "fb_ext-1.0.dist-info").mkdir(parents=True)
    (site / "fb_ext-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fb-ext\nVersion: 1.0\n")
    (site / "fb_ext-1.0.dist-info" / "entry_points.txt").write_text("[flowbox.nodes]\nreverse = fb_ext\n")
    (site / "fb_ext.py").write_text(
        "from flowbox.node import node\n"
        "@node(type='reverseItems', display_name='Reverse', group='transform', description='Reverse the items')\n"
        "async def reverse(ctx, items):\n    return [items[::-1]]\n")
    env = dict(os.environ, FLOWBOX_DATA_DIR=str(fb.data), PYTHONPATH=str(site))
    wf = write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"), node("Rev", "reverseItems")))
    proc = subprocess.run([FLOWBOX, "run", wf, "--json", "--input", '[{"i": 1}, {"i": 2}]'], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["nodes"]["Rev"][0]["outputs"] == [[{"i": 2}, {"i": 1}]]


def test_serve_refuses_a_lan_bind_without_authentication(fb) -> None:
    proc = fb("serve", "--host", "0.0.0.0", "--port", "0", check=2)
    assert "before anyone has to log in" in proc.stderr and "--role owner" in proc.stderr


def test_flowbox_run_uses_a_stored_credential(fb, tmp_path: Path) -> None:
    import asyncio
    import http.server
    import threading

    from support import Harness

    from flowbox.settings import Settings

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = json.dumps({"auth": self.headers.get("Authorization")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    async def create() -> str:
        services = Harness(Settings.load(fb.data))
        await services.start(consume=False, schedule=False)
        try:
            made = await services.create_credential("api", "httpBearerAuth", {"token": "t0k3n-cli"})
            return made["id"]
        finally:
            await services.stop(timeout=1)

    cred = asyncio.run(create())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        call = {**node("Call", "httpRequest", url=f"http://127.0.0.1:{server.server_port}/x",
                       authentication="httpBearerAuth"), "credentials": {"httpBearerAuth": cred}}
        out = json.loads(fb("run", write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"), call)),
                            "--json").stdout)
    finally:
        server.shutdown()
    assert out["nodes"]["Call"][0]["outputs"] == [[{"auth": "Bearer t0k3n-cli"}]]


def test_user_commands_change_disable_reset_and_delete(fb, tmp_path: Path) -> None:

    def db(sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(fb.data / "flowbox.db") as conn:
            return conn.execute(sql, params).fetchall()

    for email, role in (("owner@example.com", "owner"), ("ann@example.com", "member"), ("bob@example.com", "member")):
        fb("user", "create", email, "--role", role, "--password-stdin", input="a long password\n")
    fb("apikey", "create", "--user", "ann@example.com")
    listed = fb("user", "list").stdout.splitlines()
    assert [line.split()[1:3] for line in listed] == [["owner@example.com", "owner"], ["ann@example.com", "member"],
                                                      ["bob@example.com", "member"]]
    ann = json.loads(fb("user", "list", "--json").stdout)[1]
    assert (ann["email"], ann["role"], ann["disabled"]) == ("ann@example.com", "member", False)

    assert "is now admin" in fb("user", "set-role", "ann@example.com", "admin").stdout
    last = fb("user", "set-role", "owner@example.com", "member", check=1)
    assert "last owner" in last.stderr
    assert fb("user", "disable", "owner@example.com", check=1).stderr.count("last owner") == 1
    assert "ann@example.com" in fb("apikey", "list").stdout
    fb("user", "disable", "ann@example.com")
    assert "ann@example.com  admin  disabled" in fb("user", "list").stdout
    assert fb("apikey", "list").stdout.strip() == ""  # her key ended with her access
    assert "disabled" in fb("apikey", "create", "--user", "ann@example.com", check=1).stderr
    fb("user", "enable", "ann@example.com")
    assert "disabled" not in fb("user", "list").stdout

    before = db("SELECT password_hash FROM users WHERE email = 'ann@example.com'")
    assert "8 characters" in fb("user", "reset-password", "ann@example.com", "--password-stdin", input="short\n",
                                check=2).stderr
    reset = fb("user", "reset-password", "ann@example.com", "--password-stdin", input="her new password\n")
    assert "her new password" not in reset.stdout + reset.stderr
    assert db("SELECT password_hash FROM users WHERE email = 'ann@example.com'") != before

    fb("import", write(tmp_path / "wf.json", workflow(node("Start", "manualTrigger"), name="ann's")))
    (ann_id,) = db("SELECT id FROM users WHERE email = 'ann@example.com'")[0]
    db("UPDATE workflows SET owner_id = ?", ann_id)  # as if she had made it in the editor
    owns = fb("user", "delete", "ann@example.com", check=1)
    assert "owns 1 workflow" in owns.stderr and "transfer" in owns.stderr
    assert fb("user", "delete", "ann@example.com", "--transfer-to", "nobody@example.com", check=2).returncode == 2
    gone = fb("user", "delete", "ann@example.com", "--transfer-to", "bob@example.com")
    assert "1 workflow(s) and 0 credential(s) now belong to bob@example.com" in gone.stdout
    assert "ann@example.com" not in fb("user", "list").stdout
    assert db("SELECT u.email FROM workflows w JOIN users u ON u.id = w.owner_id") == [("bob@example.com",)]
    actions = db("SELECT actor, action, details FROM audit WHERE action LIKE 'user.%' ORDER BY id")
    assert [a[1] for a in actions] == ["user.create"] * 3 + ["user.role", "user.disable", "user.enable",
                                                              "user.password", "user.delete"]
    assert {a[0] for a in actions} == {"cli"} and "her new password" not in str(actions)
