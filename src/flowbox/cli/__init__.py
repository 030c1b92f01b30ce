"""The `flowbox` command line (DESIGN §6).

Exit codes: 0 success, 1 the workflow failed, 2 the workflow or the command line
is invalid (message on stderr naming what is wrong). Errors map to exit codes in
one place, `main()`. The run path imports neither the web stack nor httpx. People and API keys are
`flowbox.cli.people`; what the commands share is `flowbox.cli.common`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from flowbox import __version__
from flowbox.cli import people
from flowbox.cli.common import UsageError, data_dir_option, dump, dump_bytes, with_ops, with_store
from flowbox.errors import DataDirInUse, FlowboxError, NodeError, NotFound, WorkflowInvalid


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowbox")
def cli() -> None:
    """flowbox: self-hosted workflow automation."""
    from flowbox.audit import current_actor, set_actor

    token = set_actor("cli")  # what a command does is audited as "cli" (`flowbox.audit`)
    click.get_current_context().call_on_close(lambda: current_actor.reset(token))


def _read_input(input_json: str | None, input_file: str | None) -> Any:
    if input_json is not None and input_file is not None:
        raise UsageError("give --input or --input-file, not both")
    text = input_json
    if input_file is not None:
        try:
            text = Path(input_file).read_text()
        except OSError as exc:
            raise UsageError(f"--input-file: cannot read {input_file}: {exc.strerror}") from None
    if text is None:
        return None
    import orjson

    try:
        return orjson.loads(text)
    except ValueError as exc:
        raise UsageError(f"--input is not valid JSON: {exc}") from None


@cli.command()
@click.argument("workflow")
@click.option("--input", "input_json", help="Trigger items: a JSON object (one item) or a list of objects")
@click.option("--input-file", type=click.Path(dir_okay=False), help="Read the input JSON from a file")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every node's output")
@click.option("--no-save", is_flag=True, help="Do not record the execution in the history")
@data_dir_option
def run(workflow: str, input_json: str | None, input_file: str | None, as_json: bool, no_save: bool,
        data_dir: str | None) -> None:
    """Run a workflow file (FILE.json) or a stored workflow (its id)."""
    from flowbox.workflow import load_workflow

    raw_input = _read_input(input_json, input_file)
    # items hold no reference cycles: keep the cyclic GC from rescanning them at every few
    # thousand allocations (worth ~10% on a 100,000-item run); start-up objects are frozen
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    path = Path(workflow)

    async def work(ops: Any) -> Any:
        if path.is_file():
            wf = load_workflow(_read_workflow(path))
            base_dir = path.resolve().parent
        elif path.suffix == ".json" or "/" in workflow:
            raise UsageError(f"workflow file {workflow} not found")
        else:
            try:
                stored = await ops.get_workflow(workflow)
            except NotFound:
                raise UsageError(f"no workflow file or stored workflow named {workflow!r}") from None
            wf = load_workflow(stored.data, id=stored.id)
            base_dir = None
        return await ops.run_here(wf, raw_input, base_dir=base_dir, save=not no_save,
                                  on_node_run=None if as_json else _progress)

    result = asyncio.run(with_ops(data_dir, work))
    if as_json:
        sys.stdout.flush()
        sys.stdout.buffer.write(dump_bytes(result.to_json()) + b"\n")
        sys.stdout.flush()
    else:
        _summary(result)
    if result.status != "success":
        sys.exit(1)


def _read_workflow(path: Path) -> Any:
    """A workflow file's JSON; n8n's is converted (DESIGN §10), its report on stderr."""
    from flowbox.n8n import read_workflow_file

    try:
        data, conversion = read_workflow_file(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if conversion is not None:
        _print_conversion(str(path), conversion.to_json())
    return data


async def _progress(run: Any) -> None:
    count = sum(len(o) for o in run.outputs)
    ms = (run.finished_at - run.started_at).total_seconds() * 1000 if run.started_at and run.finished_at else 0
    mark = click.style("x", fg="red") if run.error else click.style("✓", fg="green")
    click.echo(f"  {mark} {run.node:<30} {count:>7} item{'s' if count != 1 else ' '}  {ms:8.1f} ms", err=True)


def _summary(result: Any) -> None:
    if result.status == "success":
        items = result.last_output()
        click.echo(dump([i.json for i in items[:20]]))
        more = f" (showing 20 of {len(items)})" if len(items) > 20 else ""
        click.echo(click.style(f"success: execution {result.execution_id or '(not saved)'}, "
                               f"last node '{result.last_node}'{more}", fg="green"), err=True)
    else:
        err = result.error or {}
        click.echo(click.style(f"error in node '{err.get('node')}': {err.get('message')}", fg="red"), err=True)


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1, or FLOWBOX_HOST)")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default 5678, or FLOWBOX_PORT)")
@data_dir_option
def serve(host: str | None, port: int | None, data_dir: str | None) -> None:
    """Run the server: editor, API, webhooks, schedules and the queue, in one process on one port.

    One server per data dir: a second one exits with code 2, naming the one running (`flowbox.lock`).
    """
    from flowbox.lock import DataDirLock
    from flowbox.server import serve as run_server
    from flowbox.settings import Settings

    settings = Settings.load(data_dir, host=host, port=port)
    lock = DataDirLock(settings.data_dir).acquire("flowbox serve", f"http://{settings.host}:{settings.port}/",
                                                  hint=", or start this one with another --data-dir")
    if not _is_loopback(settings.host) and os.environ.get("FLOWBOX_INSECURE_BIND") != "1" \
            and not asyncio.run(with_store(data_dir, _has_owner)):
        raise UsageError(f"--host {settings.host} would open flowbox to the network before anyone has to log in: "
                         "create the owner first (`flowbox user create EMAIL --role owner --password-stdin`, or "
                         "the setup form at http://127.0.0.1), or put an authenticating reverse proxy in front "
                         "and set FLOWBOX_INSECURE_BIND=1")
    _exit_zero_on_sigterm()
    run_server(settings)
    lock.release()


@cli.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 5678, or FLOWBOX_PORT)")
@data_dir_option
def desktop(port: int | None, data_dir: str | None) -> None:
    """What `flowbox` with no arguments does: serve on 127.0.0.1 and open the editor in the browser.

    No browser is started without a display or with FLOWBOX_NO_BROWSER=1. When a flowbox
    already runs on the port, or on this data dir (on another port), its editor is opened instead.
    """
    from flowbox.lock import DataDirLock
    from flowbox.server import serve as run_server
    from flowbox.settings import Settings

    settings = Settings.load(data_dir, host="127.0.0.1", port=port)
    url = f"http://127.0.0.1:{settings.port}/"
    if not _port_free(settings.port):
        if not _answers_healthz(url):
            raise UsageError(f"port {settings.port} on 127.0.0.1 is in use by another program: start flowbox on "
                             "another one (FLOWBOX_PORT=N flowbox, or flowbox serve --port N)")
        click.echo(f"flowbox is already running at {url}", err=True)
        _open_browser(url)
        return
    try:
        lock = DataDirLock(settings.data_dir).acquire("flowbox desktop", url,
                                                      hint=", or start this one with another --data-dir")
    except DataDirInUse as exc:
        running = exc.holder.url if exc.holder is not None else None
        if not running or not _answers_healthz(running):
            raise
        click.echo(f"flowbox is already running at {running} (pid {exc.holder.pid}, data in {settings.data_dir}):"
                   " opening its editor", err=True)
        _open_browser(running)
        return
    click.echo(f"flowbox: the editor is at {url} (data in {settings.data_dir}; Ctrl+C stops)", err=True)
    threading.Thread(target=_open_browser_when_up, args=(url,), daemon=True, name="flowbox-browser").start()
    _exit_zero_on_sigterm()
    run_server(settings)
    lock.release()


def _exit_zero_on_sigterm() -> None:
    """Exit with 0 after a SIGTERM stop: uvicorn shuts down cleanly, then re-raises the signal it caught."""
    import signal

    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(0))


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers_healthz(url: str, timeout: float = 2.0) -> bool:
    """Whether a flowbox answers `url` (its /healthz gives 200 {"status": "ok"})."""
    import urllib.request

    try:
        with urllib.request.urlopen(url + "healthz", timeout=timeout) as response:  # noqa: S310 - loopback URL
            return response.status == 200 and json.loads(response.read()).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


def _open_browser_when_up(url: str, wait: float = 120.0) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if _answers_healthz(url, timeout=1.0):
            _open_browser(url)
            return
        time.sleep(0.2)


def _open_browser(url: str) -> None:
    """Open `url` in the browser, unless FLOWBOX_NO_BROWSER=1 or there is no display to show it on."""
    if os.environ.get("FLOWBOX_NO_BROWSER") == "1":
        return
    if sys.platform not in ("darwin", "win32") and not (os.environ.get("DISPLAY") or
                                                         os.environ.get("WAYLAND_DISPLAY")):
        return  # a console browser would take over the terminal
    import webbrowser

    webbrowser.open(url)


async def _has_owner(store: Any, settings: Any) -> bool:
    """Whether an owner account exists (a LAN bind needs one: from then on every door needs a login)."""
    return any(user.role == "owner" and not user.disabled for user in await store.list_users())


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cli.command()
@click.option("--concurrency", type=click.IntRange(1, 1000), default=None,
              help="Executions run at once (default FLOWBOX_WORKERS, 4)")
@data_dir_option
def worker(concurrency: int | None, data_dir: str | None) -> None:
    """Run queued executions from the Redis queue (scale-out; needs FLOWBOX_REDIS_URL and a shared database)."""
    from flowbox.settings import Settings
    from flowbox.worker import main as run_worker

    run_worker(Settings.load(data_dir), concurrency)


@cli.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@data_dir_option
def import_(files: tuple[str, ...], data_dir: str | None) -> None:
    """Import workflow JSON files (one workflow or a list per file) into the store."""
    async def work(ops: Any) -> None:
        for name in files:
            try:
                data = json.loads(Path(name).read_text())
            except OSError as exc:
                raise UsageError(f"cannot read {name}: {exc.strerror}") from None
            except ValueError as exc:
                raise WorkflowInvalid(f"{name} is not valid JSON: {exc}") from None
            for wf in data if isinstance(data, list) else [data]:
                try:
                    record = await ops.import_workflow(wf)
                except WorkflowInvalid as exc:
                    raise WorkflowInvalid(f"{name}: {exc.message}", node=exc.node, field=exc.field) from None
                click.echo(f"{record.id}\t{record.name}\tversion {record.version}")
                if record.conversion is not None:
                    _print_conversion(name, record.conversion)

    asyncio.run(with_ops(data_dir, work))


def _print_conversion(name: str, conversion: dict[str, Any], what: str = "converted from n8n") -> None:
    """A conversion report (the API's `conversion` field) on stderr, one line per entry: stdout stays the
    command's own output (`flowbox run --json` prints one JSON object)."""
    click.echo(f"{name}: {what}", err=True)
    for level, entries in conversion.items():
        for entry in entries:
            where = f"{entry['node']}: " if entry["node"] else ""
            click.echo(f"  {level:<12} {where}{entry['message']}", err=True)


@cli.command()
@click.argument("ids", nargs=-1)
@click.option("--out", type=click.Path(file_okay=False), help="Write one <id>.json per workflow into this folder")
@click.option("--format", "fmt", type=click.Choice(["flowbox", "n8n"]), default="flowbox", show_default=True,
              help="n8n: n8n workflow JSON (what each node became is reported on stderr)")
@data_dir_option
def export(ids: tuple[str, ...], out: str | None, fmt: str, data_dir: str | None) -> None:
    """Export stored workflows as JSON (all of them when no id is given)."""
    from flowbox.n8n import report_json
    from flowbox.records import workflow_to_json

    async def work(ops: Any) -> list[tuple[dict[str, Any], Any]]:
        if ids:
            records = [await ops.get_workflow(i) for i in ids]
        else:
            records, cursor = [], None
            while True:
                page = await ops.list_workflows(limit=200, cursor=cursor)
                records += page.data
                cursor = page.next_cursor
                if not cursor:
                    break
        workflows = [workflow_to_json(r) for r in records]
        return [(wf, await ops.export_n8n(wf) if fmt == "n8n" else None) for wf in workflows]

    results = asyncio.run(with_ops(data_dir, work))
    workflows = [wf for wf, _ in results]
    if fmt == "n8n":
        workflows = []
        for wf, (n8n_json, report) in results:
            workflows.append({**n8n_json, "id": wf["id"]})
            _print_conversion(wf["name"], report_json(report), "exported to n8n")
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for wf in workflows:
            (folder / f"{wf['id']}.json").write_text(json.dumps(wf, indent=2, ensure_ascii=False) + "\n")
        click.echo(f"exported {len(workflows)} workflow(s) to {folder}", err=True)
    else:
        click.echo(json.dumps(workflows[0] if len(ids) == 1 else workflows, indent=2, ensure_ascii=False))


@cli.command()
@click.option("--workflow", "workflow_id", help="Only executions of this workflow id")
@click.option("--status", type=click.Choice(["new", "queued", "running", "waiting", "success", "error",
                                             "canceled", "crashed"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--custom-data", "custom", multiple=True, metavar="KEY:VALUE",
              help="Only executions whose saved custom data has this value (repeatable)")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table")
@data_dir_option
def executions(workflow_id: str | None, status: str | None, limit: int, custom: tuple[str, ...], as_json: bool,
               data_dir: str | None) -> None:
    """List recorded executions, newest first."""
    from flowbox.records import execution_to_json

    wanted = {}
    for pair in custom:
        key, sep, value = pair.partition(":")
        if not sep or not key:
            raise click.BadParameter(f"must be KEY:VALUE, got {pair!r}", param_hint="--custom-data")
        wanted[key] = value

    async def work(ops: Any) -> Any:
        return await ops.list_executions(workflow_id=workflow_id, status=status, limit=limit,
                                         custom_data=wanted or None)

    page = asyncio.run(with_ops(data_dir, work))
    rows = [execution_to_json(r, with_nodes=False) for r in page.data]
    if as_json:
        click.echo(dump({"data": rows, "nextCursor": page.next_cursor}))
        return
    if not rows:
        click.echo("no executions", err=True)
        return
    click.echo(f"{'ID':<27} {'STATUS':<8} {'MODE':<11} {'STARTED':<25} {'WORKFLOW':<27} LAST NODE")
    for r in rows:
        click.echo(f"{r['id']:<27} {r['status']:<8} {r['mode']:<11} {r['startedAt'] or '':<25} "
                   f"{r['workflowId'] or '-':<27} {r['lastNode'] or ''}")


@cli.command()
@click.argument("execution_id")
@data_dir_option
def execution(execution_id: str, data_dir: str | None) -> None:
    """Show one execution with every node's output, as JSON."""
    from flowbox.records import execution_to_json

    async def work(ops: Any) -> Any:
        return await ops.get_execution(execution_id)

    record = asyncio.run(with_ops(data_dir, work))
    click.echo(dump(execution_to_json(record)))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalog with parameter schemas as JSON")
@data_dir_option
def nodes(as_json: bool, data_dir: str | None) -> None:
    """List the node types this flowbox knows."""
    from flowbox import registry
    from flowbox.settings import Settings

    registry.load(Settings.load(data_dir).nodes_dir)
    specs = registry.catalog()
    if as_json:
        click.echo(dump([s.to_dict() for s in specs]))
        return
    group = None
    for spec in specs:
        if spec.group != group:
            group = spec.group
            click.echo(click.style(group, bold=True))
        click.echo(f"  {spec.type:<20} {spec.description}")


@cli.command(name="backup")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="The backup file, replaced if it exists (default: <data-dir>/backups/flowbox-<UTC time>.db)")
@data_dir_option
def backup_(out: str | None, data_dir: str | None) -> None:
    """Copy the SQLite database into one file while flowbox keeps running (SQLite's online backup API).

    Prints the backup's path. A PostgreSQL database is backed up with pg_dump instead.
    """
    from flowbox import backup
    from flowbox.credentials import KEY_ENV, KEY_FILE
    from flowbox.settings import Settings

    settings = Settings.load(data_dir)
    db = backup.database_path(settings)
    target = Path(out) if out else backup.default_backup_path(settings)
    backup.make_backup(db, target, progress=_copy_progress("backup"))
    click.echo(str(target))
    click.echo(f"backed up {db} ({target.stat().st_size / 1e6:.1f} MB). Credentials in it are encrypted: keep "
               f"the key ({KEY_ENV}, or {settings.data_dir / KEY_FILE}) too, apart from the backup", err=True)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@data_dir_option
def restore(file: str, data_dir: str | None) -> None:
    """Replace the SQLite database with a backup FILE (stop the server and workers first).

    The database it replaces is kept as <db>.before-restore. A backup from an older flowbox
    is migrated at the next start.
    """
    from flowbox import backup
    from flowbox.settings import Settings

    settings = Settings.load(data_dir)
    db = backup.database_path(settings)
    before = backup.restore_backup(db, Path(file), progress=_copy_progress("restore"))
    click.echo(f"restored {db} from {file}" + (f"; the database it replaced is kept as {before}" if before else ""))


def _copy_progress(label: str) -> Callable[[int, int], None]:
    """Report a page copy on stderr (whole percents; only copies of more than one step)."""
    shown: list[int] = []

    def report(copied: int, total: int) -> None:
        percent = copied * 100 // max(total, 1)
        if (copied == total and not shown) or (shown and shown[-1] == percent):
            return  # done in one step, or no new whole percent
        shown.append(percent)
        line = f"{label}: {percent:3d}% of {total} pages"
        if sys.stderr.isatty():
            click.echo(f"\r{line}", err=True, nl=copied == total)
        else:
            click.echo(line, err=True)

    return report


@cli.command(name="rotate-key")
@click.option("--new-key", default=None, help="The new key (32 bytes in base64, or a passphrase of 16+ characters);"
                                              " default: a new random key")
@data_dir_option
def rotate_key(new_key: str | None, data_dir: str | None) -> None:
    """Re-encrypt every credential with a new key (stop the server and workers first).

    With a key file, the new key is written to encryption.key.new (mode 0600), every credential
    is re-encrypted in one transaction, then the file replaces encryption.key. With
    FLOWBOX_ENCRYPTION_KEY, set it to the new key (printed when generated) before restarting.
    Refused (exit code 2) while a server runs on the data dir.
    """
    from flowbox import audit
    from flowbox import credentials as cr
    from flowbox.lock import holding
    from flowbox.settings import Settings

    async def work(store: Any, settings: Any) -> None:
        old = cr.Vault.from_settings(settings.data_dir)
        text = new_key if new_key is not None else cr.new_key_text()
        new = cr.Vault(cr.parse_key(text))
        from_env = bool(os.environ.get(cr.KEY_ENV))
        staged = Path(settings.data_dir) / cr.NEW_KEY_FILE
        if not from_env:
            cr.write_key_file(staged, text)  # kept until the store commits: an interrupted run loses nothing

        def transform(id: str, blob: bytes) -> bytes:
            done = blob[len(cr.MAGIC):cr.HEADER_LEN] == new.key_id
            return new.encrypt(new.decrypt(blob, id) if done else old.decrypt(blob, id), id)

        count = await store.reencrypt_credentials(transform)
        await audit.record(store, "credential.rotate_key", None, None, count=count, key_id=new.key_id.hex())
        click.echo(f"re-encrypted {count} credential(s) with key {new.key_id.hex()}")
        if from_env:
            click.echo(f"now set {cr.KEY_ENV} to the new key before starting flowbox again", err=True)
            if new_key is None:
                click.echo(text)
        else:
            os.replace(staged, Path(settings.data_dir) / cr.KEY_FILE)
            click.echo(f"wrote {Path(settings.data_dir) / cr.KEY_FILE} (mode 0600)")

    with holding(Settings.load(data_dir).data_dir, "flowbox rotate-key"):
        asyncio.run(with_store(data_dir, work))


cli.add_command(people.user)
cli.add_command(people.apikey)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the click group and maps flowbox errors to exit codes."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--flowbox-code-worker"]:  # the frozen binary re-enters itself as a code worker
        from flowbox.engine.codebox import serve_worker

        serve_worker()
        return
    if not args:  # started like a desktop app (a double-clicked binary)
        args = ["desktop"]
    try:
        cli.main(args=args, prog_name="flowbox", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (WorkflowInvalid, UsageError, DataDirInUse) as exc:
        click.echo(f"flowbox: {exc.message}", err=True)
        sys.exit(2)
    except NotFound as exc:
        click.echo(f"flowbox: {exc.message}", err=True)
        sys.exit(2)
    except NodeError as exc:
        click.echo(f"flowbox: node '{exc.node}': {exc.message}", err=True)
        sys.exit(1)
    except FlowboxError as exc:
        click.echo(f"flowbox: {exc.message}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
