"""Logging in to the editor: `/login`, `/logout`, `/setup` (HTML forms) and `POST /api/v1/login` (JSON).

`/setup` is the first-start form that creates the owner account (only while no user exists);
`/login` checks the password and sets the session cookie (`flowbox.sessions`), rate limited with
429 + Retry-After; `/logout` ends the session (a form POST carrying the session's CSRF token).
The forms are plain HTML served by the API (no editor code runs before a login) and carry
their own CSRF defence: the login form a double-submit cookie, the others the session's token.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, get, post

from flowbox import sessions
from flowbox.api.auth import caller
from flowbox.api.common import SERVICES
from flowbox.auth import AuthError
from flowbox.errors import Conflict, FlowboxError, Forbidden, RateLimited, Unauthorized
from flowbox.operations import Operations

HTML = "text/html; charset=utf-8"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · flowbox</title>
<style>
 body {{ margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f1f5f9;
        font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1e293b; }}
 form {{ background: #fff; padding: 28px 32px; border-radius: 10px; width: 340px;
        box-shadow: 0 8px 30px rgba(15, 23, 42, .08); }}
 h1 {{ font-size: 20px; margin: 0 0 4px; }} p.lead {{ color: #64748b; margin: 0 0 18px; }}
 .brand {{ font-weight: 700; color: #ff6d5a; letter-spacing: -.02em; margin-bottom: 14px; }}
 label {{ display: block; font-size: 13px; color: #475569; margin: 12px 0 4px; }}
 input {{ width: 100%; box-sizing: border-box; padding: 9px 10px; border: 1px solid #cbd5e1; border-radius: 6px;
         font: inherit; }}
 button {{ margin-top: 20px; width: 100%; padding: 10px; border: 0; border-radius: 6px; background: #ff6d5a;
          color: #fff; font: inherit; font-weight: 600; cursor: pointer; }}
 .error {{ background: #fef2f2; color: #b91c1c; border-radius: 6px; padding: 8px 10px; margin: 8px 0; }}
</style></head>
<body><form method="post" action="{action}">
<div class="brand">flowbox</div><h1>{title}</h1><p class="lead">{lead}</p>{error}
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="next" value="{next}">
{fields}
<button type="submit" data-testid="submit">{button}</button>
</form></body></html>"""

_EMAIL = ('<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" '
          'required autofocus value="{email}" data-testid="email">')
_PASSWORD = ('<label for="password">Password</label><input id="password" name="password" type="password" '
             'autocomplete="{auto}" required data-testid="password">')
_CONFIRM = ('<label for="confirm">Repeat password</label><input id="confirm" name="confirm" type="password" '
            'autocomplete="new-password" required data-testid="confirm">')


def _page(request: Request[Any, Any, Any], *, title: str, lead: str, action: str, button: str, fields: str,
          error: str = "", status: int = 200, next_: str = "/", headers: dict[str, str] | None = None
          ) -> Response[str]:
    """A login-style form page; it sets a fresh double-submit CSRF cookie and the security headers."""
    csrf = sessions.new_token()
    body = _PAGE.format(title=html.escape(title), lead=html.escape(lead), action=action, csrf=csrf,
                        next=html.escape(next_), fields=fields, button=html.escape(button),
                        error=f'<div class="error" role="alert" data-testid="error">{html.escape(error)}</div>'
                        if error else "")
    response = Response(body, status_code=status, media_type=HTML, headers=_security_headers(headers))
    response.headers["Set-Cookie"] = sessions.set_cookie(sessions.LOGIN_CSRF_COOKIE, csrf, max_age=3600,
                                                         secure=sessions.is_https(request.scope))
    response.headers["Cache-Control"] = "no-store"
    return response


def _security_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    out = {k.decode(): v.decode() for k, v in sessions.SECURITY_HEADERS}
    out.update(extra or {})
    return out


def _redirect(location: str, set_cookie: str | None = None) -> Response[str]:
    headers = _security_headers({"Location": location, "Cache-Control": "no-store"})
    if set_cookie:
        headers["Set-Cookie"] = set_cookie
    return Response("", status_code=303, headers=headers, media_type=HTML)


def _login_form(request: Request[Any, Any, Any], *, error: str = "", status: int = 200, email: str = "",
                next_: str = "/", headers: dict[str, str] | None = None) -> Response[str]:
    fields = _EMAIL.format(email=html.escape(email)) + _PASSWORD.format(auto="current-password")
    return _page(request, title="Sign in", lead="Sign in to your flowbox.", action="/login", button="Sign in",
                 fields=fields, error=error, status=status, next_=next_, headers=headers)


def _setup_form(request: Request[Any, Any, Any], *, error: str = "", status: int = 200,
                email: str = "") -> Response[str]:
    fields = _EMAIL.format(email=html.escape(email)) + _PASSWORD.format(auto="new-password") + _CONFIRM
    return _page(request, title="Set up the owner account", action="/setup", button="Create owner and sign in",
                 lead="The owner manages users and everything in this flowbox. Until an owner exists, "
                      "anyone who can reach this computer can use it.", fields=fields, error=error, status=status)


def _form_csrf_ok(request: Request[Any, Any, Any], form: Any) -> bool:
    """The login/setup form's double-submit check (and no foreign Origin)."""
    cookie = sessions.read_cookie(request.headers.get("cookie"), sessions.LOGIN_CSRF_COOKIE)
    return sessions.same_origin(request.scope) and sessions.tokens_match(cookie, form.get("csrf"))


