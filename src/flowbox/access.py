"""Who may see and change what: ownership and sharing (DESIGN §8; the rules in `flowbox.auth`).

Owners and admins see and change everything. A member sees what they own and what was shared with
them; they may change and run a shared workflow (or use a shared credential), but only its owner or
an admin deletes it or changes whom it is shared with. What a member may not see is "not found".
`user` (a `flowbox.auth.Principal`) None means no restriction: the CLI, the system, an install without
users. The operations layer (`flowbox.operations`) asks these questions for every caller.
"""

from __future__ import annotations

import os
from typing import Any

from flowbox import audit
from flowbox.errors import Forbidden, NotFound
from flowbox.store.base import Store
from flowbox.workflow import Workflow

SHARE_KINDS = ("workflow", "credential")


def visible_to(user: Any) -> str | None:
    """The user id lists are filtered by, or None for no filter (no user, admin, owner)."""
    from flowbox.auth import has_role

    return None if user is None or has_role(user.role, "admin") else user.user_id


def admin_only(user: Any, what: str) -> None:
    """Forbidden unless `user` is an owner or admin (or no user at all)."""
    if visible_to(user) is not None:
        raise Forbidden(f"{what} is for owners and admins")


def code_for_members() -> tuple[bool, str]:
    """Whether members may use the code node, and why not: in its sandbox yes unless
    FLOWBOX_CODE_FOR_MEMBERS=0; without it (FLOWBOX_CODE_SANDBOX=process) only with FLOWBOX_CODE_FOR_MEMBERS=1."""
    sandboxed = os.environ.get("FLOWBOX_CODE_SANDBOX", "strict") != "process"
    if os.environ.get("FLOWBOX_CODE_FOR_MEMBERS", "1" if sandboxed else "0") == "1":
        return True, ""
    return False, ("this server lets only owners and admins use it (FLOWBOX_CODE_FOR_MEMBERS=0)" if sandboxed
                   else "it runs Python with this server's file access (FLOWBOX_CODE_SANDBOX=process), so only "
                   "owners and admins may use it (FLOWBOX_CODE_FOR_MEMBERS=1 allows members)")


class Access:
    """The sharing rules over one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def check(self, kind: str, record: Any, user: Any, *, manage: bool = False) -> None:
        """NotFound unless `user` may see `record` (a workflow or credential); Forbidden when they may see
        it but `manage` (delete, share) is asked of a member who does not own it."""
        member = visible_to(user)
        if member is None or record.owner_id == member:
            return
        if member in await self.store.get_shares(kind, record.id):
            if manage:
                raise Forbidden(f"only the owner of {kind} {record.id} or an admin can do this")
            return
        raise NotFound(kind, record.id)

    async def check_reach(self, workflow: Workflow, user: Any) -> None:
        """Forbidden naming the node when a member's workflow reaches what they may not: a credential or a
        sub-workflow / error workflow not theirs and not shared with them, a sub-workflow by file path or
        by an expression, or the code node where members may not use it (`code_for_members`). Checked when
        a member saves, runs or listens with a workflow."""
        if visible_to(user) is None:
            return

        async def reachable(kind: str, id: str, where: str) -> None:
            try:
                record = await (self.store.get_credential(id) if kind == "credential" else self.store.get_workflow(id))
                await self.check(kind, record, user)
            except NotFound:
                raise Forbidden(f"{where} uses {kind} {id!r}, which is not yours and not shared with you",
                                node=where) from None

        from flowbox import registry

        for node in workflow.nodes.values():
            spec = registry.get_or_none(node.type)
            where = f"node {node.name!r}"
            for ref in (node.credentials or {}).values():
                id = ref.get("id") if isinstance(ref, dict) else ref
                if isinstance(id, str):
                    await reachable("credential", id, where)
            if spec is not None and spec.runs_commands:
                raise Forbidden(f"{where} runs commands on this server: only owners and admins may use it",
                                node=node.name)
            if spec is not None and spec.runs_code:
                allowed, why = code_for_members()
                if not allowed:
                    raise Forbidden(f"{where} is a code node: {why}", node=node.name)
            if spec is not None and spec.inline_workflow and node.parameters.get(spec.inline_workflow):
                raise Forbidden(f"{where} holds its sub-workflow as JSON: a member must name it by id",
                                node=node.name)
            if spec is not None and spec.sub_workflow:
                ref = str(node.parameters.get(spec.sub_workflow) or "")
                if "{{" in ref or ref.endswith(".json") or "/" in ref or "\\" in ref:
                    raise Forbidden(f"{where} must name its sub-workflow by id (a member cannot run workflow "
                                    "files or computed references)", node=node.name)
                if ref:
                    await reachable("workflow", ref, where)
        target = workflow.settings.get("errorWorkflow")
        if isinstance(target, str) and target:
            await reachable("workflow", target, "the error workflow setting")

    async def _shared_record(self, kind: str, id: str) -> Any:
        if kind == "workflow":
            return await self.store.get_workflow(id)
        if kind == "credential":
            return await self.store.get_credential(id)
        raise NotFound("kind", kind)

    async def sharing(self, kind: str, id: str, user: Any) -> dict[str, Any]:
        """`{"ownerId", "sharedWith": [user ids]}` of a workflow or credential."""
        record = await self._shared_record(kind, id)
        await self.check(kind, record, user)
        return {"ownerId": record.owner_id, "sharedWith": await self.store.get_shares(kind, id)}

    async def share(self, kind: str, id: str, user_ids: Any, user: Any) -> dict[str, Any]:
        """Share a workflow or credential with exactly these users (owner or admin only)."""
        from flowbox.auth import AuthError

        record = await self._shared_record(kind, id)
        await self.check(kind, record, user, manage=True)
        if not isinstance(user_ids, list) or not all(isinstance(u, str) for u in user_ids):
            raise AuthError("userIds must be a list of user ids", field="userIds")
        await self.store.set_shares(kind, id, [u for u in user_ids if u != record.owner_id])
        await audit.record(self.store, f"{kind}.share", kind, id, sharedWith=sorted(set(user_ids)))
        return await self.sharing(kind, id, user)
