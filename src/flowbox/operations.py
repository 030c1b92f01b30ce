"""The operations the API, the editor and the CLI call, each for one caller.

    ops = runtime.operations(principal)     # a `flowbox.auth.Principal`, or None: no restriction
    record = await ops.create_workflow(data)

Every door goes through here, so access (`flowbox.access`), validation and the audit log are the
same whichever door a change came through: the API's guard hands each request the operations of
its key's or session's user, the editor those of its signed-in user, the CLI (and the system) those
of no user in particular. What a caller may not see is "not found"; what they may see but not do
is Forbidden.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowbox import audit
from flowbox.access import admin_only, visible_to
from flowbox.engine.runner import ExecutionResult
from flowbox.engine.state import RunData
from flowbox.errors import Conflict, NotFound, WorkflowInvalid
from flowbox.node import Item, make_items
from flowbox.runs import parse_input
from flowbox.store.base import ExecutionRecord, Page, WorkflowRecord, WorkflowVersion
from flowbox.webhooks import WebhookReply, WebhookRequest
from flowbox.workflow import Workflow, load_workflow, validate_for_run

if TYPE_CHECKING:
    from flowbox.runtime import Runtime


class Operations:
    """What `user` may do with one running flowbox (`Runtime`)."""

    def __init__(self, runtime: Runtime, user: Any = None) -> None:
        self.runtime = runtime
        self.user = user

    @property
    def settings(self) -> Any:
        return self.runtime.settings

    # ---- workflows
    async def list_workflows(self, *, search: str | None = None, active: bool | None = None, limit: int = 50,
                             cursor: str | None = None) -> Page[WorkflowRecord]:
        return await self.runtime.workflows.list(search=search, active=active, limit=limit, cursor=cursor,
                                                 user=self.user)

    async def get_workflow(self, id: str) -> WorkflowRecord:
        return await self.runtime.workflows.get(id, self.user)

    async def list_versions(self, id: str) -> list[WorkflowVersion]:
        return await self.runtime.workflows.versions(id, self.user)

    async def get_workflow_version(self, id: str, number: int) -> dict[str, Any]:
        return await self.runtime.workflows.version(id, number, self.user)

    async def restore_workflow_version(self, id: str, number: int) -> WorkflowRecord:
        return await self.runtime.workflows.restore(id, number, self.user)

    async def create_workflow(self, data: dict[str, Any]) -> WorkflowRecord:
        return await self.runtime.workflows.create(data, self.user)

    async def import_workflow(self, data: dict[str, Any]) -> WorkflowRecord:
        """Store a workflow file's JSON: a new version of the stored one with its id, else a new one."""
        return await self.runtime.workflows.save(data, self.user)

    async def update_workflow(self, id: str, data: dict[str, Any]) -> WorkflowRecord:
        return await self.runtime.workflows.update(id, data, self.user)

    async def delete_workflow(self, id: str) -> None:
        await self.runtime.workflows.delete(id, self.user)

    async def export_n8n(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """Workflow JSON `data` as n8n's (DESIGN §10) and the report of what each node became; a credential
        is named as it is here (one this user cannot see, or gone, keeps its id as its name)."""
        from flowbox.n8n import to_n8n

        names: dict[str, str] = {}
        for raw in data.get("nodes") or []:
            for ref in ((raw.get("credentials") or {}) if isinstance(raw, dict) else {}).values():
                if isinstance(ref, str) and ref and ref not in names:
                    with contextlib.suppress(NotFound):
                        names[ref] = str((await self.get_credential(ref)).get("name") or ref)
        return to_n8n(data, credential_names=names)

    async def activate(self, id: str) -> WorkflowRecord:
        return await self.runtime.workflows.activate(id, self.user)

    async def deactivate(self, id: str) -> WorkflowRecord:
        return await self.runtime.workflows.deactivate(id, self.user)

    def catalog(self) -> list[dict[str, Any]]:
        """Every node type with its parameter schema (`/api/v1/nodes`, the editor's palette)."""
        from flowbox import registry

        return [spec.to_dict() for spec in registry.catalog()]

    # ---- executions
    async def list_executions(self, *, workflow_id: str | None = None, status: str | None = None,
                              limit: int = 50, cursor: str | None = None,
                              custom_data: dict[str, str] | None = None) -> Page[ExecutionRecord]:
        return await self.runtime.store.list_executions(workflow_id=workflow_id, status=status, limit=limit,
                                                        cursor=cursor, visible_to=visible_to(self.user),
                                                        custom_data=custom_data)

    async def get_execution(self, id: str) -> ExecutionRecord:
        record = await self.runtime.store.get_execution(id)
        if visible_to(self.user) is not None:  # a member sees executions of the workflows they may see
            try:
                await self.get_workflow(record.workflow_id or "")
            except NotFound:
                raise NotFound("execution", id) from None
        return record

    async def delete_execution(self, id: str) -> None:
        """Delete an execution that is not running (409 while it runs)."""
        record = await self.get_execution(id)
        if record.status == "running":
            raise Conflict(f"execution {id} is running; wait for it to finish before deleting it",
                           status=record.status)
        await self.runtime.store.delete_execution(id)
        await audit.record(self.runtime.store, "execution.delete", "execution", id, workflow=record.workflow_id,
                           status=record.status)

    async def run_workflow(self, id: str, input: Any = None, *, wait: bool = True, mode: str = "manual",
                           timeout: float = 300) -> ExecutionRecord:
        """POST /workflows/{id}/run: queue a run; with `wait`, return it finished (or as it is after `timeout`)."""
        workflow, _ = self.runtime.workflows.compiled(await self.get_workflow(id))
        execution = await self.runtime.runs.enqueue(workflow, parse_input(input), mode=mode)
        await audit.record(self.runtime.store, "execution.run", "execution", execution.id, workflow=id, mode=mode)
        if not wait:
            return execution
        return await self.runtime.runs.wait_for(execution.id, timeout)

    async def run_manual(self, data: dict[str, Any], *, input: Any = None, destination: str | None = None,
                         previous: str | None = None,
                         on_node_start: Callable[[str], Awaitable[None]] | None = None,
                         on_node_run: Callable[[RunData], Awaitable[None]] | None = None) -> ExecutionResult:
        """The editor's Run: the workflow as it is on the canvas (saved or not), run now with live events.

        `destination` runs only what leads to that node; nodes before it reuse their output from
        execution `previous` when it has some (else they run, or use their pinned data).
        """
        workflow = load_workflow(data, id=data.get("id"))
        specs = validate_for_run(workflow)
        await self.runtime.access.check_reach(workflow, self.user)
        replay: dict[str, list[list[Item]]] = {}
        if destination is not None and previous:
            with contextlib.suppress(NotFound):
                earlier = await self.get_execution(previous)
                for name in workflow.ancestors(destination) & set(earlier.nodes):
                    last = earlier.nodes[name][-1]
                    if last.error is None:
                        replay[name] = [make_items(output) for output in last.outputs]
        return await self.runtime.runs.run_manual(workflow, specs, parse_input(input), destination=destination,
                                                  replay=replay, on_node_start=on_node_start, on_node_run=on_node_run)

    async def run_here(self, workflow: Workflow, input: Any = None, *, base_dir: Path | None = None,
                       save: bool = True, on_node_run: Callable[[RunData], Awaitable[None]] | None = None
                       ) -> ExecutionResult:
        """`flowbox run`: `workflow` (from a file or the store) validated, then run now in this process;
        recorded unless `save` is false; audited either way."""
        validate_for_run(workflow)
        await self.runtime.access.check_reach(workflow, self.user)
        result = await self.runtime.runs.run_here(workflow, parse_input(input), base_dir=base_dir,
                                                  vault=lambda: self.runtime.vault,
                                                  files_dir=self.settings.files_dir, save=save,
                                                  on_node_run=on_node_run)
        await audit.record(self.runtime.store, "execution.run", "execution", result.execution_id,
                           workflow=workflow.id or workflow.name, mode="cli", status=result.status, saved=save)
        return result

    async def wait_for(self, execution_id: str, timeout: float = 300) -> ExecutionRecord:
        await self.get_execution(execution_id)
        return await self.runtime.runs.wait_for(execution_id, timeout)

    async def retry_execution(self, id: str, *, from_start: bool = False) -> ExecutionRecord:
        old = await self.get_execution(id)
        record = await self.runtime.runs.retry(old, from_start=from_start)
        await audit.record(self.runtime.store, "execution.retry", "execution", id, workflow=old.workflow_id,
                           from_start=from_start)
        return record

    async def stop_execution(self, id: str) -> ExecutionRecord:
        """Stop a running, queued or waiting execution (recorded "canceled"); as retrying, for whoever may see it."""
        old = await self.get_execution(id)
        record = await self.runtime.runs.stop_execution(id)
        await audit.record(self.runtime.store, "execution.stop", "execution", id, workflow=old.workflow_id)
        return record

    # ---- webhooks (callers from outside: no user)
    async def handle_webhook(self, method: str, path: str, request: WebhookRequest, *,
                             test: bool = False) -> WebhookReply:
        return await self.runtime.webhooks.handle(method, path, request, test=test)

    async def resume_waiting(self, execution_id: str, request: WebhookRequest) -> WebhookReply:
        await self.runtime.runs.resume(execution_id, request.item({}))
        return WebhookReply(200, {"executionId": execution_id, "status": "resumed"})

    async def listen_test(self, workflow_id: str, data: dict[str, Any] | None = None, timeout: float = 120) -> str:
        """Wait for one call to /webhook-test/<path> of this workflow (the editor's "listen"); its execution id."""
        stored = await self.get_workflow(workflow_id)
        workflow = load_workflow(stored.data if data is None else data, id=workflow_id)
        validate_for_run(workflow)
        await self.runtime.access.check_reach(workflow, self.user)
        return await self.runtime.webhooks.listen(workflow_id, workflow, timeout)

    # ---- variables
    async def get_variables(self) -> dict[str, str]:
        return await self.runtime.store.get_variables()

    def variables(self) -> dict[str, str]:
        """The variables as the engine has them (no store read: the editor's previews)."""
        return dict(self.runtime.engine.variables)

    async def set_variable(self, key: str, value: str) -> None:
        admin_only(self.user, "changing variables (every workflow reads them)")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key or ""):
            raise WorkflowInvalid(f"variable name {key!r} must be letters, digits and _ (not starting with a digit)",
                                  field="key")
        await self.runtime.store.set_variable(key, str(value))
        self.runtime.engine.variables[key] = str(value)

    async def delete_variable(self, key: str) -> None:
        admin_only(self.user, "deleting variables (every workflow reads them)")
        await self.runtime.store.delete_variable(key)
        self.runtime.engine.variables.pop(key, None)

    # ---- credentials
    def credential_types(self) -> list[dict[str, Any]]:
        return self.runtime.credentials.types()

    async def create_credential(self, name: Any, type: Any, data: Any) -> dict[str, Any]:
        return await self.runtime.credentials.create(name, type, data, self.user)

    async def get_credential(self, id: str) -> dict[str, Any]:
        return await self.runtime.credentials.get(id, self.user)

    async def list_credentials(self, *, type: str | None = None, limit: int = 50,
                               cursor: str | None = None) -> Page[dict[str, Any]]:
        return await self.runtime.credentials.list(type=type, limit=limit, cursor=cursor, user=self.user)

    async def update_credential(self, id: str, *, name: Any = None, data: Any = None) -> dict[str, Any]:
        return await self.runtime.credentials.update(id, name=name, data=data, user=self.user)

    async def delete_credential(self, id: str) -> None:
        await self.runtime.credentials.delete(id, self.user)

    async def test_credential(self, id: str, url: str | None = None) -> dict[str, Any]:
        return await self.runtime.credentials.test(id, url, self.user)

    async def oauth2_authorize(self, id: str, base_url: str | None = None) -> dict[str, Any]:
        return await self.runtime.credentials.oauth2_authorize(id, base_url, self.user)

    async def oauth2_callback(self, *, code: str | None, state: str | None, error: str | None = None,
                              error_description: str | None = None) -> dict[str, Any]:
        return await self.runtime.credentials.oauth2_callback(code=code, state=state, error=error,
                                                              error_description=error_description)

    # ---- users, keys, sessions
    async def auth_required(self) -> bool:
        return await self.runtime.accounts.auth_required()

    async def authenticate_key(self, key: str | None) -> Any:
        return await self.runtime.accounts.authenticate_key(key)

    async def authenticate_password(self, email: str, password: str) -> Any:
        return await self.runtime.accounts.authenticate_password(email, password)

    async def authenticate_session(self, token: str | None) -> Any:
        return await self.runtime.accounts.authenticate_session(token)

    async def create_user(self, email: Any, role: Any, password: Any) -> dict[str, Any]:
        return await self.runtime.accounts.create_user(email, role, password, self.user)

    async def list_users(self) -> list[dict[str, Any]]:
        return await self.runtime.accounts.list_users()

    async def update_user(self, id: str, *, role: Any = None, disabled: Any = None) -> dict[str, Any]:
        return await self.runtime.accounts.update_user(id, role=role, disabled=disabled, user=self.user)

    async def set_password(self, id: str, password: Any) -> None:
        await self.runtime.accounts.set_password(id, password, self.user)

    async def delete_user(self, id: str, *, transfer_to: str | None = None) -> dict[str, int]:
        return await self.runtime.accounts.delete_user(id, transfer_to=transfer_to, user=self.user)

    async def user_by_email(self, email: str) -> dict[str, Any]:
        """One user by email (admins and owners; the CLI names users by email)."""
        from flowbox.auth import user_json

        admin_only(self.user, "looking up users")
        return user_json(await self.runtime.store.get_user_by_email(email))

    async def create_api_key(self, email: str, name: str = "") -> tuple[str, dict[str, Any]]:
        return await self.runtime.accounts.create_api_key(email, name, self.user)

    async def list_api_keys(self) -> list[dict[str, Any]]:
        return await self.runtime.accounts.list_api_keys(self.user)

    async def delete_api_key(self, id: str) -> None:
        await self.runtime.accounts.delete_api_key(id, self.user)

    async def login(self, email: Any, password: Any, *, ip: str | None = None,
                    user_agent: str | None = None) -> tuple[str, Any, Any]:
        return await self.runtime.accounts.login(email, password, ip=ip, user_agent=user_agent)

    async def logout(self, token: str | None) -> None:
        await self.runtime.accounts.logout(token)

    async def setup_owner(self, email: Any, password: Any) -> dict[str, Any]:
        return await self.runtime.accounts.setup_owner(email, password)

    # ---- sharing and the audit log
    async def get_sharing(self, kind: str, id: str) -> dict[str, Any]:
        return await self.runtime.access.sharing(kind, id, self.user)

    async def set_sharing(self, kind: str, id: str, user_ids: Any) -> dict[str, Any]:
        return await self.runtime.access.share(kind, id, user_ids, self.user)

    async def list_audit(self, *, action: str | None = None, actor: str | None = None, limit: int = 50,
                         cursor: str | None = None) -> Page[Any]:
        """Audit entries, newest first (`action` exact or a "prefix*"); owners and admins only."""
        admin_only(self.user, "the audit log")
        return await self.runtime.store.list_audit(action=action, actor=actor, limit=limit, cursor=cursor)

    async def audit(self, action: str, kind: str | None, id: str | None, **details: Any) -> None:
        """Record `action` by the current actor (`flowbox.audit.current_actor`); never raises."""
        await audit.record(self.runtime.store, action, kind, id, **details)
