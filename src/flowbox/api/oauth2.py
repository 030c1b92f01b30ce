"""OAuth2 connect for `oAuth2Api` credentials (`flowbox.oauth2`).

`POST /api/v1/credentials/{id}/oauth2/authorize` answers `{"url"}`: open it in a browser. The
provider sends the browser back to `GET /api/v1/oauth2/callback?code=&state=`, which stores the
tokens and answers a small HTML page. The callback is public (`flowbox.auth.PUBLIC`): the
provider's redirect carries no API key; its `state` (random, single use, 10 minutes, bound to
one credential) is what makes it safe.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.params import Parameter

from flowbox.api.common import SERVICES, status_of
from flowbox.errors import FlowboxError
from flowbox.operations import Operations

PAGE = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>flowbox</title></head>"
        "<body style=\"font-family: sans-serif; margin: 3em\"><h2>{title}</h2><p>{text}</p></body></html>")


@post("/api/v1/credentials/{id:str}/oauth2/authorize", summary="Start connecting an OAuth2 credential",
      tags=["credentials"], dependencies=SERVICES, status_code=200)
async def authorize(request: Request[Any, Any, Any], services: Operations, id: str) -> dict[str, Any]:
    return await services.oauth2_authorize(id, base_url=str(request.base_url))


@get("/api/v1/oauth2/callback", summary="Where the OAuth2 provider sends the browser back (public)",
     tags=["credentials"], dependencies=SERVICES, media_type=MediaType.HTML)
async def callback(request: Request[Any, Any, Any], services: Operations, code: str | None = None,
                   oauth_state: str | None = Parameter(query="state", default=None), error: str | None = None,
                   error_description: str | None = None) -> Response[Any]:
    try:  # (`state` is a name Litestar reserves, hence `oauth_state`)
        cred = await services.oauth2_callback(code=code, state=oauth_state, error=error,
                                              error_description=error_description)
    except FlowboxError as exc:
        if "application/json" in request.headers.get("accept", ""):
            raise  # the usual JSON error
        page = PAGE.format(title="Not connected", text=html.escape(exc.message))
        return Response(page, status_code=status_of(exc), media_type=MediaType.HTML)
    text = f"Credential '{html.escape(cred['name'])}' has its tokens."
    page = PAGE.format(title="Connected — you can close this window", text=text)
    return Response(page, media_type=MediaType.HTML)


HANDLERS = [authorize, callback]
