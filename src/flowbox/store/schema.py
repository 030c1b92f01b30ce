"""The tables of both SQL stores, declared once, as numbered migrations that only ever add.

Each migration is DDL written with portable type names in braces; `statements(migration, dialect)`
renders it for SQLite or PostgreSQL:

    {key}   a text id that sorts byte-wise (ids are time-ordered, `base.new_id`)
    {json}  a JSON document (TEXT on SQLite, JSONB on PostgreSQL)
    {time}  a UTC timestamp (ISO-8601 TEXT on SQLite, TIMESTAMPTZ on PostgreSQL)
    {bool}  a flag, with {false} as its default
    {blob}  bytes

A migration's name (`0001_init`) is what both stores record once it is applied (sqlite-utils'
`_sqlite_migrations`, PostgreSQL's `flowbox_migrations`, set "flowbox"). To change the schema,
append a `Migration`; never edit one that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Dialect = Literal["sqlite", "postgres"]

TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {"key": "TEXT", "json": "TEXT", "time": "TEXT", "bool": "INTEGER", "false": "0", "blob": "BLOB"},
    "postgres": {"key": 'TEXT COLLATE "C"', "json": "JSONB", "time": "TIMESTAMPTZ", "bool": "BOOLEAN",
                 "false": "false", "blob": "BYTEA"},
}


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its recorded name, what it adds, and its DDL in portable types."""

    name: str
    doc: str
    ddl: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_init", "Workflows (+ versions), executions (+ per-node runs) and variables.", """
CREATE TABLE workflows (
    id {key} PRIMARY KEY,
    name TEXT NOT NULL,
    data {json} NOT NULL,
    active {bool} NOT NULL DEFAULT {false},
    version INTEGER NOT NULL DEFAULT 1,
    created_at {time} NOT NULL,
    updated_at {time} NOT NULL);
CREATE INDEX idx_workflows_active ON workflows (active, id);
CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data {json} NOT NULL,
    created_at {time} NOT NULL,
    PRIMARY KEY (workflow_id, version));
CREATE TABLE executions (
    id {key} PRIMARY KEY,
    workflow_id TEXT,
    status TEXT NOT NULL,
    mode TEXT NOT NULL,
    started_at {time},
    finished_at {time},
    error {json},
    last_node TEXT,
    workflow_data {json},
    input {json},
    retry_of TEXT,
    wait_till {time});
CREATE INDEX idx_executions_workflow ON executions (workflow_id, id);
CREATE INDEX idx_executions_status ON executions (status, id);
CREATE TABLE execution_nodes (
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    node TEXT NOT NULL,
    run_index INTEGER NOT NULL,
    data {blob} NOT NULL,
    PRIMARY KEY (execution_id, seq));
CREATE TABLE variables (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""),
    Migration("0002_start_and_snapshots", "The trigger node a queued execution starts from; snapshots of "
              "executions suspended in a Wait.", """
ALTER TABLE executions ADD COLUMN start_node TEXT;
CREATE INDEX idx_executions_wait ON executions (status, wait_till);
CREATE TABLE execution_snapshots (execution_id {key} PRIMARY KEY, data {blob} NOT NULL);
"""),
    Migration("0003_credentials", "Credentials; `data` is the AES-GCM encrypted JSON "
              "(`flowbox.credentials.Vault`), never clear text.", """
CREATE TABLE credentials (
    id {key} PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    data {blob} NOT NULL,
    created_at {time} NOT NULL,
    updated_at {time} NOT NULL);
CREATE INDEX idx_credentials_type ON credentials (type, id);
"""),
    Migration("0004_users_and_api_keys", "Users (scrypt password hashes) and their API keys (sha256 of the "
              "key, and a display prefix).", """
CREATE TABLE users (
    id {key} PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at {time} NOT NULL);
CREATE TABLE api_keys (
    id {key} PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    created_at {time} NOT NULL);
CREATE INDEX idx_api_keys_user ON api_keys (user_id, id);
"""),
    Migration("0005_audit", "The audit log (`flowbox.audit`): who did what, to what, when and from where; "
              "append-only.", """
CREATE TABLE audit (
    id {key} PRIMARY KEY,
    at {time} NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT,
    target_id TEXT,
    ip TEXT,
    details {json});
CREATE INDEX idx_audit_action ON audit (action, id);
CREATE INDEX idx_audit_actor ON audit (actor, id);
"""),
    Migration("0006_sessions_and_sharing", "Editor login sessions (sha256 of the cookie token, never the "
              "token); ownership (`owner_id`, NULL for what was made before users existed: admins see it) and "
              "sharing of workflows and credentials (`shares`).", """
CREATE TABLE sessions (
    id {key} PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at {time} NOT NULL,
    expires_at {time} NOT NULL,
    ip TEXT,
    user_agent TEXT);
CREATE INDEX idx_sessions_user ON sessions (user_id);
ALTER TABLE workflows ADD COLUMN owner_id TEXT;
ALTER TABLE credentials ADD COLUMN owner_id TEXT;
CREATE TABLE shares (
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, resource_id, user_id));
CREATE INDEX idx_shares_user ON shares (user_id, kind);
"""),
    Migration("0007_static_data", "Static data of trigger nodes (`flowbox.listeners`): one small JSON object "
              "per workflow and node, e.g. a polling trigger's cursor.", """
CREATE TABLE static_data (
    workflow_id {key} NOT NULL,
    node TEXT NOT NULL,
    data {json} NOT NULL,
    updated_at {time} NOT NULL,
    PRIMARY KEY (workflow_id, node));
"""),
    Migration("0008_user_disabled", "Users can be disabled (they cannot sign in; their sessions and API keys "
              "were ended).", """
ALTER TABLE users ADD COLUMN disabled {bool} NOT NULL DEFAULT {false};
"""),
    Migration("0009_execution_custom_data", "Custom data a run saved on its execution (the Execution Data node): "
              "up to 10 text keys and values.", """
ALTER TABLE executions ADD COLUMN custom_data {json};
"""),
)


def statements(migration: Migration, dialect: Dialect) -> list[str]:
    """The DDL statements of `migration` in `dialect`, one per list entry."""
    text = migration.ddl.format_map(TYPES[dialect])
    return [sql.strip() for sql in text.split(";") if sql.strip()]


def names() -> list[str]:
    """Every migration's recorded name, in order."""
    return [m.name for m in MIGRATIONS]
