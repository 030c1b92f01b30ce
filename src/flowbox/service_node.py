"""Declarative REST-service nodes: a service described as data becomes a regular `@node` (issue 7).

A service node module is one call::

    service_node(Service(
        type="github", display_name="GitHub", icon="code", description="Issues and repositories on GitHub",
        base_url="https://api.github.com", credentials=["githubApi"],
        headers={"Accept": "application/vnd.github+json"},
        resources={"issue": [
            Operation("get", "GET", "/repos/{owner}/{repo}/issues/{issueNumber}", "Get an issue",
                      params=[Param("owner", "string", required=True), ...]),
            Operation("list", "GET", "/repos/{owner}/{repo}/issues", "List issues",
                      params=[...], query={"state": "{state}"}, items="",
                      pagination=Pagination("link", size_param="per_page")),
        ]},
    ))

The model:

- `Service`: base URL, constant headers, the credential types that may sign its requests
  (`Auth`: a type registered in `flowbox.credentials`, whose own `sign` kind — header, query,
  basic, bearer, oauth2 — is applied, plus optional header/query templates such as
  `{"Authorization": "Bot {credential.token}"}`), resources mapping to operations, and how the
  service reports errors (`error_paths`, `ok_field` for services that answer 200 with
  `{"ok": false}`, `auth_errors` naming the error codes that mean the credential was refused,
  `retry_after_path` for a wait given in the body).
- `Operation`: method, path template, node parameters, how they map to the query and the body
  (`body_type` "json" or "form"), where the result is (`items`: the path of a list, one output item
  per element, "" when the body is the list; `output`: the path of one object; neither: the whole
  body) and its `Pagination`.
- Templates: `{name}` is the node parameter `name` evaluated for the item, `{credential.field}` a
  field of the signing credential. In the path each value is URL-quoted; in a base URL it is used as
  is. In `query` and `body` a value that is one placeholder keeps its type (lists, objects, numbers)
  and is left out when empty; other strings are text; non-strings are constants. A `body` key with
  dots nests (`"parent.database_id"`); the key `MERGE` ("*") merges an object parameter's keys.
  Form bodies nest objects and lists as `key[sub]=value` (Stripe style).
- `Pagination` kinds: "cursor" (the next cursor at response path `next`, or the field `next_from_item`
  of the last item, sent back as `param`; `has_more` names a boolean that says whether more follow),
  "offset" (`param` counts items), "page" (`param` counts pages from `first`), "link" (the Link
  header's rel="next" URL). A paginated operation gets the parameters `returnAll` and `limit`.

The generated node has the parameters `authentication` (when the service has several credential
types), `resource`, `operation` (every operation name of the service; the pair must exist) and each
operation's parameters, shown only for the resource/operation pairs that use them (`showIf`).
Input items are handled one at a time through the context's HTTP client; failures follow `onError`.

An `oAuth2Api` credential from the store (a `flowbox.oauth2.Session`) sends a token kept valid by
`Session.token()`; after a 401 the token is renewed once and the request sent again.

Errors: 401/403 (and an `auth_errors` code) -> "credential rejected by <Service>: <message>";
404 -> "not found"; 429 -> waits Retry-After (or `retry_after_path`, at most `MAX_RETRY_WAIT` s) and
retries up to `max_retries` times; any other status -> the status and the service's message.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from flowbox.credentials import TYPES, get_type, scrub
from flowbox.errors import FlowboxError
from flowbox.node import Context, Item, ItemErrors, NodeFunction, Param, get_path, node, set_path
from flowbox.nodes.http_request import MAX_RETRY_WAIT, _flag, _pairs, _retry_wait, _snippet, _text
from flowbox.oauth2 import Session as OAuth2Session

MERGE = "*"
PAGINATION_KINDS = ("cursor", "offset", "page", "link")
RESERVED = ("authentication", "resource", "operation")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")


@dataclass(frozen=True)
class Auth:
    """How one credential type signs a service's requests: its own `sign` kind plus these templates."""

    type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Pagination:
    """How a list operation pages (see the module docstring for the kinds)."""

    kind: str
    param: str = ""
    next: str = ""
    next_from_item: str = ""
    has_more: str = ""
    size_param: str = ""
    max_size: int = 100
    in_body: bool = False
    first: int = 1

    def __post_init__(self) -> None:
        if self.kind not in PAGINATION_KINDS:
            raise ValueError(f"pagination kind must be one of {', '.join(PAGINATION_KINDS)}, got {self.kind!r}")
        if self.kind != "link" and not self.param:
            raise ValueError(f"{self.kind} pagination needs `param` (the request parameter it sets)")
        if self.kind == "cursor" and not (self.next or self.next_from_item):
            raise ValueError("cursor pagination needs `next` or `next_from_item`")


