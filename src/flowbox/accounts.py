"""People and how they prove who they are: users, API keys, editor sessions, logins (DESIGN §8, §11).

Authentication is enforced once a user exists (see `flowbox.auth`); no password or key leaves this
module, only hashes reach the store. Verified keys and sessions are cached briefly so a request costs
no store read; disabling or deleting a user, revoking a key or logging out forgets them at once in this
process (in others within `KEY_CACHE_TTL`). Removing people follows `flowbox.auth` (REMOVING PEOPLE):
`user` is the caller; None (the CLI) may do anything but what the store refuses for everyone: demoting,
disabling or deleting the last owner (409), deleting the only user.

A login checks the password (rate limited per client address, and per email for failures), stores
the sha256 of a fresh token and hands the token to the browser as a cookie.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from flowbox import audit
from flowbox.access import admin_only, visible_to
from flowbox.errors import Conflict, Forbidden, NotFound
from flowbox.store.base import Store


class Accounts:
    """The users, keys and sessions of one store."""

    AUTH_RECHECK = 1.0  # seconds between re-checks while no user exists (the CLI may add one meanwhile)
    KEY_CACHE_TTL = 10.0  # seconds a verified key is trusted without asking the store again

    def __init__(self, store: Store) -> None:
        self.store = store

    @functools.cached_property
    def _auth_state(self) -> dict[str, Any]:
        return {"users_exist": False, "checked": float("-inf"), "keys": {}}

    async def auth_required(self) -> bool:
        """Whether the API asks for a key: once at least one user exists (cached; see `flowbox.auth`)."""
        state = self._auth_state
        if state["users_exist"]:
            return True
        now = time.monotonic()
        if now - state["checked"] >= self.AUTH_RECHECK:
            state["users_exist"] = await self.store.count_users() > 0
            state["checked"] = now
        return bool(state["users_exist"])

    async def _cached_principal(self, key: str, find: Callable[[], Awaitable[Any]]) -> Any:
        """The principal cached under `key` (for `KEY_CACHE_TTL`), else `await find()`, cached when not None."""
        cache: dict[str, tuple[Any, float]] = self._auth_state["keys"]
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = await find()
        if principal is None:
            cache.pop(key, None)
            return None
        if len(cache) > 10_000:
            cache.clear()
        cache[key] = (principal, now + self.KEY_CACHE_TTL)
        return principal

    async def authenticate_key(self, key: str | None) -> Any:
        """The `flowbox.auth.Principal` an API key stands for, or None for a missing or unknown key."""
        from flowbox.auth import KEY_PREFIX, Principal, hash_api_key

        if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = hash_api_key(key)

        async def find() -> Any:
            found = await self.store.find_api_key(digest)
            if found is None:
                return None
            record, user = found
            if user.disabled:
                return None
            return Principal(user_id=user.id, email=user.email, role=user.role, key_id=record.id)

        return await self._cached_principal(digest, find)

    async def authenticate_password(self, email: str, password: str) -> Any:
        """The `flowbox.auth.Principal` of a user whose password matches, or None; Forbidden when the
        password is right but the user is disabled (only then: a guess learns nothing)."""
        from flowbox.auth import Principal, verify_password

        try:
            user = await self.store.get_user_by_email(str(email))
        except NotFound:
            user = None
        ok = await asyncio.to_thread(verify_password, str(password), user.password_hash if user else None)
        if not ok or user is None:
            return None
        if user.disabled:
            raise Forbidden(f"the account {user.email} is disabled: ask an owner or admin to enable it")
        return Principal(user_id=user.id, email=user.email, role=user.role)

    async def create_user(self, email: Any, role: Any, password: Any, user: Any = None) -> dict[str, Any]:
        """A new user (400 naming a bad field, 409 when the email is taken; only an owner makes owners);
        auth is enforced from now on."""
        from flowbox import auth

        self._may_grant(role, user)
        record = await auth.create_user(self.store, email, role, password)
        self._auth_state["users_exist"] = True
        await audit.record(self.store, "user.create", "user", record.id, email=record.email, role=record.role)
        return auth.user_json(record)

    async def list_users(self) -> list[dict[str, Any]]:
        from flowbox.auth import user_json

        return [user_json(user) for user in await self.store.list_users()]

    # Removing people (`flowbox.auth` REMOVING PEOPLE). `user` is the caller; None (the CLI) may do anything
    # but what the store refuses for everyone: demoting, disabling or deleting the last owner (409, also when
    # they do it to themselves), deleting the only user.
    @staticmethod
    def _may_grant(role: Any, user: Any) -> None:
        if user is not None and role == "owner" and user.role != "owner":
            raise Forbidden("only an owner can make a user an owner")

    async def _managed_user(self, id: str, user: Any, what: str) -> Any:
        """The user `id` if the caller may `what` them: an owner anyone, an admin themselves and members (as
        with API keys). NotFound (404) for an unknown id, Forbidden (403) otherwise."""
        from flowbox.auth import RANK

        target = await self.store.get_user(id)
        if user is None:
            return target
        admin_only(user, "managing users")
        if target.id != user.user_id and user.role != "owner" and RANK[target.role] >= RANK[user.role]:
            raise Forbidden(f"only an owner can {what} {target.email} ({target.role})")
        return target

    async def _end_access(self, user_id: str, *, keys: bool = True, keep_session: str | None = None
                          ) -> dict[str, int]:
        """End a user's sessions (but `keep_session`) and with `keys` their API keys; this process forgets
        every verified key and session at once. Returns how many ended."""
        ended = {"sessions": await self.store.delete_sessions(user_id=user_id, keep=keep_session)}
        if keys:
            ended["apiKeys"] = await self.store.delete_api_keys(user_id=user_id)
        self._auth_state["keys"] = {}
        return ended

    async def update_user(self, id: str, *, role: Any = None, disabled: Any = None,
                          user: Any = None) -> dict[str, Any]:
        """Change a user's role and/or disable or enable them. Disabling ends their sessions and API keys
        at once; 409 for the last owner (see `_managed_user` for who may)."""
        from flowbox import auth

        if disabled is not None and not isinstance(disabled, bool):
            raise auth.AuthError("disabled must be true or false", field="disabled")
        role = None if role is None else auth.check_role(role)
        verb = "disable" if disabled else "enable" if disabled is False else "change the role of"
        target = await self._managed_user(id, user, verb)
        self._may_grant(role, user)
        record = await self.store.update_user(id, role=role, disabled=disabled)
        self._auth_state["keys"] = {}  # a cached principal carries the old role
        if record.role != target.role:
            await audit.record(self.store, "user.role", "user", id, email=target.email, previousRole=target.role, role=record.role)
        if record.disabled and not target.disabled:
            await audit.record(self.store, "user.disable", "user", id, email=target.email, ended=await self._end_access(id))
        elif target.disabled and not record.disabled:
            await audit.record(self.store, "user.enable", "user", id, email=target.email)
        return auth.user_json(record)

    async def set_password(self, id: str, password: Any, user: Any = None) -> None:
        """Reset a user's password; it ends that user's other sessions: all of them, or, for your own, all
        but the one this request came with."""
        from flowbox import auth

        target = await self._managed_user(id, user, "reset the password of")
        digest = await asyncio.to_thread(auth.hash_password, auth.check_password(password))
        await self.store.update_user(id, password_hash=digest)
        keep = user.session_id if user is not None and user.user_id == id else None
        ended = await self._end_access(id, keys=False, keep_session=keep)
        await audit.record(self.store, "user.password", "user", id, email=target.email, ended=ended)

    async def delete_user(self, id: str, *, transfer_to: str | None = None, user: Any = None) -> dict[str, int]:
        """Delete a user, ending their sessions and API keys; the workflows and credentials they own move to
        the user `transfer_to` (required when they own any: 409 naming what). Returns what moved."""
        from flowbox.auth import AuthError

        target = await self._managed_user(id, user, "delete")
        heir = None
        if transfer_to:
            try:
                heir = await self.store.get_user(transfer_to)
            except NotFound:
                raise AuthError(f"transferTo: there is no user {transfer_to!r}", field="transferTo") from None
            if heir.id == id or heir.disabled:
                raise AuthError(f"transferTo: {heir.email} is {'being deleted' if heir.id == id else 'disabled'}; "
                                "choose another user", field="transferTo")
        moved = await self.store.delete_user(id, transfer_to=heir.id if heir else None)
        self._auth_state["keys"] = {}
        await audit.record(self.store, "user.delete", "user", id, email=target.email, role=target.role,
                         transferTo=heir.email if heir else None, **moved)
        return moved

    async def create_api_key(self, email: str, name: str = "", user: Any = None) -> tuple[str, dict[str, Any]]:
        """`(key, key JSON)`: the key itself is returned here once and never stored. A member makes keys
        for themselves only; admins for anyone."""
        from flowbox import auth
        if user is not None and auth.check_email(email) != user.email:
            target = await self.store.get_user_by_email(email)
            if not auth.has_role(user.role, "admin") or auth.RANK[target.role] >= auth.RANK[user.role]:
                raise Forbidden("you can create API keys for yourself, and an admin for users of a lower role")
        key, record = await auth.create_api_key(self.store, email, name)
        await audit.record(self.store, "apikey.create", "apikey", record.id, user=email, name=name, prefix=record.prefix)
        return key, auth.key_json(record)

    async def list_api_keys(self, user: Any = None) -> list[dict[str, Any]]:
        """API keys (prefix and name only), oldest first: a member's own, or everyone's for an admin."""
        from flowbox.auth import key_json

        return [key_json(k) for k in await self.store.list_api_keys(visible_to(user))]

    async def delete_api_key(self, id: str, user: Any = None) -> None:
        """Revoke a key at once (every process within `KEY_CACHE_TTL`); a member revokes only their own."""
        if user is not None:
            from flowbox.auth import RANK

            key = next((k for k in await self.store.list_api_keys(visible_to(user)) if k.id == id), None)
            if key is None:
                raise NotFound("api key", id)
            holder = await self.store.get_user(key.user_id)
            if holder.id != user.user_id and RANK[holder.role] >= RANK[user.role]:
                raise Forbidden(f"only {holder.email} can revoke their own API keys")
        await self.store.delete_api_key(id)
        await audit.record(self.store, "apikey.delete", "apikey", id)
        self._auth_state["keys"] = {}

    # A login checks the password (rate limited per client address, and per email for failures), stores
    # the sha256 of a fresh token and hands the token to the browser as a cookie. Verified sessions are
    # cached like keys; a logout drops this process's cache entry (other processes: within the TTL).
    LOGIN_RATE = (10 / 60, 10)  # per client address: 10 attempts at once, then one every 6 s
    LOGIN_FAILURES = (5 / 900, 5)  # per email and address: 5 attempts, then one every 3 minutes (a success
    # clears it)

    @functools.cached_property
    def _login_limits(self) -> tuple[Any, Any]:
        from flowbox.ratelimit import RateLimit

        return RateLimit(*self.LOGIN_RATE), RateLimit(*self.LOGIN_FAILURES)

    async def login(self, email: Any, password: Any, *, ip: str | None = None,
                    user_agent: str | None = None) -> tuple[str, Any, Any]:
        """`(token, session, principal)` for a right email and password; Unauthorized (audited) otherwise,
        RateLimited (429) after too many attempts from one address or failures for one email."""
        from flowbox import sessions
        from flowbox.errors import RateLimited, Unauthorized
        from flowbox.store.base import SessionRecord

        per_ip, per_account = self._login_limits
        email = str(email or "").strip().lower()
        account = f"{email}|{ip or '-'}"  # per account AND address: nobody elsewhere can lock the owner out
        wait = per_ip.take(ip or "-") or per_account.take(account)  # taken before checking: parallel guesses
        if wait:                                                      # count too
            await audit.record(self.store, "login.failed", "user", None, email=email, reason="rate limited")
            raise RateLimited(f"too many login attempts; try again in {int(wait + 0.999)} s", retry_after=wait)
        try:
            principal = await self.authenticate_password(email, str(password or ""))
        except Forbidden:
            await audit.record(self.store, "login.failed", "user", None, email=email, reason="disabled")
            raise
        if principal is None:
            await audit.record(self.store, "login.failed", "user", None, email=email, reason="wrong email or password")
            raise Unauthorized("wrong email or password")
        per_account.reset(account)
        token = sessions.new_token()
        now = dt.datetime.now(dt.UTC)
        record = SessionRecord(id=sessions.token_id(token), user_id=principal.user_id, csrf=sessions.new_token(),
                               created_at=now, expires_at=now + dt.timedelta(days=sessions.SESSION_DAYS),
                               ip=ip, user_agent=(user_agent or "")[:200] or None)
        await self.store.create_session(record)
        await self.store.delete_sessions(expired_before=now)
        await audit.record(self.store, "login", "user", principal.user_id, email=principal.email)
        return token, record, principal

    async def authenticate_session(self, token: str | None) -> Any:
        """The `Principal` (with its session's `csrf`) a session cookie stands for, or None."""
        from flowbox.auth import Principal
        from flowbox.sessions import token_id

        if not token or len(token) > 200:
            return None
        id = token_id(token)

        async def find() -> Any:
            found = await self.store.find_session(id, dt.datetime.now(dt.UTC))
            if found is None:
                return None
            record, user = found
            if user.disabled:
                return None
            return Principal(user_id=user.id, email=user.email, role=user.role, csrf=record.csrf,
                             session_id=record.id)

        return await self._cached_principal("s:" + id, find)

    async def logout(self, token: str | None) -> None:
        """End the session of this cookie token (nothing happens for an unknown one)."""
        from flowbox.sessions import token_id

        if not token:
            return
        id = token_id(token)
        self._auth_state["keys"].pop("s:" + id, None)
        await self.store.delete_session(id)
        await audit.record(self.store, "logout", "session", None)

    async def setup_owner(self, email: Any, password: Any) -> dict[str, Any]:
        """The first-start owner account (the editor's setup form); Conflict once any user exists."""
        if await self.store.count_users() > 0:
            raise Conflict("flowbox already has an owner: log in instead")
        return await self.create_user(email, "owner", password)