def _client(request: Request[Any, Any, Any]) -> tuple[str | None, str | None]:
    return (request.client.host if request.client else None), request.headers.get("user-agent")


class LoginController(Controller):
    """The HTML forms (not part of the REST API, so not in its schema)."""

    dependencies = SERVICES
    include_in_schema = False

    @get("/login")
    async def login_page(self, request: Request[Any, Any, Any], services: Operations,
                         next: str | None = None) -> Response[str]:
        if not await services.auth_required():
            return _redirect("/setup")
        return _login_form(request, next_=sessions.safe_next(next))

    @post("/login", status_code=303)
    async def login(self, request: Request[Any, Any, Any], services: Operations) -> Response[str]:
        form = await request.form()
        email, target = str(form.get("email") or ""), sessions.safe_next(form.get("next"))
        if not _form_csrf_ok(request, form):
            return _login_form(request, error="The form expired; please sign in again.", status=403, email=email,
                               next_=target)
        ip, agent = _client(request)
        try:
            token, _, _ = await services.login(email, form.get("password"), ip=ip, user_agent=agent)
        except RateLimited as exc:
            return _login_form(request, error=exc.message, status=429, email=email, next_=target,
                               headers={"Retry-After": str(exc.retry_after)})
        except (Unauthorized, Forbidden) as exc:  # a wrong password, or a disabled account
            return _login_form(request, error=exc.message[0].upper() + exc.message[1:] + ".",
                               status=401 if isinstance(exc, Unauthorized) else 403, email=email, next_=target)
        return _redirect(target, sessions.session_cookie(token, secure=sessions.is_https(request.scope)))

    @post("/logout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any], services: Operations) -> Response[str]:
        form = await request.form()
        token = sessions.read_cookie(request.headers.get("cookie"))
        principal = await services.authenticate_session(token)
        if principal is not None:
            if not (sessions.same_origin(request.scope) and sessions.tokens_match(form.get("csrf"), principal.csrf)):
                return Response("logout needs the session's CSRF token", status_code=403, media_type=HTML,
                                headers=_security_headers())
            await services.logout(token)
        return _redirect("/login", sessions.clear_session_cookie(secure=sessions.is_https(request.scope)))

    @get("/setup")
    async def setup_page(self, request: Request[Any, Any, Any], services: Operations) -> Response[str]:
        if await services.auth_required():
            return _redirect("/login")
        return _setup_form(request)

    @post("/setup", status_code=303)
    async def setup(self, request: Request[Any, Any, Any], services: Operations) -> Response[str]:
        form = await request.form()
        email, password = str(form.get("email") or ""), str(form.get("password") or "")
        if not _form_csrf_ok(request, form):
            return _setup_form(request, error="The form expired; please try again.", status=403, email=email)
        if password != form.get("confirm"):
            return _setup_form(request, error="The two passwords differ.", status=400, email=email)
        try:
            await services.setup_owner(email, password)
        except Conflict:
            return _redirect("/login")
        except FlowboxError as exc:
            return _setup_form(request, error=exc.message, status=400, email=email)
        ip, agent = _client(request)
        token, _, _ = await services.login(email, password, ip=ip, user_agent=agent)
        return _redirect("/", sessions.session_cookie(token, secure=sessions.is_https(request.scope)))


class Credentials(msgspec.Struct):
    email: str
    password: str


class SessionController(Controller):
    """The same login for scripts and single-page clients: JSON in, the cookie and the CSRF token out."""

    path = "/api/v1"
    tags = ["users"]
    dependencies = SERVICES

    @post("/login", summary="Log in: sets the session cookie; returns the user and the CSRF token",
          status_code=200)
    async def login(self, request: Request[Any, Any, Any], services: Operations,
                    data: Credentials) -> Response[dict[str, Any]]:
        if not sessions.same_origin(request.scope):  # no login CSRF: another site cannot sign you in
            raise Forbidden("cross-site login refused")
        ip, agent = _client(request)
        token, record, principal = await services.login(data.email, data.password, ip=ip, user_agent=agent)
        return Response({"user": principal.to_dict(), "csrfToken": record.csrf},
                        headers={"Set-Cookie": sessions.session_cookie(token, secure=sessions.is_https(request.scope)),
                                 "Cache-Control": "no-store"})

    @post("/logout", summary="End the editor session of this cookie", status_code=204)
    async def logout(self, request: Request[Any, Any, Any], services: Operations) -> Response[None]:
        principal = caller(request)
        if principal is None or principal.csrf is None:
            raise AuthError("no editor session to end: API keys are revoked (DELETE /api/v1/api-keys/{id}), "
                            "not logged out")
        await services.logout(sessions.read_cookie(request.headers.get("cookie")))
        return Response(None, status_code=204,
                        headers={"Set-Cookie": sessions.clear_session_cookie(secure=sessions.is_https(request.scope))})


def login_location(path: str, query: bytes = b"") -> str:
    """Where an editor page sends a visitor without a session: the login form, then back here."""
    target = path + ("?" + query.decode("latin-1") if query else "")
    return "/login?next=" + quote(sessions.safe_next(target), safe="/")


HANDLERS = [LoginController, SessionController]
