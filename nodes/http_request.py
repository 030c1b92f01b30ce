"""HTTP Request: one request per input item, the response as items (DESIGN §5, credentials §8).

An oAuth2Api credential sends its access token as a bearer token, renewed a minute before it
expires and once after a 401 (then the request is sent again); see `flowbox.oauth2`.

httpx is imported only when the node runs; requests share `ctx.http` and run at most
`CONCURRENCY` at a time, output kept in input order. A failing item fails the node
(onError "stop"), becomes `{"error": ...}` ("continue") or goes to the error output
("errorOutput") while the other items still succeed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import re
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from flowbox.errors import FlowboxError
from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params, json_value, pairs
from flowbox.oauth2 import Session as OAuth2Session

CONCURRENCY = 10
MAX_RETRY_WAIT = 30.0
BODY_METHODS = ["POST", "PUT", "PATCH", "DELETE"]
AUTH_TYPES = ["httpHeaderAuth", "httpBasicAuth", "httpBearerAuth", "httpQueryAuth", "oAuth2Api"]


class RequestFailed(ValueError):
    """One item's request failed; the message is what the user sees."""


_BODY_TYPES = {"json": "json", "form-urlencoded": "form", "raw": "raw"}


def _http_v4(p: Params, out: dict[str, Any]) -> None:
    """v4.x: `sendQuery`/`sendHeaders`/`sendBody` with name/value rows or JSON, `contentType`."""
    for part, name in (("Query", "query"), ("Headers", "headers")):
        if p.take(f"send{part}", False):
            if p.take(f"specify{part}", "keypair") == "json":
                out[name] = json_value(p.take(f"json{part}", "{}"), f"json{part}")
            else:
                out[name] = pairs(p.take(f"{'query' if part == 'Query' else 'header'}Parameters", {}),
                                  f"{name}Parameters")
    if p.take("sendBody", False):
        kind = p.take("contentType", "json")
        if kind not in _BODY_TYPES:
            p.unsupported(f"body contentType {kind!r} is not supported")
        out["bodyType"] = _BODY_TYPES.get(kind, "json")
        if kind == "raw":
            out["body"], out["contentType"] = p.take("body", ""), p.take("rawContentType", "text/plain")
        elif p.take("specifyBody", "keypair") == "json":
            out["body"] = json_value(p.take("jsonBody", "{}"), "jsonBody")
        else:
            out["body"] = pairs(p.take("bodyParameters", {}), "bodyParameters")
    options = p.options("options", ("timeout", "response", "redirect"))
    redirect = ((options.get("redirect") or {}).get("redirect") or {})
    if redirect.get("followRedirects") is False or "maxRedirects" in redirect:
        p.unsupported("redirect settings are not supported (flowbox's HTTP client policy applies)")
    response = ((options.get("response") or {}).get("response") or {})
    out["fullResponse"] = bool(response.get("fullResponse", False))
    out["ignoreHttpStatusErrors"] = bool(response.get("neverError", False))
    fmt = response.get("responseFormat", "autodetect")
    if fmt in ("text", "file"):
        out["response"] = "text" if fmt == "text" else "binary"
    elif fmt == "autodetect":
        p.approximated("responseFormat autodetect reads the answer as JSON: a non-JSON answer fails the node "
                       "(n8n gives {\"data\": text}); set the response to text if the API answers text")
    elif fmt != "json":
        p.unsupported(f"responseFormat {fmt!r} is not supported")
    if "timeout" in options:
        out["timeout"] = options["timeout"] / 1000


