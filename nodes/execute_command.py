"""Execute Command: run a shell command on the machine flowbox runs on (n8n's Execute Command node).

Off unless the server sets FLOWBOX_EXECUTE_COMMAND=1 (n8n 2 keeps it off by default too); only owners and
admins may save it. The command runs with `/bin/sh -c` in the files folder (FLOWBOX_FILES_DIR), with a small
environment (PATH, HOME, LANG, TZ: none of the server's secrets), under a time limit; its output is capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params

MAX_OUTPUT = 16 * 1024 * 1024
SWITCH = "FLOWBOX_EXECUTE_COMMAND"


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Execute Command v1: `command`, `executeOnce` (default true: once, for the first item)."""
    p = Params(params, version)
    p.approximated("the command runs with /bin/sh in flowbox's files folder with a small environment (PATH, HOME, "
                   f"LANG, TZ), only when the server sets {SWITCH}=1")
    return p.done({"command": p.take("command", ""), "executeOnce": bool(p.take("executeOnce", True))})


def refuse(params: Mapping[str, Any]) -> str | None:
    """Why the node may not run here: the server has not turned commands on."""
    if os.environ.get(SWITCH) == "1":
        return None
    return f"Execute Command is off on this server: set {SWITCH}=1 to let workflows run shell commands on it"


N8N = N8n(types=("n8n-nodes-base.executeCommand",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="executeCommand", display_name="Execute Command", group="flow", icon="terminal",
      runs_commands=True, refuse_run=refuse,
      description="Run a shell command on the server; outputs its exit code, stdout and stderr",
      params=[
          Param("command", "string", "", required=True, placeholder="ls -la",
                description="The command, run with /bin/sh -c in the files folder"),
          Param("executeOnce", "boolean", True,
                description="Run once, for the first item (else once per item)"),
          Param("timeout", "number", 300, min=1, max=86_400,
                description="Seconds before the command is stopped and the item fails"),
      ])
async def execute_command(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """One item `{exitCode, stdout, stderr}` (output trimmed, as n8n writes it) per command run."""
    reason = refuse({})
    if reason is not None:
        raise ctx.error(reason)
    errors = ItemErrors(ctx)
    out: list[Item] = []
    for i, item in enumerate(items[:1] if ctx.param("executeOnce") else items):
        try:
            result = await run_command(ctx.param("command", i), ctx.files_dir, float(ctx.param("timeout", i)))
        except (OSError, TimeoutError, ValueError) as exc:
            errors.fail(item, i, ValueError(f"item {i}: {exc}"), out)
            continue
        out.append(item.derive(result, binary=None))
    return errors.outputs(out)


async def run_command(command: str, cwd: Any, timeout: float) -> dict[str, Any]:
    """Run `command` with /bin/sh; its exit code and trimmed output. TimeoutError after `timeout` seconds."""
    os.makedirs(cwd, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
    proc = await asyncio.create_subprocess_shell(command, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                 start_new_session=True)
    try:
        stdout, stderr = await asyncio.wait_for(asyncio.gather(_read(proc.stdout), _read(proc.stderr)), timeout)
        code = await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        await _kill(proc)
        raise TimeoutError(f"the command ran longer than {timeout:g} s and was stopped") from None
    except ValueError:
        await _kill(proc)
        raise
    return {"exitCode": code, "stderr": stderr.strip(), "stdout": stdout.strip()}


async def _read(stream: asyncio.StreamReader | None) -> str:
    data = b""
    while stream is not None and (chunk := await stream.read(65536)):
        data += chunk
        if len(data) > MAX_OUTPUT:
            raise ValueError(f"the command wrote more than {MAX_OUTPUT // (1024 * 1024)} MB of output")
    return data.decode("utf-8", "replace")


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the command and everything it started (its own process group), and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
