"""The audit log: who did what, to what, when and from where (`GET /api/v1/audit`, the editor's `/audit`).

Who and where travel in a contextvar, `current_actor`, so the operations (`flowbox.operations`) need
no extra parameter: the API's guard sets it per request (the key's user email, or
"anonymous", with the client's IP), the CLI sets "cli", and anything else (scheduler,
queue, start-up) is "system". `record()` appends one entry to the store and never raises
into its caller: a failed audit write is logged, the operation goes on.

Details never hold secrets: keys that look like one (password, data, token, ...) are
dropped before writing, whatever the caller passes.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from dataclasses import dataclass
from typing import Any

from flowbox.store.base import AuditEntry, AuditStore, new_id

log = logging.getLogger("flowbox.audit")

SECRET_KEYS = frozenset({"data", "password", "secret", "token", "key", "apikey", "api_key", "value",
                         "authorization", "password_hash", "key_hash"})


@dataclass(frozen=True)
class Actor:
    """Who acts (`name`: a user's email, "anonymous", "cli" or "system") and from where (`ip`, or None)."""

    name: str = "system"
    ip: str | None = None


SYSTEM = Actor()
current_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("flowbox_actor", default=SYSTEM)


def set_actor(name: str, ip: str | None = None) -> contextvars.Token[Actor]:
    """Make `name` (from `ip`) the actor of what runs next in this context (a request, a CLI command)."""
    return current_actor.set(Actor(name, ip))


_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # `new_id`'s base32
_last_id = ""
_id_lock = threading.Lock()


def next_id() -> str:
    """A `new_id()` that is strictly greater than the previous one from this process, so entries
    written within one millisecond still list in the order they happened."""
    global _last_id
    with _id_lock:
        candidate = new_id()
        if candidate <= _last_id:  # same millisecond: the previous id plus one
            digits = list(_last_id)
            i = len(digits) - 1
            while digits[i] == _ALPHABET[-1]:
                digits[i] = _ALPHABET[0]
                i -= 1
            digits[i] = _ALPHABET[_ALPHABET.index(digits[i]) + 1]
            candidate = "".join(digits)
        _last_id = candidate
        return candidate


def clean_details(details: dict[str, Any]) -> dict[str, Any]:
    """`details` without None values and without anything keyed like a secret."""
    return {k: v for k, v in details.items() if v is not None and k.lower() not in SECRET_KEYS}


def entry(action: str, kind: str | None, id: str | None, **details: Any) -> AuditEntry:
    """An entry for `action` on `kind`/`id` by the current actor."""
    actor = current_actor.get()
    return AuditEntry(id=next_id(), action=action, actor=actor.name, target_kind=kind, target_id=None if id is None else str(id),
                      ip=actor.ip, details=clean_details(details))


async def record(store: AuditStore, action: str, kind: str | None, id: str | None, **details: Any) -> None:
    """Append an entry by the current actor; a failure is logged, never raised."""
    try:
        await store.append_audit(entry(action, kind, id, **details))
    except Exception:  # noqa: BLE001 - the audit log must never break the operation it records
        log.exception("could not write audit entry %s %s %s", action, kind, id)


def entry_json(item: AuditEntry) -> dict[str, Any]:
    """An entry as the API returns it."""
    return {"id": item.id, "at": item.at.isoformat().replace("+00:00", "Z") if item.at else None,
            "actor": item.actor, "action": item.action, "targetKind": item.target_kind,
            "targetId": item.target_id, "ip": item.ip, "details": item.details}
