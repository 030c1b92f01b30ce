"""The Store protocol and the records it returns.

The Store is the truth about workflows, their versions, executions and variables.
Implementations: `SqliteStore` (default, one file in the data dir) and, for
scale-out, a PostgreSQL one; both pass `tests/store/test_contract.py`.
Methods return dataclasses, never rows; a missing record raises `NotFound`.
Timestamps are aware UTC datetimes. Workflow and execution ids are strings.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

EXECUTION_STATUSES = ("new", "queued", "running", "waiting", "success", "error", "canceled", "crashed")


_last_id = 0
_id_lock = threading.Lock()


def new_id() -> str:
    """A 26-character id that sorts by creation time (48-bit ms clock + 80 random bits, base32).

    Monotonic within a process: an id made in the same millisecond as the previous one is that one plus 1,
    so ids (what pruning and paging order by) keep the order in which things were made."""
    global _last_id
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    with _id_lock:
        if value >> 80 <= _last_id >> 80:
            value = _last_id + 1
        _last_id = value
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    out = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        out.append(alphabet[rem])
    return "".join(reversed(out))


@dataclass
class Page(Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one (None: no more)."""

    data: list[T]
    next_cursor: str | None = None


@dataclass
class WorkflowRecord:
    """A stored workflow. `data` is the whole n8n-shaped workflow JSON (name, nodes, connections, ...)."""

    id: str
    name: str
    data: dict[str, Any]
    active: bool = False
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None
    owner_id: str | None = None  # the user who made it (None: made before users existed)
    conversion: dict[str, Any] | None = None
    """The n8n conversion report of the save that returned this record (`flowbox.n8n`); never stored."""


@dataclass
class WorkflowVersion:
    """A saved version of a workflow (each save keeps the previous one)."""

    workflow_id: str
    version: int
    data: dict[str, Any]
    created_at: datetime


@dataclass
class NodeRun:
    """One run of one node inside an execution, as stored.

    `outputs` is one list per output of the items' json; `binary` (same shape, or None)
    holds items' binary parts; `paired` (per output, or None) holds for each output item
    the index of its input item; `error` is the error message or None.
    """

    node: str
    run_index: int
    outputs: list[list[dict[str, Any]]]
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    binary: list[list[dict[str, Any] | None]] | None = None
    paired: list[list[int | None] | None] | None = None
    source: str | None = None


@dataclass
class ExecutionRecord:
    """One execution of a workflow.

    `nodes` maps node name -> its runs in order (filled by `get_execution`, empty in lists).
    `error` is `{"node": ..., "message": ...}` or None. `workflow_data` is the workflow as it ran.
    """

    id: str
    workflow_id: str | None
    status: str
    mode: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: dict[str, Any] | None = None
    last_node: str | None = None
    workflow_data: dict[str, Any] | None = None
    input: list[dict[str, Any]] | None = None
    nodes: dict[str, list[NodeRun]] = field(default_factory=dict)
    retry_of: str | None = None
    wait_till: datetime | None = None
    start_node: str | None = None
    custom_data: dict[str, str] | None = None


@dataclass
class CredentialRecord:
    """A stored credential. `data` is the encrypted blob (`flowbox.credentials.Vault`); the store never
    sees the clear text."""

    id: str
    name: str
    type: str
    data: bytes
    created_at: datetime | None = None
    updated_at: datetime | None = None
    owner_id: str | None = None


@dataclass
class UserRecord:
    """A user who may sign in. `email` is stored lower-cased; `password_hash` is `flowbox.auth`'s scrypt
    string (never the password); `role` is owner, admin or member; a `disabled` user cannot sign in."""

    id: str
    email: str
    role: str
    password_hash: str
    created_at: datetime | None = None
    disabled: bool = False


@dataclass
class ApiKeyRecord:
    """An API key of a user: only the sha256 of the key (`key_hash`) and its first characters (`prefix`,
    for display) are stored; the key itself is shown once, when it is created."""

    id: str
    user_id: str
    prefix: str
    key_hash: str
    name: str = ""
    created_at: datetime | None = None


@dataclass
class SessionRecord:
    """An editor login: `id` is the sha256 of the cookie's token (the token itself is never stored),
    `csrf` the token unsafe requests made with this session must echo in `X-CSRF-Token`."""

    id: str
    user_id: str
    csrf: str
    expires_at: datetime
    created_at: datetime | None = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass
class AuditEntry:
    """One line of the audit log: who (`actor`: a user's email, "anonymous", "cli" or "system") did what
    (`action`, e.g. "workflow.create") to what (`target_kind`, `target_id`), when (`at`) and from where (`ip`).
    `details` is small JSON and never holds a secret. `id` and `at` are filled in by `append_audit`."""

    action: str
    actor: str = "system"
    target_kind: str | None = None
    target_id: str | None = None
    ip: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    at: datetime | None = None


