"""Stored credentials: create, read (masked), change, delete, test, and connect OAuth2 (DESIGN §7, §8).

Everything returned here is masked (`flowbox.credentials.mask`): no secret leaves this module except
through the engine's credential callable (`resolver` below), which hands decrypted data
to nodes. Credentials are encrypted with the `Vault` key (FLOWBOX_ENCRYPTION_KEY or the data dir's key
file); who may see or change one follows `flowbox.access`.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowbox import audit
from flowbox.access import Access, visible_to
from flowbox.records import iso
from flowbox.settings import Settings
from flowbox.store.base import Page, Store, new_id

if TYPE_CHECKING:
    from flowbox.credentials import Vault


class CredentialVault:
    """The credentials of one store."""

    def __init__(self, store: Store, access: Access, settings: Settings, http: Callable[[], Any]) -> None:
        self.store = store
        self.access = access
        self.settings = settings
        self.http = http  # the shared httpx client (a credential test sends a request)

    @functools.cached_property
    def vault(self) -> Any:
        """The `flowbox.credentials.Vault` (key from FLOWBOX_ENCRYPTION_KEY or the data dir's key file)."""
        from flowbox.credentials import Vault

        return Vault.from_settings(self.settings.data_dir)

    def _json(self, record: Any, data: dict[str, Any]) -> dict[str, Any]:
        from flowbox.credentials import TYPES, mask

        ctype = TYPES.get(record.type)
        return {"id": record.id, "name": record.name, "type": record.type,
                "data": mask(data, ctype) if ctype else {}, "createdAt": iso(record.created_at),
                "updatedAt": iso(record.updated_at)}

    def types(self) -> list[dict[str, Any]]:
        from flowbox.credentials import TYPES

        return [ctype.to_dict() for _, ctype in sorted(TYPES.items())]

    async def create(self, name: Any, type: Any, data: Any, user: Any = None) -> dict[str, Any]:
        """A new credential, encrypted; returns it masked. CredentialError (400) names a bad field."""
        from flowbox.credentials import MASK, CredentialError, get_type

        if not isinstance(name, str) or not name.strip():
            raise CredentialError("a credential needs a name", field="name")
        ctype = get_type(str(type))
        clean = ctype.validate(data)
        for field_name in ctype.secret_fields:
            if clean.get(field_name) == MASK:
                raise CredentialError(f"field {field_name!r} holds the mask, not a secret", field=f"data.{field_name}")
        id = new_id()
        record = await self.store.create_credential(name.strip(), ctype.name, self.vault.encrypt(clean, id), id=id,
                                                    owner_id=user.user_id if user else None)
        await audit.record(self.store, "credential.create", "credential", id, name=record.name, type=record.type)
        return self._json(record, clean)

    async def _record(self, id: str, user: Any, *, manage: bool = False) -> Any:
        record = await self.store.get_credential(id)
        await self.access.check("credential", record, user, manage=manage)
        return record

    async def get(self, id: str, user: Any = None) -> dict[str, Any]:
        record = await self._record(id, user)
        return self._json(record, self.vault.decrypt(record.data, record.id))

    async def list(self, *, type: str | None = None, limit: int = 50,
                               cursor: str | None = None, user: Any = None) -> Page[dict[str, Any]]:
        """Masked credentials, newest first (one that cannot be decrypted shows empty data and an error)."""
        from flowbox.credentials import CredentialError

        page = await self.store.list_credentials(type=type, limit=limit, cursor=cursor,
                                                 visible_to=visible_to(user))
        out = []
        for record in page.data:
            try:
                out.append(self._json(record, self.vault.decrypt(record.data, record.id)))
            except CredentialError as exc:
                out.append({**self._json(record, {}), "error": exc.message})
        return Page(out, page.next_cursor)

    async def update(self, id: str, *, name: Any = None, data: Any = None,
                                user: Any = None) -> dict[str, Any]:
        """Rename and/or replace data; a secret field sent back as the mask keeps its stored value."""
        from flowbox.credentials import CredentialError, get_type, merge

        record = await self._record(id, user, manage=True)  # a shared user could redirect secrets
        old = self.vault.decrypt(record.data, record.id)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise CredentialError("a credential needs a name", field="name")
        blob, new = None, old
        if data is not None:
            ctype = get_type(record.type)
            if not isinstance(data, dict):
                raise CredentialError("credential data must be a JSON object", field="data")
            if ctype.sign == "oauth2":  # tokens come from the OAuth2 flow: a change without them keeps them
                from flowbox.oauth2 import TOKEN_FIELDS

                data = {**{k: old[k] for k in TOKEN_FIELDS if k in old}, **data}
            new = ctype.validate(merge(data, old, ctype))
            blob = self.vault.encrypt(new, id)
        record = await self.store.update_credential(id, name=name.strip() if name else None, data=blob)
        await audit.record(self.store, "credential.update", "credential", id, name=record.name, fields=sorted(data or {}))
        return self._json(record, new)

    async def delete(self, id: str, user: Any = None) -> None:
        await self._record(id, user, manage=True)
        await self.store.delete_credential(id)
        await audit.record(self.store, "credential.delete", "credential", id)

    async def test(self, id: str, url: str | None = None, user: Any = None) -> dict[str, Any]:
        """Check a credential: it decrypts and has its required fields; then, with the type's test request
        (or `url`), a request signed with it must answer below 400. `{"ok", "message", "statusCode"}`."""
        from flowbox.credentials import CheckResult, CredentialError, get_type, scrub

        record = await self._record(id, user, manage=url is not None)  # any url: the owner's call
        ctype = get_type(record.type)
        await audit.record(self.store, "credential.test", "credential", id, name=record.name, type=record.type)
        try:
            data = ctype.validate(self.vault.decrypt(record.data, record.id))
        except CredentialError as exc:
            return CheckResult(False, exc.message).to_dict()
        note = f"the credential decrypts and has every required field; {ctype.name} declares no test request"
        if ctype.sign == "oauth2":  # the test is getting a token: a new one when it can be renewed
            renew = data.get("grantType") == "clientCredentials" or bool(data.get("refreshToken"))
            try:
                data = await self._oauth2_tokens().valid(id, renew=renew)
            except CredentialError as exc:
                return CheckResult(False, exc.message).to_dict()
            note = "got a new access token" if renew else "has an access token (no refresh token to renew it)"
            if data.get("expiresAt"):
                note += f", valid until {data['expiresAt']}"
        test = ctype.test
        public = collections.defaultdict(str, {k: v for k, v in data.items() if k not in ctype.secret_fields})
        target = url or (test.url.format_map(public) if test else None)
        if not target:
            return CheckResult(True, f"{note} (give a url to try it against one)").to_dict()
        if not re.match(r"https?://", target):
            raise CredentialError(f"test url must start with http:// or https://, got {target!r}", field="url")
        headers: dict[str, str] = {}
        query: dict[str, Any] = {}
        try:
            ctype.sign_request(data, headers, query)
            response = await self.http().request(
                test.method if test and not url else "GET", target, headers=headers, params=query or None,
                timeout=15)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's answer, without the secret
            return CheckResult(False, scrub(f"request failed: {type(exc).__name__}: {exc}", data, ctype)).to_dict()
        ok = response.status_code < 400
        return CheckResult(ok, f"{target} answered {response.status_code}"
                               + ("" if ok else ": the credential was not accepted"), response.status_code).to_dict()

    @functools.cached_property
    def _oauth2_states(self) -> Any:
        """OAuth2 authorizations under way (`flowbox.oauth2.PendingStates`), in this process's memory:
        the provider's redirect comes back to the server that answered Connect (one process)."""
        from flowbox.oauth2 import PendingStates

        return PendingStates()

    def _oauth2_tokens(self) -> Any:
        from flowbox.oauth2 import tokens_for

        return tokens_for(self.store, self.vault)

    async def oauth2_authorize(self, id: str, base_url: str | None = None,
                               user: Any = None) -> dict[str, Any]:
        """Start connecting an oAuth2Api credential: `{"url"}`, the provider's authorize URL (PKCE S256).

        The redirect URI is FLOWBOX_PUBLIC_URL (else `base_url`, the URL the caller reached us at)
        + `/api/v1/oauth2/callback`; the state it carries is single use and expires in 10 minutes."""
        from flowbox import oauth2
        from flowbox.credentials import CredentialError

        record = await self._record(id, user)
        if record.type != oauth2.TYPE:
            raise CredentialError(f"credential {id!r} is a {record.type} credential, not {oauth2.TYPE}",
                                  id=id)
        data = self.vault.decrypt(record.data, record.id)
        base = self.settings.public_url or base_url or f"http://{self.settings.host}:{self.settings.port}"
        redirect = oauth2.redirect_uri(base)
        state, verifier = self._oauth2_states.new(id, redirect)
        return {"url": oauth2.authorize_url(data, redirect, state, verifier)}

    async def oauth2_callback(self, *, code: str | None, state: str | None, error: str | None = None,
                              error_description: str | None = None) -> dict[str, Any]:
        """The provider's redirect: check the state, exchange the code, store the tokens encrypted.
        Returns the credential (masked); CredentialError says what went wrong."""
        from flowbox.credentials import CredentialError

        if error:  # the user or the provider said no; the state is spent either way
            with contextlib.suppress(CredentialError):
                self._oauth2_states.take(state)
            raise CredentialError(f"the provider refused the authorization: {error}"
                                  + (f": {error_description}" if error_description else ""), field="error")
        pending = self._oauth2_states.take(state)
        if not code:
            raise CredentialError("the provider's redirect carries no code", field="code")
        id = pending.credential_id
        data = await self._oauth2_tokens().connect(id, code, pending.verifier, pending.redirect_uri)
        record = await self.store.get_credential(id)
        await audit.record(self.store, "credential.oauth2.connect", "credential", id, name=record.name, type=record.type)
        return self._json(record, data)


def resolver(store: Any, vault: Vault | Callable[[], Vault]) -> Any:
    """The `EngineServices(credential=...)` callable: `(type, id)` -> the decrypted data for a node.

    `vault` may be a function that opens it, called once on first use (so `flowbox run` touches
    no key and imports no cipher unless a node uses a credential). An unknown id or a credential
    of another type is a CredentialError naming both (the runner adds the node's name); secret
    values come wrapped in `Secret`. An oauth2 credential comes as a `flowbox.oauth2.Session`:
    the same dict, plus `await session.token()` that keeps its access token valid.
    """
    from flowbox.credentials import TYPES, Vault, reveal
    from flowbox.errors import CredentialError, NotFound

    opened: list[Vault] = [vault] if isinstance(vault, Vault) else []

    async def credential(type_: str, id: str) -> dict[str, Any]:
        try:
            record = await store.get_credential(id)
        except NotFound:
            raise CredentialError(f"credential {id!r} (for {type_}) not found", id=id, type=type_) from None
        if record.type != type_:
            raise CredentialError(f"credential {id!r} ({record.name!r}) is a {record.type} credential, "
                                  f"but the node uses it as {type_}", id=id, type=type_)
        if not opened:
            opened.append(vault())  # type: ignore[operator]
        ctype = TYPES.get(record.type)
        data = reveal(opened[0].decrypt(record.data, record.id), ctype)
        if ctype is not None and ctype.sign == "oauth2":
            from flowbox.oauth2 import Session, tokens_for

            return Session(data, tokens_for(store, opened[0]), record.id)
        return data

    return credential