def _http_v1(p: Params, out: dict[str, Any]) -> None:
    """v1-v3: `requestMethod`, `responseFormat`, `jsonParameters` with `*ParametersUi` rows or JSON text."""
    out["method"] = p.take("requestMethod", "GET")
    fmt = p.take("responseFormat", "json")
    if fmt not in ("json", "string", "file"):
        p.unsupported(f"responseFormat {fmt!r} is not supported")
    out["response"] = {"string": "text", "file": "binary"}.get(fmt, "json")
    p.ignore("dataPropertyName")
    as_json = p.take("jsonParameters", False)
    for name, prefix in (("query", "queryParameters"), ("headers", "headerParameters"), ("body", "bodyParameters")):
        ui = f"{prefix}Ui"
        if as_json:
            text = p.take(f"{prefix}Json", "")
            if text:
                out[name] = json_value(text, name)
        elif p.raw.get(ui):
            out[name] = pairs(p.take(ui), ui, "parameter")
    options = p.options("options", ("timeout", "fullResponse", "ignoreResponseCode", "bodyContentType"))
    if options.get("bodyContentType", "raw") not in ("raw", "form-urlencoded", "json"):
        p.unsupported(f"bodyContentType {options['bodyContentType']!r} is not supported")
    if options.get("bodyContentType") == "form-urlencoded":
        out["bodyType"] = "form"
    out["fullResponse"] = bool(options.get("fullResponse", False))
    out["ignoreHttpStatusErrors"] = bool(options.get("ignoreResponseCode", False))
    if "timeout" in options:
        out["timeout"] = options["timeout"] / 1000


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's HTTP Request v1-v4.x: method, URL, query, headers, body (JSON, form or raw), timeout, response
    format, full response, never error. Predefined credential types, pagination, batching, proxies and
    multipart bodies are not supported."""
    p = Params(params, version)
    out: dict[str, Any] = {"method": p.take("method", "GET"), "url": p.take("url", "")}
    auth = p.take("authentication", "none")
    if auth == "genericCredentialType":
        kind = p.take("genericAuthType", "")
        if kind not in AUTH_TYPES:
            p.unsupported(f"credential type {kind!r} is not supported")
        out["authentication"] = kind if kind in AUTH_TYPES else "none"
    elif auth in AUTH_TYPES:
        out["authentication"] = auth
    elif auth != "none":
        p.unsupported(f"authentication {auth!r} is not supported")
        p.ignore("nodeCredentialType")
    (_http_v4 if version >= 4 else _http_v1)(p, out)
    p.ignore("provideSslCertificates", "infoMessage")
    return p.done(out)


def _rows_or_json(values: dict[str, Any], part: str, rows_key: str) -> dict[str, Any]:
    """HTTP Request v4's `send<part>` parameters: name/value rows when every value is one text or number,
    else the JSON text."""
    if all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values.values()):
        return {f"send{part}": True, rows_key: {"parameters": [{"name": k, "value": v} for k, v in values.items()]}}
    return {f"send{part}": True, f"specify{part}": "json", f"json{part}": json.dumps(values, ensure_ascii=False)}


def to_n8n(params: dict[str, Any], version: float | None) -> tuple[dict[str, Any], float, N8nNotes]:
    """The inverse of `from_n8n`: HTTP Request v4.2 (generic credential types, rows or JSON, options)."""
    notes: N8nNotes = []
    out: dict[str, Any] = {"method": params.get("method", "GET"), "url": params.get("url", "")}
    if params.get("authentication", "none") != "none":
        out.update(authentication="genericCredentialType", genericAuthType=params["authentication"])
    if params.get("query"):
        out.update(_rows_or_json(params["query"], "Query", "queryParameters"))
    if params.get("headers"):
        out.update(_rows_or_json(params["headers"], "Headers", "headerParameters"))
    body, kind = params.get("body"), params.get("bodyType", "json")
    if body is not None:
        out.update(sendBody=True, contentType={v: k for k, v in _BODY_TYPES.items()}[kind])
        if kind == "raw":
            out.update(body=body, rawContentType=params.get("contentType", "text/plain"))
        elif kind == "form" and isinstance(body, dict):
            out["bodyParameters"] = {"parameters": [{"name": k, "value": v} for k, v in body.items()]}
        else:
            out.update(specifyBody="json",
                       jsonBody=body if isinstance(body, str) else json.dumps(body, ensure_ascii=False))
    response = {"fullResponse": bool(params.get("fullResponse")),
                "neverError": bool(params.get("ignoreHttpStatusErrors")),
                "responseFormat": {"text": "text", "binary": "file"}.get(params.get("response", "json"), "json")}
    options: dict[str, Any] = {"response": {"response": response}}
    if "timeout" in params:
        options["timeout"] = params["timeout"] * 1000
    if params.get("retries"):
        notes.append(("approximated", f"retries {params['retries']}: n8n's node settings retry on any failure "
                                      "(retryOnFail) instead"))
    out["options"] = options
    return out, 4.2, notes


N8N = N8n(types=("n8n-nodes-base.httpRequest",), versions=(1, 2, 3, 4, 4.1, 4.2), convert=from_n8n,
          export=to_n8n)


@node(n8n=N8N,
    type="httpRequest", display_name="HTTP Request", group="integration", icon="globe",
    description="Make an HTTP request per item and output the response",
    credentials=AUTH_TYPES,
    params=[
        Param("method", "options", default="GET", required=True,
              options=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
        Param("url", "string", default="", required=True, placeholder="https://example.com/api",
              description="Absolute http:// or https:// URL"),
        Param("authentication", "options", default="none", options=["none", *AUTH_TYPES],
              description="Sign the request with the node's credential of this type"),
        Param("query", "json", default={}, description="Query parameters {name: value} (a list value repeats the name)"),
        Param("headers", "json", default={}, description="Request headers {name: value}"),
        Param("bodyType", "options", default="json", options=["json", "form", "raw"],
              show_if={"method": BODY_METHODS}),
        Param("body", "json", default=None, show_if={"method": BODY_METHODS},
              description="json: any JSON value; form: {field: value} sent url-encoded; raw: text sent as is"),
        Param("contentType", "string", default="text/plain", show_if={"bodyType": ["raw"]},
              description="Content-Type of a raw body"),
        Param("timeout", "number", default=30, min=0, max=86_400, description="Seconds to wait for the response (0: no limit)"),
        Param("response", "options", default="json", options=["json", "text", "binary"],
              description="json: a JSON object gives one item, a JSON list one item per element "
                          "(non-object elements as {\"data\": value}); text: {\"data\": text}; "
                          "binary: the body in binary property \"data\""),
        Param("fullResponse", "boolean", default=False,
              description="Output {statusCode, headers, body} instead of the body alone (a list body stays one item)"),
        Param("ignoreHttpStatusErrors", "boolean", default=False,
              description="Output non-2xx responses instead of failing"),
        Param("retries", "number", default=0, min=0, max=10, integer=True,
              description="Retries after a connection error, a timeout, a 5xx or a 429 "
                          f"(backoff 0.5 s doubling, Retry-After honoured up to {MAX_RETRY_WAIT:g} s)"),
    ],
)
async def http_request(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """Send each item's request; route failures by the node's onError setting."""
    on_error = ctx.on_error
    results: list[list[Item] | Exception | None] = [None] * len(items)
    credentials: dict[str, asyncio.Future[dict[str, Any]]] = {}
    next_index = 0
    failed = False

    async def worker() -> None:
        nonlocal next_index, failed
        while next_index < len(items) and not (failed and on_error == "stop"):
            i = next_index
            next_index += 1
            try:
                results[i] = await _request(ctx, items[i], i, credentials)
            except Exception as exc:  # one item failing must not stop the others' requests
                results[i] = exc
                failed = True

    await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, len(items)))))
    ok: list[Item] = []
    errors = ItemErrors(ctx)
    for i, result in enumerate(results):
        if isinstance(result, list):
            ok.extend(result)
        elif isinstance(result, Exception):
            errors.fail(items[i], i, result, ok)
    return errors.outputs(ok)


async def _request(ctx: Context, item: Item, i: int,
                   credentials: dict[str, asyncio.Future[dict[str, Any]]]) -> list[Item]:
    """Build, send (with retries) and decode the request of item `i`."""
    import httpx

    method = ctx.param("method", i).upper()
    url = ctx.param("url", i).strip()
    if not re.match(r"(?i)https?://", url):
        raise RequestFailed(f"URL must start with http:// or https://, got {url!r}")
    query = _pairs(ctx.param("query", i), "query")
    headers = {k: _text(v) for k, v in _pairs(ctx.param("headers", i), "headers").items()}
    auth = ctx.param("authentication", i)
    session = None  # an oauth2 credential from the store: its token is renewed before expiry and after a 401
    if auth != "none":
        if auth not in credentials:
            credentials[auth] = asyncio.ensure_future(_credential(ctx, auth))
        cred = await credentials[auth]
        if isinstance(cred, OAuth2Session):
            session = cred
            _set_header(headers, "Authorization", f"Bearer {await session.token()}")
        else:
            _sign(auth, cred, headers, query)
    content: bytes | None = None
    form: dict[str, Any] | None = None
    body = ctx.param("body", i) if method in BODY_METHODS else None
    if body is not None and body != "":
        content, form = _encode_body(ctx.param("bodyType", i), body, headers, ctx, i)
    seconds = ctx.param("timeout", i) or 0
    timeout = httpx.Timeout(seconds if seconds > 0 else None)
    retries = ctx.param("retries", i)
    where = f"{method} {url}"
    params = {k: v if isinstance(v, list) else _text(v) for k, v in query.items()}
    try:  # merged by hand: httpx's params= would replace a query string written in the URL
        target = httpx.URL(url).copy_merge_params(params)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise RequestFailed(f"invalid URL {url!r}: {exc}") from None

    async def send() -> Any:
        response = None
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                response = await ctx.http.request(method, target, headers=headers, content=content,
                                                  data=form, timeout=timeout)
            except httpx.TimeoutException:
                if last:
                    raise RequestFailed(f"{where}: no response within {seconds:g} s (timeout)") from None
            except httpx.TransportError as exc:
                if last:
                    connect = isinstance(exc, httpx.ConnectError)
                    what = "could not connect" if connect else "the request failed"
                    raise RequestFailed(f"{where}: {what}: {exc or type(exc).__name__}") from None
            except (httpx.InvalidURL, httpx.HTTPError) as exc:
                raise RequestFailed(f"{where}: {exc}") from None
            else:
                if last or not (response.status_code >= 500 or response.status_code == 429):
                    break
            await ctx.sleep(_retry_wait(response, attempt))
            response = None
        assert response is not None
        return response

    response = await send()
    if response.status_code == 401 and session is not None:  # the token was refused: renew it, try once more
        refused = headers["Authorization"].removeprefix("Bearer ")
        try:
            token = await session.token(refused=refused)
        except FlowboxError as exc:
            raise RequestFailed(f"{where} answered 401 and the token could not be renewed: "
                                f"{exc.message}") from None
        _set_header(headers, "Authorization", f"Bearer {token}")
        response = await send()
    status = response.status_code
    if not 200 <= status < 300 and not _flag(ctx.param("ignoreHttpStatusErrors", i)):
        raise RequestFailed(f"{where} failed with status {status} {response.reason_phrase}: "
                            f"{_snippet(response.text)}".rstrip(": "))
    return _decode(ctx, item, i, response, where)


def _decode(ctx: Context, item: Item, i: int, response: Any, where: str) -> list[Item]:
    """The response as output items, per the `response` and `fullResponse` parameters."""
    kind = ctx.param("response", i)
    full = _flag(ctx.param("fullResponse", i))
    binary = None
    if kind == "binary":
        mime = response.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
        binary = {"data": {"data": base64.b64encode(response.content).decode("ascii"), "mimeType": mime,
                           "fileName": _file_name(response)}}
        body: Any = None
    elif kind == "text":
        body = response.text
    elif not response.content.strip():
        body = None
    else:
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            raise RequestFailed(f"{where}: the response is not valid JSON ({exc}); set 'response' to 'text' "
                                f"to read it as text. It starts: {_snippet(response.text)}") from None
    if full:
        out = {"statusCode": response.status_code, "headers": dict(response.headers), "body": body}
        return [item.derive(out, binary=binary)]
    if kind == "text":
        return [item.derive({"data": body}, binary=None)]
    if isinstance(body, list):
        return [item.derive(e if isinstance(e, dict) else {"data": e}, binary=None) for e in body]
    if body is None:
        return [item.derive({}, binary=binary)]
    return [item.derive(body if isinstance(body, dict) else {"data": body}, binary=None)]


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


async def _credential(ctx: Context, type_: str) -> dict[str, Any]:
    data = await ctx.credential(type_)
    if not data:
        raise RequestFailed(f"authentication {type_!r} needs a {type_} credential: choose one in the node's "
                            f"credentials")
    return data


def _sign(type_: str, cred: dict[str, Any], headers: dict[str, str], query: dict[str, Any]) -> None:
    """Add the credential to the request (it replaces a header or query value of the same name)."""
    if type_ == "httpHeaderAuth":
        _set_header(headers, str(cred.get("name") or "Authorization"), _text(cred.get("value")))
    elif type_ == "httpBasicAuth":
        user = _text(cred.get("user", cred.get("username")))
        token = base64.b64encode(f"{user}:{_text(cred.get('password'))}".encode()).decode("ascii")
        _set_header(headers, "Authorization", f"Basic {token}")
    elif type_ == "httpBearerAuth":
        _set_header(headers, "Authorization", f"Bearer {_text(cred.get('token'))}")
    elif type_ == "httpQueryAuth":
        query[str(cred.get("name") or "")] = _text(cred.get("value"))
    elif type_ == "oAuth2Api":
        token = cred.get("accessToken") or cred.get("access_token") or (
            (cred.get("oauthTokenData") or {}).get("access_token"))
        if not token:
            raise RequestFailed("the oAuth2Api credential has no access token")
        _set_header(headers, "Authorization", f"Bearer {token}")
    else:
        raise RequestFailed(f"unknown authentication {type_!r}")


def _set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, dropping any spelling of the same name in another case."""
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]
    headers[name] = value