class WorkflowStore(Protocol):
    """Workflows and their versions."""

    async def create_workflow(self, name: str, data: dict[str, Any], active: bool = False,
                              id: str | None = None, owner_id: str | None = None) -> WorkflowRecord: ...

    async def update_workflow(self, id: str, *, name: str | None = None, data: dict[str, Any] | None = None,
                              active: bool | None = None) -> WorkflowRecord:
        """Saving new `data` bumps `version` and keeps the previous data as a version."""

    async def get_workflow(self, id: str) -> WorkflowRecord: ...

    async def list_workflows(self, *, search: str | None = None, active: bool | None = None,
                             limit: int = 50, cursor: str | None = None,
                             visible_to: str | None = None) -> Page[WorkflowRecord]:
        """Newest first; `visible_to` (a user id) keeps only what that user owns or was shared."""

    async def delete_workflow(self, id: str) -> None: ...

    async def list_versions(self, workflow_id: str) -> list[WorkflowVersion]: ...


class ExecutionStore(Protocol):
    """Executions, their node runs and snapshots; pruning and disk space."""

    async def create_execution(self, *, workflow_id: str | None, mode: str, status: str = "running",
                               workflow_data: dict[str, Any] | None = None,
                               input: list[dict[str, Any]] | None = None,
                               retry_of: str | None = None, start_node: str | None = None,
                               id: str | None = None) -> ExecutionRecord:
        """A new execution; `start_node` is the trigger it starts from (None: the default trigger);
        `id` (from `new_id()`) lets a caller know the id before the write completes."""

    async def set_execution_status(self, id: str, status: str, *, wait_till: datetime | None = None) -> None: ...

    async def claim_execution(self, id: str, from_statuses: tuple[str, ...] = ("queued",)) -> bool:
        """Atomically move an execution from one of `from_statuses` to "running"; False when someone else did."""

    async def append_node_run(self, execution_id: str, run: NodeRun) -> None:
        """Record a finished node run as soon as it finishes (so a crash keeps it)."""

    async def finish_execution(self, id: str, status: str, *, error: dict[str, Any] | None = None,
                               last_node: str | None = None, runs: Sequence[NodeRun] = (),
                               custom_data: dict[str, str] | None = None) -> None:
        """Final status, error and `finished_at`, stored together with `runs` (node runs not yet written) and the
        run's `custom_data` (None keeps what is stored)."""

    async def get_execution(self, id: str) -> ExecutionRecord:
        """The execution with its `nodes` filled in."""

    async def list_executions(self, *, workflow_id: str | None = None, status: str | None = None,
                              limit: int = 50, cursor: str | None = None,
                              custom_data: dict[str, str] | None = None,
                              visible_to: str | None = None) -> Page[ExecutionRecord]:
        """Newest first; without `nodes`; `visible_to` keeps executions of workflows that user may see."""

    async def delete_execution(self, id: str) -> None: ...

    async def save_snapshot(self, id: str, data: bytes | None) -> None:
        """Keep (or with None, drop) the state an execution suspended in a Wait resumes from."""

    async def get_snapshot(self, id: str) -> bytes | None: ...

    async def list_due(self, until: datetime, limit: int = 100) -> list[ExecutionRecord]:
        """"waiting" executions whose `wait_till` is at or before `until`, soonest first (without nodes)."""

    async def prune_executions(self, *, older_than: datetime | None = None, keep: int | None = None,
                               gap: float = 0.0) -> int:
        """Delete finished executions older than a time and/or beyond the newest `keep` (oldest first, in
        short writes `gap` seconds apart while they keep up), with their node runs and snapshots;
        returns the count."""

    async def release_space(self, *, keep_free: int | None = None) -> int:
        """Give some space that deletes freed back to the file system in one short step, keeping
        `keep_free` bytes (None: the backend's default) for new writes; returns the bytes released
        (0: nothing to do, or the database's own business, as PostgreSQL's autovacuum)."""

    async def writable(self) -> bool:
        """Whether a write would succeed now (after one failed for lack of disk space: a probe write)."""


class VariableStore(Protocol):
    """The `$vars` of every workflow."""

    async def get_variables(self) -> dict[str, str]: ...

    async def set_variable(self, key: str, value: str) -> None: ...

    async def delete_variable(self, key: str) -> None: ...


