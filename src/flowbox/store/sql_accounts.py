"""The SQL store's records of people and secrets: credentials (encrypted blobs), users and API keys
(hashes only), sharing, editor sessions and the audit log. `SqlStore` (`flowbox.store.sql`) is these
plus workflows and executions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from flowbox.errors import Conflict, NotFound
from flowbox.store.base import (
    ApiKeyRecord,
    AuditEntry,
    CredentialRecord,
    Page,
    SessionRecord,
    UserRecord,
    new_id,
)
from flowbox.store.sqlbase import Db, Row, SqlBase


class AccountsSql(SqlBase):
    """Credentials, users, API keys, shares, sessions and audit entries in SQL (see `SqlStore`)."""

    # credentials (`data` is the encrypted blob; this class never sees clear text)

    def _credential(self, row: Row) -> CredentialRecord:
        return CredentialRecord(id=row["id"], name=row["name"], type=row["type"], data=bytes(row["data"]),
                                created_at=self._from_time(row["created_at"]),
                                updated_at=self._from_time(row["updated_at"]), owner_id=row["owner_id"])

    async def create_credential(self, name: str, type: str, data: bytes, id: str | None = None,
                                owner_id: str | None = None) -> CredentialRecord:
        """A new credential; a taken `id` raises Conflict."""
        now = datetime.now(UTC)
        record = CredentialRecord(id=id or new_id(), name=name, type=type, data=bytes(data), created_at=now,
                                  updated_at=now, owner_id=owner_id)
        try:
            async with self._statement() as db:
                await db.execute("INSERT INTO credentials (id, name, type, data, created_at, updated_at, owner_id)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [record.id, name, type, record.data, self._time(now), self._time(now), owner_id])
        except Conflict:
            raise Conflict(f"credential {record.id!r} already exists", id=record.id) from None
        return record

    async def get_credential(self, id: str) -> CredentialRecord:
        return await self._one("credentials", "credential", "id", id, self._credential)

    async def list_credentials(self, *, type: str | None = None, limit: int = 50,
                               cursor: str | None = None, visible_to: str | None = None) -> Page[CredentialRecord]:
        """Newest first, optionally of one type; `visible_to` as for workflows."""
        where, params = self._visible("credential", "id", visible_to)
        if type:
            where.append("type = ?")
            params.append(type)
        return await self._newest_first("SELECT * FROM credentials", where, params, limit, cursor, self._credential)

    async def update_credential(self, id: str, *, name: str | None = None, data: bytes | None = None
                                ) -> CredentialRecord:
        now = datetime.now(UTC)
        async with self._tx() as db:
            rows = await db.fetch("SELECT * FROM credentials WHERE id = ?", [id])
            if not rows:
                raise NotFound("credential", id)
            old = self._credential(rows[0])
            new = CredentialRecord(id=id, name=old.name if name is None else name, type=old.type,
                                   data=old.data if data is None else bytes(data), created_at=old.created_at,
                                   updated_at=now, owner_id=old.owner_id)
            await db.execute("UPDATE credentials SET name = ?, data = ?, updated_at = ? WHERE id = ?",
                             [new.name, new.data, self._time(now), id])
        return new

    async def delete_credential(self, id: str) -> None:
        async with self._tx() as db:
            if not await db.execute("DELETE FROM credentials WHERE id = ?", [id]):
                raise NotFound("credential", id)
            await db.execute("DELETE FROM shares WHERE kind = 'credential' AND resource_id = ?", [id])

    async def all_credentials(self) -> list[CredentialRecord]:
        async with self._read() as db:
            rows = await db.fetch("SELECT * FROM credentials ORDER BY id")
        return [self._credential(row) for row in rows]

    async def reencrypt_credentials(self, transform: Callable[[str, bytes], bytes]) -> int:
        """Every blob replaced by `transform(id, blob)` in one transaction (all or nothing)."""
        async with self._tx() as db:
            rows = await db.fetch("SELECT id, data FROM credentials ORDER BY id")
            for row in rows:
                await db.execute("UPDATE credentials SET data = ? WHERE id = ?",
                                 [transform(row["id"], bytes(row["data"])), row["id"]])
        return len(rows)

    # users and API keys (`flowbox.auth`: only hashes are stored)

    # the user's columns beside a key's or a session's (read back by `_user(row, "u_")`)
    _USER_COLUMNS = ("u.id AS u_id, u.email AS u_email, u.role AS u_role, u.password_hash AS u_password_hash,"
                     " u.created_at AS u_created_at, u.disabled AS u_disabled")
    _lock_rows = ""  # " FOR UPDATE" where concurrent transactions need it (PostgreSQL); SQLite has one writer

    def _user(self, row: Row, prefix: str = "") -> UserRecord:
        return UserRecord(id=row[prefix + "id"], email=row[prefix + "email"], role=row[prefix + "role"],
                          password_hash=row[prefix + "password_hash"],
                          created_at=self._from_time(row[prefix + "created_at"]),
                          disabled=bool(row[prefix + "disabled"]))

    def _api_key(self, row: Row) -> ApiKeyRecord:
        return ApiKeyRecord(id=row["id"], user_id=row["user_id"], prefix=row["prefix"], key_hash=row["key_hash"],
                            name=row["name"], created_at=self._from_time(row["created_at"]))

    async def create_user(self, email: str, role: str, password_hash: str, id: str | None = None) -> UserRecord:
        """A new user; an email already taken (case-insensitively) raises Conflict."""
        now = datetime.now(UTC)
        record = UserRecord(id=id or new_id(), email=email.strip().lower(), role=role, password_hash=password_hash,
                            created_at=now)
        try:
            async with self._statement() as db:
                await db.execute("INSERT INTO users (id, email, role, password_hash, created_at)"
                                 " VALUES (?, ?, ?, ?, ?)",
                                 [record.id, record.email, role, password_hash, self._time(now)])
        except Conflict:
            raise Conflict(f"user {record.email!r} already exists", email=record.email) from None
        return record

    async def get_user(self, id: str) -> UserRecord:
        return await self._one("users", "user", "id", id, self._user)

    async def get_user_by_email(self, email: str) -> UserRecord:
        return await self._one("users", "user", "email", email.strip().lower(), self._user)

    async def list_users(self) -> list[UserRecord]:
        async with self._read() as db:
            rows = await db.fetch("SELECT * FROM users ORDER BY id")
        return [self._user(row) for row in rows]

    async def count_users(self) -> int:
        async with self._read() as db:
            rows = await db.fetch("SELECT count(*) AS n FROM users")
        return int(rows[0]["n"])

    async def update_user(self, id: str, *, role: str | None = None, password_hash: str | None = None,
                          disabled: bool | None = None) -> UserRecord:
        async with self._tx() as db:
            old = await self._user_for_change(db, id)
            new = UserRecord(id=id, email=old.email, role=old.role if role is None else role,
                             password_hash=old.password_hash if password_hash is None else password_hash,
                             created_at=old.created_at, disabled=old.disabled if disabled is None else disabled)
            if new.role != "owner" or new.disabled:
                await self._keep_an_owner(db, old, "disabled" if new.disabled else "demoted")
            await db.execute("UPDATE users SET role = ?, password_hash = ?, disabled = ? WHERE id = ?",
                             [new.role, new.password_hash, new.disabled, id])
        return new

    async def delete_user(self, id: str, *, transfer_to: str | None = None) -> dict[str, int]:
        async with self._tx() as db:
            old = await self._user_for_change(db, id)
            await self._keep_an_owner(db, old, "deleted")
            if int((await db.fetch("SELECT count(*) AS n FROM users"))[0]["n"]) == 1:
                raise Conflict(f"{old.email} is the only user: deleting them would open flowbox to anyone")
            if transfer_to == id:
                raise Conflict(f"cannot transfer what {old.email} owns to {old.email}, who is being deleted")
            if transfer_to is not None and not await db.fetch("SELECT id FROM users WHERE id = ?", [transfer_to]):
                raise NotFound("user", transfer_to)
            if transfer_to is None:
                owned = {kind: int((await db.fetch(f"SELECT count(*) AS n FROM {kind}s WHERE owner_id = ?",
                                                   [id]))[0]["n"]) for kind in ("workflow", "credential")}
                if any(owned.values()):
                    what = " and ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in owned.items() if n)
                    raise Conflict(f"{old.email} owns {what}: choose a user to transfer them to",
                                   workflows=owned["workflow"], credentials=owned["credential"])
            moved: dict[str, int] = {}
            for kind in ("workflow", "credential"):
                moved[f"{kind}s"] = await db.execute(f"UPDATE {kind}s SET owner_id = ? WHERE owner_id = ?",
                                                     [transfer_to, id])
                if moved[f"{kind}s"]:  # what was shared with the new owner is now theirs: drop those shares
                    await db.execute(f"DELETE FROM shares WHERE kind = ? AND user_id = ? AND resource_id IN"
                                     f" (SELECT id FROM {kind}s WHERE owner_id = ?)",
                                     [kind, transfer_to, transfer_to])
            for table in ("shares", "api_keys", "sessions"):
                await db.execute(f"DELETE FROM {table} WHERE user_id = ?", [id])
            await db.execute("DELETE FROM users WHERE id = ?", [id])
        return moved

    async def _user_for_change(self, db: Db, id: str) -> UserRecord:
        rows = await db.fetch("SELECT * FROM users WHERE id = ?", [id])
        if not rows:
            raise NotFound("user", id)
        return self._user(rows[0])

    async def _keep_an_owner(self, db: Db, user: UserRecord, change: str) -> None:
        """Conflict when `user` is the last enabled owner (the owners' rows stay locked until the change
        commits, so two owners removing each other at once cannot both succeed)."""
        owners = await db.fetch(f"SELECT id FROM users WHERE role = 'owner' AND NOT disabled{self._lock_rows}")
        if [row["id"] for row in owners] == [user.id]:
            raise Conflict(f"{user.email} is the last owner and cannot be {change}: make another user an owner "
                           "first", user=user.email)

    async def create_api_key(self, user_id: str, prefix: str, key_hash: str, name: str = "",
                             id: str | None = None) -> ApiKeyRecord:
        """A new key of an existing user (NotFound otherwise)."""
        now = datetime.now(UTC)
        record = ApiKeyRecord(id=id or new_id(), user_id=user_id, prefix=prefix, key_hash=key_hash, name=name,
                              created_at=now)
        async with self._tx() as db:
            if not await db.fetch("SELECT id FROM users WHERE id = ?", [user_id]):
                raise NotFound("user", user_id)
            await db.execute("INSERT INTO api_keys (id, user_id, prefix, key_hash, name, created_at)"
                             " VALUES (?, ?, ?, ?, ?, ?)",
                             [record.id, user_id, prefix, key_hash, name, self._time(now)])
        return record

    async def find_api_key(self, key_hash: str) -> tuple[ApiKeyRecord, UserRecord] | None:
        async with self._read() as db:
            rows = await db.fetch(
                f"SELECT k.*, {self._USER_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.user_id"
                " WHERE k.key_hash = ?", [key_hash])
        if not rows:
            return None
        return self._api_key(rows[0]), self._user(rows[0], "u_")

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKeyRecord]:
        async with self._read() as db:
            if user_id is None:
                rows = await db.fetch("SELECT * FROM api_keys ORDER BY id")
            else:
                rows = await db.fetch("SELECT * FROM api_keys WHERE user_id = ? ORDER BY id", [user_id])
        return [self._api_key(row) for row in rows]

    async def delete_api_key(self, id: str) -> None:
        async with self._statement() as db:
            if not await db.execute("DELETE FROM api_keys WHERE id = ?", [id]):
                raise NotFound("api key", id)

    async def delete_api_keys(self, *, user_id: str) -> int:
        async with self._statement() as db:
            return await db.execute("DELETE FROM api_keys WHERE user_id = ?", [user_id])

    # sharing

    async def get_shares(self, kind: str, resource_id: str) -> list[str]:
        async with self._read() as db:
            rows = await db.fetch("SELECT user_id FROM shares WHERE kind = ? AND resource_id = ? ORDER BY user_id",
                                  [kind, resource_id])
        return [row["user_id"] for row in rows]

    async def set_shares(self, kind: str, resource_id: str, user_ids: Sequence[str]) -> None:
        wanted = sorted(set(user_ids))
        async with self._tx() as db:
            for user_id in wanted:
                if not await db.fetch("SELECT id FROM users WHERE id = ?", [user_id]):
                    raise NotFound("user", user_id)
            await db.execute("DELETE FROM shares WHERE kind = ? AND resource_id = ?", [kind, resource_id])
            for user_id in wanted:
                await db.execute("INSERT INTO shares (kind, resource_id, user_id) VALUES (?, ?, ?)",
                                 [kind, resource_id, user_id])

    # editor sessions (`flowbox.sessions`: only the sha256 of the cookie's token is stored)

    def _session_record(self, row: Row) -> SessionRecord:
        return SessionRecord(id=row["id"], user_id=row["user_id"], csrf=row["csrf"],
                             expires_at=self._from_time(row["expires_at"]) or datetime.now(UTC),
                             created_at=self._from_time(row["created_at"]), ip=row["ip"],
                             user_agent=row["user_agent"])

    async def create_session(self, session: SessionRecord) -> None:
        async with self._statement() as db:
            await db.execute("INSERT INTO sessions (id, user_id, csrf, created_at, expires_at, ip, user_agent)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [session.id, session.user_id, session.csrf,
                              self._time(session.created_at or datetime.now(UTC)), self._time(session.expires_at),
                              session.ip, session.user_agent])

    async def find_session(self, id: str, now: datetime) -> tuple[SessionRecord, UserRecord] | None:
        async with self._read() as db:
            rows = await db.fetch(
                f"SELECT s.*, {self._USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.id = ? AND s.expires_at > ?",
                [id, self._time(now)])
        if not rows:
            return None
        return self._session_record(rows[0]), self._user(rows[0], "u_")

    async def delete_session(self, id: str) -> None:
        async with self._statement() as db:
            await db.execute("DELETE FROM sessions WHERE id = ?", [id])

    async def delete_sessions(self, *, user_id: str | None = None, expired_before: datetime | None = None,
                              keep: str | None = None) -> int:
        where, params = [], []
        if user_id is not None:
            where.append("(user_id = ? AND id <> ?)")
            params += [user_id, keep or ""]
        if expired_before is not None:
            where.append("expires_at <= ?")
            params.append(self._time(expired_before))
        if not where:
            raise ValueError("delete_sessions needs user_id and/or expired_before")
        async with self._statement() as db:
            return await db.execute(f"DELETE FROM sessions WHERE {' OR '.join(where)}", params)

    # audit log (`flowbox.audit`): append-only

    def _audit(self, row: Row) -> AuditEntry:
        return AuditEntry(id=row["id"], at=self._from_time(row["at"]), actor=row["actor"], action=row["action"],
                          target_kind=row["target_kind"], target_id=row["target_id"], ip=row["ip"],
                          details=self._from_json(row["details"]) or {})

    async def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """One INSERT through `_statement()`, so under load it joins the group commit."""
        entry.id = entry.id or new_id()
        entry.at = entry.at or datetime.now(UTC)
        async with self._statement() as db:
            await db.execute("INSERT INTO audit (id, at, actor, action, target_kind, target_id, ip, details)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             [entry.id, self._time(entry.at), entry.actor, entry.action, entry.target_kind,
                              entry.target_id, entry.ip, self._json(entry.details or {})])
        return entry

    async def list_audit(self, *, action: str | None = None, actor: str | None = None, limit: int = 50,
                         cursor: str | None = None) -> Page[AuditEntry]:
        """Newest first; `action` exact, or a prefix when it ends with "*"."""
        where: list[str] = []
        params: list[Any] = []
        if action and action.endswith("*"):
            prefix = action[:-1]
            where.append("substr(action, 1, ?) = ?")
            params.extend([len(prefix), prefix])
        elif action:
            where.append("action = ?")
            params.append(action)
        if actor:
            where.append("actor = ?")
            params.append(actor)
        return await self._newest_first("SELECT * FROM audit", where, params, limit, cursor, self._audit)