def _encode_body(body_type: str, body: Any, headers: dict[str, str], ctx: Context,
                 i: int) -> tuple[bytes | None, dict[str, Any] | None]:
    """(content, form) for httpx, setting Content-Type unless a header gives it."""
    has_type = any(k.lower() == "content-type" for k in headers)
    if body_type == "form":
        if isinstance(body, str):  # a JSON object text, or already url-encoded "a=1&b=2"
            body = json.loads(body) if body.lstrip().startswith("{") else dict(parse_qsl(body))
        if not isinstance(body, dict):
            raise RequestFailed(f"a form body must be an object {{field: value}}, got {type(body).__name__}")
        return None, {k: [_text(x) for x in v] if isinstance(v, list) else _text(v) for k, v in body.items()}
    if body_type == "raw":
        if not has_type:
            _set_header(headers, "Content-Type", ctx.param("contentType", i))
        text = body if isinstance(body, str) else json.dumps(body, default=_json_default)
        return text.encode(), None
    if not has_type:
        _set_header(headers, "Content-Type", "application/json")
    if isinstance(body, str):
        try:  # a JSON text is sent as given; any other string as a JSON string
            json.loads(body)
            return body.encode(), None
        except ValueError:
            pass
    return json.dumps(body, default=_json_default).encode(), None


