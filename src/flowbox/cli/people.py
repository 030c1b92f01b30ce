"""`flowbox user ...` and `flowbox apikey ...`: people and their API keys, through the same operations as the
API (`flowbox.operations`), audited as "cli"."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click

from flowbox.cli.common import UsageError, data_dir_option, dump, with_ops


@click.group()
def user() -> None:
    """Manage users (the API asks for a key once one exists): create, list, set-role, disable, enable,
    delete, reset-password."""


@user.command(name="create")
@click.argument("email")
@click.option("--role", type=click.Choice(["owner", "admin", "member"]), default="member", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (else prompt)")
@data_dir_option
def user_create(email: str, role: str, password_stdin: bool, data_dir: str | None) -> None:
    """Create a user; from now on the API needs an API key (`flowbox apikey create`)."""
    from flowbox import auth

    password = _read_password(password_stdin)
    try:
        email = auth.check_email(email)
    except auth.AuthError as exc:
        raise UsageError(exc.message) from None

    async def work(ops: Any) -> None:
        made = await ops.create_user(email, role, password)
        click.echo(f"created {made['role']} {made['email']} ({made['id']})")

    asyncio.run(with_ops(data_dir, work))


def _read_password(from_stdin: bool) -> str:
    """A new password from the first line of stdin, or typed twice at a prompt; exit 2 when too short."""
    from flowbox import auth

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return auth.check_password(password)
    except auth.AuthError as exc:
        raise UsageError(exc.message) from None


def _on_user(data_dir: str | None, email: str, act: Callable[[Any, dict[str, Any]], Awaitable[str]]) -> None:
    """`act(ops, user)` on the user with `email` (the same rules and audit entries as the API, acting as
    "cli" with no role of its own); prints what it returns."""

    async def work(ops: Any) -> None:
        click.echo(await act(ops, await ops.user_by_email(email)))

    asyncio.run(with_ops(data_dir, work))


@user.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list")
@data_dir_option
def user_list(as_json: bool, data_dir: str | None) -> None:
    """List users: id, email, role, whether disabled, created."""
    async def work(ops: Any) -> None:
        users = await ops.list_users()
        if as_json:
            click.echo(dump(users))
            return
        for u in users:
            created = (u["createdAt"] or "")[:16].replace("T", " ")
            click.echo(f"{u['id']}  {u['email']}  {u['role']}{'  disabled' if u['disabled'] else ''}  {created}")

    asyncio.run(with_ops(data_dir, work))


@user.command(name="set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(["owner", "admin", "member"]))
@data_dir_option
def user_set_role(email: str, role: str, data_dir: str | None) -> None:
    """Change a user's role (the last owner stays an owner)."""
    _update_user(data_dir, email, f"{{email}} is now {role}", role=role)


@user.command(name="disable")
@click.argument("email")
@data_dir_option
def user_disable(email: str, data_dir: str | None) -> None:
    """Disable a user: they cannot sign in, and their sessions and API keys end now."""
    _update_user(data_dir, email, "disabled {email}: their sessions and API keys have ended", disabled=True)


@user.command(name="enable")
@click.argument("email")
@data_dir_option
def user_enable(email: str, data_dir: str | None) -> None:
    """Let a disabled user sign in again (they need new API keys)."""
    _update_user(data_dir, email, "enabled {email}", disabled=False)


def _update_user(data_dir: str | None, email: str, done: str, **change: Any) -> None:
    """`update_user(**change)` on the user with `email`; prints `done` (its {email} filled in)."""

    async def act(ops: Any, target: dict[str, Any]) -> str:
        await ops.update_user(target["id"], **change)
        return done.format(email=target["email"])

    _on_user(data_dir, email, act)


@user.command(name="delete")
@click.argument("email")
@click.option("--transfer-to", "heir", default=None, metavar="EMAIL",
              help="Who gets their workflows and credentials (needed when they own any)")
@data_dir_option
def user_delete(email: str, heir: str | None, data_dir: str | None) -> None:
    """Delete a user with their sessions and API keys; what they own moves to --transfer-to."""

    async def act(ops: Any, target: dict[str, Any]) -> str:
        heir_id = (await ops.user_by_email(heir))["id"] if heir else None
        moved = await ops.delete_user(target["id"], transfer_to=heir_id)
        return (f"deleted {target['email']}" + (f"; {moved['workflows']} workflow(s) and {moved['credentials']} "
                                             f"credential(s) now belong to {heir}" if heir else ""))

    _on_user(data_dir, email, act)


@user.command(name="reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input (else prompt)")
@data_dir_option
def user_reset_password(email: str, password_stdin: bool, data_dir: str | None) -> None:
    """Set a new password for a user; it ends their editor sessions."""
    password = _read_password(password_stdin)

    async def act(ops: Any, target: dict[str, Any]) -> str:
        await ops.set_password(target["id"], password)
        return f"new password set for {target['email']}; their sessions have ended"

    _on_user(data_dir, email, act)


@click.group()
def apikey() -> None:
    """Manage API keys (sent as the X-API-Key header)."""


@apikey.command(name="create")
@click.option("--user", "email", required=True, help="The user the key belongs to (it acts with their role)")
@click.option("--name", default="", help="A label for the key")
@data_dir_option
def apikey_create(email: str, name: str, data_dir: str | None) -> None:
    """Create an API key and print it (only this once: flowbox keeps just its hash)."""
    async def work(ops: Any) -> None:
        key, made = await ops.create_api_key(email, name)
        click.echo(key)
        click.echo(f"key {made['prefix']}... for {email}: store it now, it is not shown again", err=True)

    asyncio.run(with_ops(data_dir, work))


@apikey.command(name="list")
@click.option("--user", "email", default=None, help="Only this user's keys")
@data_dir_option
def apikey_list(email: str | None, data_dir: str | None) -> None:
    """List API keys: id, prefix, user, name, created (never the key)."""

    async def work(ops: Any) -> None:
        users = {u["id"]: u["email"] for u in await ops.list_users()}
        owner = (await ops.user_by_email(email))["id"] if email else None
        for key in await ops.list_api_keys():
            if owner is None or key["userId"] == owner:
                created = (key["createdAt"] or "")[:16].replace("T", " ")
                click.echo(f"{key['id']}  {key['prefix']}...  {users.get(key['userId'], key['userId'])}  {created}  "
                           f"{key['name']}")

    asyncio.run(with_ops(data_dir, work))


@apikey.command(name="revoke")
@click.argument("key_id")
@data_dir_option
def apikey_revoke(key_id: str, data_dir: str | None) -> None:
    """Revoke an API key by id (`flowbox apikey list`); a running server stops accepting it within 10 s."""
    async def work(ops: Any) -> None:
        await ops.delete_api_key(key_id)
        click.echo(f"revoked {key_id}", err=True)

    asyncio.run(with_ops(data_dir, work))