Shape = Callable[[Any, Mapping[str, Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Operation:
    """One request a service node can make; `params` are its node parameters."""

    name: str
    method: str
    path: str
    description: str = ""
    params: Sequence[Param] = ()
    query: Mapping[str, Any] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)
    body_type: str = "json"
    headers: Mapping[str, str] = field(default_factory=dict)
    items: str | None = None
    output: str | None = None
    pagination: Pagination | None = None
    credentials: Sequence[str] = ()
    base_url: str | None = None
    shape: Shape | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        object.__setattr__(self, "params", tuple(self.params) + _paging_params(self.pagination))
        object.__setattr__(self, "credentials", tuple(self.credentials))
        if self.body_type not in ("json", "form"):
            raise ValueError(f"operation {self.name!r}: body_type must be json or form")


@dataclass(frozen=True)
class Service:
    """A REST service: where it is, how requests are signed, its operations and its error conventions."""

    type: str
    display_name: str
    description: str
    icon: str
    base_url: str
    resources: Mapping[str, Sequence[Operation]]
    credentials: Sequence[str | Auth] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    group: str = "integration"
    ok_field: str = ""
    error_paths: Sequence[str] = ("error.message", "message", "error")
    auth_errors: Sequence[str] = ()
    retry_after_path: str = ""
    max_retries: int = 3
    timeout: float = 60.0

    def __post_init__(self) -> None:
        auths = tuple(a if isinstance(a, Auth) else Auth(a) for a in self.credentials)
        object.__setattr__(self, "credentials", auths)
        object.__setattr__(self, "resources", {r: tuple(ops) for r, ops in self.resources.items()})
        if not self.resources or not all(self.resources.values()):
            raise ValueError(f"service {self.type}: every resource needs at least one operation")

    @property
    def auth_types(self) -> tuple[str, ...]:
        return tuple(a.type for a in self.credentials)  # type: ignore[union-attr]

    def operation(self, resource: str, name: str) -> Operation | None:
        return next((op for op in self.resources.get(resource, ()) if op.name == name), None)


def _paging_params(pagination: Pagination | None) -> tuple[Param, ...]:
    if pagination is None:
        return ()
    return (Param("returnAll", "boolean", default=False, description="Fetch every page (otherwise stop at 'limit')"),
            Param("limit", "number", default=50, min=1, integer=True, show_if={"returnAll": [False]},
                  description="How many items to return at most"))


# ---------------------------------------------------------------- the node


def service_node(service: Service, module: str | None = None) -> NodeFunction:
    """Declare the node of `service` (registered like any `@node`); `module` defaults to the caller's."""
    _check(service)
    module = module or sys._getframe(1).f_globals.get("__name__", __name__)

    async def run(ctx: Context, items: list[Item]) -> list[list[Item]]:
        out: list[Item] = []
        errors = ItemErrors(ctx)
        credentials: dict[str, dict[str, Any]] = {}
        for i, item in enumerate(items):
            try:
                results = await Call(service, ctx, i, credentials).run()
            except Exception as exc:  # one item failing is routed by onError, the others still run
                errors.fail(item, i, exc, out)
                continue
            out.extend(item.derive(r, binary=None) for r in results)
        return errors.outputs(out)

    run.__module__ = module
    run.__name__ = run.__qualname__ = service.type
    run.service = service  # type: ignore[attr-defined]
    return node(type=service.type, display_name=service.display_name, group=service.group,
                description=service.description, icon=service.icon, credentials=service.auth_types,
                params=node_params(service))(run)


def node_params(service: Service) -> list[Param]:
    """The generated parameters: authentication?, resource, operation, then each operation's (with showIf)."""
    resources = list(service.resources)
    first = service.resources[resources[0]][0]
    names = list(dict.fromkeys(op.name for ops in service.resources.values() for op in ops))
    out = []
    if len(service.auth_types) > 1:
        out.append(Param("authentication", "options", default=service.auth_types[0], options=service.auth_types,
                         required=True, description="The credential type that signs the requests"))
    out.append(Param("resource", "options", default=resources[0], options=resources, required=True))
    out.append(Param("operation", "options", default=first.name, options=names, required=True,
                     description="; ".join(f"{r}: {', '.join(op.name for op in ops)}"
                                           for r, ops in service.resources.items())))
    params: dict[str, Param] = {}
    uses: dict[str, list[tuple[str, str]]] = {}
    for resource, ops in service.resources.items():
        for op in ops:
            for p in op.params:
                if p.name in RESERVED:
                    raise ValueError(f"service {service.type}: parameter name {p.name!r} is reserved")
                if p.name in params and params[p.name] != p:
                    raise ValueError(f"service {service.type}: parameter {p.name!r} is declared twice differently "
                                     f"(in {uses[p.name][0]} and {(resource, op.name)}); share one or rename one")
                params.setdefault(p.name, p)
                uses.setdefault(p.name, []).append((resource, op.name))
    for name, p in params.items():
        shown = _show_if(service, name, uses[name])
        out.append(replace(p, show_if={**shown, **(p.show_if or {})} or None))
    return out


def _show_if(service: Service, name: str, used: list[tuple[str, str]]) -> dict[str, list[str]]:
    """{resource: [...], operation: [...]} selecting exactly the pairs in `used` (empty when all use it)."""
    pairs = {(r, op.name) for r, ops in service.resources.items() for op in ops}
    if set(used) == pairs:
        return {}
    resources = list(dict.fromkeys(r for r, _ in used))
    operations = list(dict.fromkeys(o for _, o in used))
    if {(r, o) for r in resources for o in operations} & pairs != set(used):
        raise ValueError(f"service {service.type}: parameter {name!r} is used by {sorted(set(used))}, which a "
                         "showIf on resource and operation cannot single out; rename it in some of them")
    return {"resource": resources, "operation": operations}


def _check(service: Service) -> None:
    """Refuse a definition whose templates name a parameter the operation does not have."""
    for resource, ops in service.resources.items():
        for op in ops:
            names = {p.name for p in op.params}
            texts = [service.base_url, op.base_url or "", op.path, *service.headers.values(), *op.headers.values(),
                     *(v for v in (*op.query.values(), *op.body.values()) if isinstance(v, str))]
            for auth in service.credentials:
                texts += [*auth.headers.values(), *auth.query.values()]  # type: ignore[union-attr]
            for text in texts:
                for ref in _PLACEHOLDER.findall(text):
                    if ref not in names and not ref.startswith("credential."):
                        raise ValueError(f"service {service.type}: {resource} {op.name} refers to {{{ref}}}, "
                                         f"which is not one of its parameters ({', '.join(sorted(names))})")
            for type_ in op.credentials:
                if type_ not in service.auth_types:
                    raise ValueError(f"service {service.type}: {resource} {op.name} names credential type "
                                     f"{type_!r}, which the service does not list")


# ---------------------------------------------------------------- one item's call


class Call:
    """One input item's request(s) for a service node: build, sign, send, page, map errors."""

    def __init__(self, service: Service, ctx: Context, i: int, credentials: dict[str, dict[str, Any]]) -> None:
        self.service = service
        self.ctx = ctx
        self.i = i
        self.cache = credentials
        self.credential: dict[str, Any] = {}
        self.auth: Auth | None = None
        self.values: dict[str, Any] = {}
        self.where = service.display_name

    def fail(self, message: str, description: str | None = None) -> Exception:
        """A node error for this item, with any secret of the credential masked."""
        if self.auth is not None and self.auth.type in TYPES:
            message = scrub(message, self.credential, TYPES[self.auth.type])
        return self.ctx.error(message, self.i, description)

    async def run(self) -> list[dict[str, Any]]:
        svc, ctx, i = self.service, self.ctx, self.i
        resource, name = ctx.param("resource", i) or "", ctx.param("operation", i) or ""
        op = svc.operation(resource, name)
        if op is None:
            known = ", ".join(o.name for o in svc.resources.get(resource, ()))
            raise self.fail(f"{svc.display_name} has no operation {name!r} for resource {resource!r}"
                            + (f" (its operations: {known})" if known else
                               f" (resources: {', '.join(svc.resources)})"))
        self.where = f"{svc.display_name} {resource} {name}"
        self.values = {p.name: _coerce(p, ctx.param(p.name, i)) for p in op.params}
        await self._sign_with(op)
        return await self._collect(op)

    async def _sign_with(self, op: Operation) -> None:
        svc = self.service
        if not svc.credentials:
            return
        chosen = str(self.ctx.param("authentication", self.i) or svc.auth_types[0]) \
            if len(svc.auth_types) > 1 else svc.auth_types[0]
        allowed = op.credentials or svc.auth_types
        if chosen not in allowed:
            raise self.fail(f"{self.where} signs with a {' or '.join(allowed)} credential: set 'authentication' "
                            f"to {allowed[0]}")
        self.auth = next(a for a in svc.credentials if a.type == chosen)  # type: ignore[union-attr]
        if chosen not in self.cache:
            data = await self.ctx.credential(chosen)
            if not data:
                raise self.fail(f"{svc.display_name} needs a {chosen} credential: choose one in the node's "
                                "credentials")
            self.cache[chosen] = data
        self.credential = self.cache[chosen]

    # ---- templates
    def lookup(self, ref: str) -> Any:
        """A placeholder's value: `credential.<field>` (falling back to the field's default) or a parameter."""
        if ref.startswith("credential."):
            key = ref.split(".", 1)[1]
            value = self.credential.get(key)
            ctype = TYPES.get(self.auth.type) if self.auth else None
            spec = ctype.field(key) if ctype else None
            return spec.default if value in (None, "") and spec else value
        return self.values.get(ref)

    def fill(self, template: str, *, quote_values: bool = False) -> str:
        def piece(match: re.Match[str]) -> str:
            ref = match.group(1)
            text = _text(self.lookup(ref)).strip() if quote_values else _text(self.lookup(ref))
            if quote_values and not text:
                raise self.fail(f"{self.where}: parameter '{ref}' is empty")
            return quote(text, safe="") if quote_values else text

        return _PLACEHOLDER.sub(piece, template)

    def mapped(self, mapping: Mapping[str, Any]) -> dict[str, Any]:
        """`query`/`body` with its templates filled: empty placeholders left out, dotted keys nested."""
        out: dict[str, Any] = {}
        for key, spec in mapping.items():
            whole = None
            if isinstance(spec, str):
                whole = _PLACEHOLDER.fullmatch(spec)
                value = self.lookup(whole.group(1)) if whole else self.fill(spec)
                if whole and value in (None, "", [], {}):
                    continue
            else:
                value = spec
            if key == MERGE:
                ref = whole.group(1) if whole else key
                try:
                    extra = _pairs(value, ref)
                except ValueError as exc:
                    raise self.fail(f"{self.where}: {exc}") from None
                for k, v in extra.items():
                    out = set_path(out, k, v)
            else:
                out = set_path(out, key, value)
        return out

    # ---- requests
    async def _collect(self, op: Operation) -> list[dict[str, Any]]:
        """Send the operation, following pages until the end or `limit`."""
        paging = op.pagination
        return_all = paging is not None and _flag(self.values.get("returnAll"))
        limit = None
        if paging is not None and not return_all:
            try:
                limit = max(1, int(float(self.values.get("limit") or 1)))
            except (TypeError, ValueError):
                raise self.fail(f"{self.where}: parameter 'limit' must be a number, "
                                f"got {self.values.get('limit')!r}") from None
        base = self.fill(op.base_url if op.base_url is not None else self.service.base_url).rstrip("/")
        url = base + self.fill(op.path, quote_values=True)
        query, body = self.mapped(op.query), self.mapped(op.body)
        headers = {k: self.fill(v) for k, v in {**self.service.headers, **op.headers}.items()}
        if self.auth is not None:
            headers.update({k: self.fill(v) for k, v in self.auth.headers.items()})
            query.update({k: self.fill(v) for k, v in self.auth.query.items()})
            if isinstance(self.credential, OAuth2Session):
                headers["Authorization"] = f"Bearer {await self._token()}"
            elif self.auth.type in TYPES:
                try:
                    get_type(self.auth.type).sign_request(self.credential, headers, query)
                except Exception as exc:
                    raise self.fail(f"{self.where}: {exc}") from None
        results: list[dict[str, Any]] = []
        state: Any = paging.first if paging and paging.kind == "page" else None
        size = 0
        seen: set[str] = set()
        next_url: str | None = None
        while True:
            if paging is not None and next_url is None:
                size = paging.max_size if limit is None else min(paging.max_size, limit - len(results))
                target = body if paging.in_body else query
                if paging.size_param:
                    target[paging.size_param] = size
                if state is not None:
                    target[paging.param] = state
            response, data = await self._send(op, next_url or url, None if next_url else query, headers, body)
            page = self._results(op, data)
            results.extend(page)
            if paging is None or (limit is not None and len(results) >= limit):
                return results[:limit] if limit is not None else results
            if paging.kind == "link":
                next_url = self._next_link(response, base)
                if not next_url:
                    return results
                continue
            if not page or (paging.has_more and not get_path(data, paging.has_more)):
                return results
            if paging.kind == "cursor":
                cursor = get_path(data, paging.next) if paging.next else page[-1].get(paging.next_from_item)
                if cursor in (None, ""):
                    return results
                if str(cursor) in seen:
                    raise self.fail(f"{self.where}: the service returned the same page cursor twice; "
                                    "stopping instead of looping")
                seen.add(str(cursor))
                state = cursor
            elif len(page) < size:
                return results
            else:
                state = (state or 0) + len(page) if paging.kind == "offset" else state + 1

    def _next_link(self, response: Any, base: str) -> str | None:
        """The Link header's rel="next" URL; refused when it leaves the service's host (it carries the credential)."""
        nxt = (response.links.get("next") or {}).get("url")
        if not nxt:
            return None
        if urlsplit(nxt).netloc != urlsplit(base).netloc:
            raise self.fail(f"{self.where}: the next page is on another host ({urlsplit(nxt).netloc}); not following")
        return str(nxt)

    async def _send(self, op: Operation, url: str, query: dict[str, Any] | None, headers: dict[str, str],
                    body: dict[str, Any]) -> tuple[Any, Any]:
        """One request (retrying 429s); the response and its decoded JSON body, or a mapped error."""
        import httpx

        content = None
        if op.method in ("POST", "PUT", "PATCH") or body:
            if op.body_type == "form":
                content = urlencode(_form_pairs(body)).encode()
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            else:
                content = json.dumps(body, default=_text).encode()
                headers.setdefault("Content-Type", "application/json")
        try:
            target = httpx.URL(url)
            if query:
                target = target.copy_merge_params({k: v if isinstance(v, list) else _text(v) for k, v in query.items()})
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise self.fail(f"{self.where}: invalid URL: {exc}") from None
        response = await self._retrying(op, target, headers, content)
        if response.status_code == 401 and isinstance(self.credential, OAuth2Session):  # renew once, send again
            headers["Authorization"] = f"Bearer {await self._token(headers['Authorization'][len('Bearer '):])}"
            response = await self._retrying(op, target, headers, content)
        data = _decode(response)
        self._raise_for(response, data)
        if response.content.strip() and data is _NOT_JSON:
            raise self.fail(f"{self.where}: the answer is not JSON: {_snippet(response.text)}")
        return response, None if data is _NOT_JSON else data

    async def _retrying(self, op: Operation, target: Any, headers: dict[str, str], content: bytes | None) -> Any:
        """Send one request, waiting and retrying while the service answers 429 (at most `max_retries`)."""
        import httpx

        svc = self.service
        for attempt in range(svc.max_retries + 1):
            try:
                response = await self.ctx.http.request(op.method, target, headers=headers, content=content,
                                                       timeout=httpx.Timeout(svc.timeout))
            except httpx.TimeoutException:
                raise self.fail(f"{self.where}: no answer from {svc.display_name} within {svc.timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise self.fail(f"{self.where}: could not reach {svc.display_name} ({target.host}): "
                                f"{exc or type(exc).__name__}") from None
            if response.status_code != 429 or attempt == svc.max_retries:
                break
            await self.ctx.sleep(retry_wait(svc, response, attempt))
        return response

    async def _token(self, refused: str | None = None) -> str:
        """A valid access token of the oauth2 credential (renewed when expiring, or after the service refused it)."""
        try:
            return await self.credential.token(refused=refused)  # type: ignore[attr-defined]
        except FlowboxError as exc:
            what = f"credential rejected by {self.service.display_name}" if refused else self.where
            raise self.fail(f"{what}: {exc.message}") from None

    def _raise_for(self, response: Any, data: Any) -> None:
        """Map an HTTP error status, or a 200 with `ok: false`, to a node error."""
        svc, status = self.service, response.status_code
        message = service_message(svc, data, response)
        description = f"{svc.display_name} answered HTTP {status}"
        if 200 <= status < 300:
            if not (svc.ok_field and isinstance(data, dict) and data.get(svc.ok_field) is False):
                return
            if message in svc.auth_errors:
                raise self.fail(f"credential rejected by {svc.display_name}: {message}", description)
            raise self.fail(f"{self.where} failed: {message}", description)
        if status in (401, 403):
            raise self.fail(f"credential rejected by {svc.display_name}: {message}", description)
        if status == 404:
            raise self.fail(f"{self.where}: not found (404): {message}", description)
        if status == 429:
            raise self.fail(f"{self.where}: rate limited by {svc.display_name} (429) after {svc.max_retries} "
                            f"retries: {message}", description)
        raise self.fail(f"{self.where} failed with status {status} {response.reason_phrase}: {message}".rstrip(": "),
                        description)

    def _results(self, op: Operation, data: Any) -> list[dict[str, Any]]:
        """The output items of one response, per the operation's `shape`, `items` or `output`."""
        if op.shape is not None:
            return op.shape(data, self.values)
        if op.items is not None:
            found = data if op.items == "" else get_path(data, op.items)
            if found is None:
                return []
            if not isinstance(found, list):
                raise self.fail(f"{self.where}: expected a list at {op.items or 'the top'} of the answer, "
                                f"got {type(found).__name__}")
            return [e if isinstance(e, dict) else {"data": e} for e in found]
        if op.output is not None:
            found = get_path(data, op.output)
            if found is None:
                raise self.fail(f"{self.where}: the answer has no {op.output!r}: {_snippet(json.dumps(data))}")
            data = found
        if data is None:
            return [{}]
        if isinstance(data, list):
            return [e if isinstance(e, dict) else {"data": e} for e in data]
        return [data if isinstance(data, dict) else {"data": data}]


# ---------------------------------------------------------------- helpers

_NOT_JSON = object()


def _decode(response: Any) -> Any:
    if not response.content.strip():
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return _NOT_JSON


def service_message(service: Service, data: Any, response: Any) -> str:
    """The service's own error text: the first string at one of its `error_paths`, else the body's start."""
    if isinstance(data, dict):
        for path in service.error_paths:
            value = get_path(data, path)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return _snippet(response.text) or response.reason_phrase


def retry_wait(service: Service, response: Any, attempt: int) -> float:
    """Seconds before retrying a 429: the Retry-After header, else the body's wait, else a backoff; capped."""
    if not response.headers.get("retry-after") and service.retry_after_path:
        data = _decode(response)
        value = get_path(data, service.retry_after_path) if isinstance(data, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return max(0.0, min(float(value), MAX_RETRY_WAIT))
    return _retry_wait(response, attempt)


def _coerce(param: Param, value: Any) -> Any:
    """A json parameter given as JSON text becomes its value; a whole float number an int (`5.0` -> 5)."""
    if param.kind == "number" and isinstance(value, float) and value.is_integer():
        return int(value)
    if param.kind == "json" and isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _form_pairs(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Form fields with objects and lists nested as `key[sub]` / `key[0]` (Stripe's encoding)."""
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out += _form_pairs(v, f"{prefix}[{k}]" if prefix else str(k))
        return out
    if isinstance(value, list):
        out = []
        for n, v in enumerate(value):
            out += _form_pairs(v, f"{prefix}[{n}]")
        return out
    return [(prefix, _text(value))]