def _pairs(value: Any, name: str) -> dict[str, Any]:
    """A {name: value} dict from a dict, a JSON text or n8n's [{name, value}] list."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise RequestFailed(f"parameter '{name}' must be an object {{name: value}}, got {value!r:.80}") from None
    if isinstance(value, list) and all(isinstance(p, dict) and "name" in p for p in value):
        return {str(p["name"]): p.get("value") for p in value}
    if not isinstance(value, dict):
        raise RequestFailed(f"parameter '{name}' must be an object {{name: value}}, got {type(value).__name__}")
    return {str(k): v for k, v in value.items() if v is not None}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=_json_default)
    return _json_default(value) if isinstance(value, (dt.date, dt.time)) else str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _retry_wait(response: Any, attempt: int) -> float:
    """Seconds before the next try: Retry-After (seconds or HTTP date) or 0.5 s doubling, capped."""
    wait = 0.5 * 2 ** attempt
    header = response.headers.get("retry-after") if response is not None else None
    if header:
        try:
            wait = float(header)
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):  # naive or malformed date: keep the backoff
                wait = (parsedate_to_datetime(header) - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, min(wait, MAX_RETRY_WAIT))


def _file_name(response: Any) -> str:
    disposition = response.headers.get("content-disposition", "")
    found = re.search(r"filename\*=(?:UTF-8'')?([^;]+)|filename=\"?([^\";]+)", disposition, re.I)
    if found:
        return unquote((found.group(1) or found.group(2)).strip().strip('"'))
    return unquote(urlsplit(str(response.url)).path.rsplit("/", 1)[-1]) or "data"