class CredentialStore(Protocol):
    """Credentials (`data` is always the encrypted blob)."""

    async def create_credential(self, name: str, type: str, data: bytes, id: str | None = None,
                                owner_id: str | None = None) -> CredentialRecord: ...

    async def get_credential(self, id: str) -> CredentialRecord: ...

    async def list_credentials(self, *, type: str | None = None, limit: int = 50,
                               cursor: str | None = None, visible_to: str | None = None) -> Page[CredentialRecord]:
        """Newest first; `visible_to` as for workflows."""

    async def update_credential(self, id: str, *, name: str | None = None, data: bytes | None = None
                                ) -> CredentialRecord: ...

    async def delete_credential(self, id: str) -> None: ...

    async def all_credentials(self) -> list[CredentialRecord]:
        """Every credential, oldest first (for key rotation)."""

    async def reencrypt_credentials(self, transform: Callable[[str, bytes], bytes]) -> int:
        """Replace every credential's blob by `transform(id, blob)` in ONE transaction; returns the count.
        If `transform` raises, nothing changes."""


class UserStore(Protocol):
    """Users and API keys (`flowbox.auth`; hashes only, never a password or a key)."""

    async def create_user(self, email: str, role: str, password_hash: str, id: str | None = None) -> UserRecord:
        """A new user; an email already taken (case-insensitively) raises Conflict."""

    async def get_user(self, id: str) -> UserRecord: ...

    async def get_user_by_email(self, email: str) -> UserRecord: ...

    async def list_users(self) -> list[UserRecord]:
        """Oldest first."""

    async def count_users(self) -> int: ...

    async def update_user(self, id: str, *, role: str | None = None, password_hash: str | None = None,
                          disabled: bool | None = None) -> UserRecord:
        """Change what is given. Conflict when it would demote or disable the last enabled owner."""

    async def delete_user(self, id: str, *, transfer_to: str | None = None) -> dict[str, int]:
        """Delete a user with their API keys, sessions and shares in ONE transaction; the workflows and
        credentials they own move to `transfer_to` (a user id). Returns `{"workflows": n, "credentials": n}`
        moved. Conflict (nothing changes) when they own something and `transfer_to` is None, when they are
        the last enabled owner or the only user; NotFound for an unknown `id` or `transfer_to`."""

    async def create_api_key(self, user_id: str, prefix: str, key_hash: str, name: str = "",
                             id: str | None = None) -> ApiKeyRecord:
        """A new key of an existing user (NotFound otherwise)."""

    async def find_api_key(self, key_hash: str) -> tuple[ApiKeyRecord, UserRecord] | None:
        """The key with this hash and its user, or None."""

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKeyRecord]:
        """Oldest first (of one user, or all)."""

    async def delete_api_key(self, id: str) -> None: ...

    async def delete_api_keys(self, *, user_id: str) -> int:
        """Revoke every key of a user; returns the count."""


class ShareStore(Protocol):
    """Sharing: kind is "workflow" or "credential"."""

    async def get_shares(self, kind: str, resource_id: str) -> list[str]:
        """The ids of the users `resource_id` is shared with."""

    async def set_shares(self, kind: str, resource_id: str, user_ids: Sequence[str]) -> None:
        """Share with exactly these users (unknown user ids raise NotFound; nothing changes then)."""


class SessionStore(Protocol):
    """Editor sessions."""

    async def create_session(self, session: SessionRecord) -> None: ...

    async def find_session(self, id: str, now: datetime) -> tuple[SessionRecord, UserRecord] | None:
        """The unexpired session with this id and its user, or None."""

    async def delete_session(self, id: str) -> None: ...

    async def delete_sessions(self, *, user_id: str | None = None, expired_before: datetime | None = None,
                              keep: str | None = None) -> int:
        """Log out every session of a user (but the one with id `keep`), and/or drop sessions that expired;
        returns the count."""


class StaticDataStore(Protocol):
    """Static data of trigger nodes (`flowbox.listeners`): a JSON object per workflow and node."""

    async def get_static_data(self, workflow_id: str, node: str) -> dict[str, Any]:
        """The node's static data ({} when none was saved)."""

    async def set_static_data(self, workflow_id: str, node: str, data: dict[str, Any] | None) -> None:
        """Replace the node's static data durably (one statement); None deletes it. Deleting the
        workflow deletes its static data."""


class AuditStore(Protocol):
    """The audit log (`flowbox.audit`)."""

    async def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Append one entry (one statement); returns it with `id` and `at` filled in when they were empty."""

    async def list_audit(self, *, action: str | None = None, actor: str | None = None, limit: int = 50,
                         cursor: str | None = None) -> Page[AuditEntry]:
        """Newest first; `action` matches exactly, or as a prefix when it ends with "*" ("workflow.*")."""


class Store(WorkflowStore, ExecutionStore, VariableStore, CredentialStore, UserStore, ShareStore, SessionStore,
            StaticDataStore, AuditStore, Protocol):
    """Everything flowbox keeps, as one object: the per-record protocols above plus opening and closing. All
    methods are coroutines. A part that needs one kind of record can ask for just that protocol."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...
