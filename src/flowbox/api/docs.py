"""The API docs at `/api/docs`, offline: Swagger UI from `ui/vendor/`, never a CDN.

Litestar's own render plugins load their JS and CSS from the internet; flowbox runs
on laptops and closed networks, so `plugins()` gives `make_api` one plugin that
serves a page referring only to local assets:

    /api/docs                  the Swagger UI page (also /api/docs/swagger)
    /api/docs/openapi.json     the schema (Litestar's JSON plugin)
    /api/docs/assets/<file>    swagger-ui-bundle.js, swagger-ui.css (vendored, see ui/vendor/)

When the vendored files are missing (a trimmed install), the page falls back to a
small built-in viewer that lists paths, parameters and schemas from openapi.json.
"""

from __future__ import annotations

import html
import importlib.util
import mimetypes
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin

ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css")


@cache
def vendor_dir() -> Path | None:
    """`flowbox.ui`'s vendor/ folder (found without importing the UI, which pulls in NiceGUI)."""
    try:
        spec = importlib.util.find_spec("flowbox.ui")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "vendor"
        if all((folder / name).is_file() for name in ASSETS):
            return folder
    return None


class OfflineDocsPlugin(OpenAPIRenderPlugin):
    """Swagger UI from local assets (or a built-in viewer when they are missing)."""

    def __init__(self, path: str | list[str] = ("/", "/swagger"), title: str = "flowbox API") -> None:
        super().__init__(path=list(path) if not isinstance(path, str) else path)
        self.title = title

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        schema_url = self.get_openapi_json_route(request)
        assets = _assets_url(schema_url)
        title = html.escape(str((openapi_schema.get("info") or {}).get("title") or self.title))
        if vendor_dir() is None:
            return _FALLBACK.replace("__TITLE__", title).replace("__SCHEMA__", schema_url).encode()
        return (_SWAGGER.replace("__TITLE__", title).replace("__SCHEMA__", schema_url)
                .replace("__ASSETS__", assets).encode())

    def receive_router(self, router: Router) -> None:
        router.register(docs_asset)


def _assets_url(schema_url: str) -> str:
    """`/api/docs/openapi.json` -> `/api/docs/assets`."""
    return schema_url.rsplit("/", 1)[0] + "/assets"


@get("/assets/{name:str}", include_in_schema=False, sync_to_thread=False)
def docs_asset(name: str) -> Response[bytes]:
    """A vendored Swagger UI file (only the ones the page uses)."""
    folder = vendor_dir()
    if name not in ASSETS or folder is None:
        raise NotFoundException(f"no docs asset {name!r}")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"  # text/*: Litestar adds the charset
    return Response((folder / name).read_bytes(), media_type=media_type,
                    headers={"Cache-Control": "public, max-age=3600"})


def plugins() -> list[OpenAPIRenderPlugin]:
    """The render plugins `make_api` passes to `OpenAPIConfig(path="/api/docs")`."""
    return [OfflineDocsPlugin()]


_SWAGGER = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<link rel="stylesheet" href="__ASSETS__/swagger-ui.css">
<style>body { margin: 0; } .swagger-ui .topbar { display: none; }</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="__ASSETS__/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "__SCHEMA__",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
</script>
</body>
</html>
"""

# A dependency-free viewer: enough to read the API when the vendored Swagger UI is absent.
_FALLBACK = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
details { border: 1px solid #ddd; border-radius: 4px; margin: .4rem 0; padding: .3rem .6rem; }
summary { cursor: pointer; } code, pre { font-family: ui-monospace, monospace; font-size: 12.5px; }
pre { background: #f6f6f6; padding: .5rem; overflow: auto; }
.m { display: inline-block; min-width: 4.5rem; font-weight: 600; text-transform: uppercase; }
.get { color: #1a7f37; } .post { color: #0969da; } .put { color: #9a6700; } .delete { color: #cf222e; }
table { border-collapse: collapse; } td, th { text-align: left; padding: .15rem .6rem .15rem 0; }
</style>
</head>
<body>
<h1>__TITLE__</h1>
<p>Schema: <a href="__SCHEMA__">__SCHEMA__</a></p>
<div id="paths">Loading...</div>
<h2>Schemas</h2>
<div id="schemas"></div>
<script>
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
const pre = (v) => "<pre>" + esc(JSON.stringify(v, null, 2)) + "</pre>";
fetch("__SCHEMA__").then((r) => r.json()).then((api) => {
  const out = [];
  for (const [path, ops] of Object.entries(api.paths || {})) {
    for (const [method, op] of Object.entries(ops)) {
      if (typeof op !== "object" || !op.responses) continue;
      let body = "";
      const params = op.parameters || [];
      if (params.length) {
        body += "<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th></tr>" + params.map((p) =>
          `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? "yes" : ""}</td>` +
          `<td><code>${esc(JSON.stringify(p.schema || {}))}</code></td></tr>`).join("") + "</table>";
      }
      if (op.requestBody) body += "<p>Request body</p>" + pre(op.requestBody);
      body += "<p>Responses</p>" + pre(op.responses);
      out.push(`<details><summary><span class="m ${esc(method)}">${esc(method)}</span> <code>${esc(path)}</code> ` +
               `${esc(op.summary || "")}</summary>${op.description ? "<p>" + esc(op.description) + "</p>" : ""}${body}</details>`);
    }
  }
  document.getElementById("paths").innerHTML = out.join("") || "No paths.";
  const schemas = (api.components || {}).schemas || {};
  document.getElementById("schemas").innerHTML = Object.entries(schemas).map(([name, s]) =>
    `<details><summary><code>${esc(name)}</code></summary>${pre(s)}</details>`).join("") || "None.";
}).catch((e) => { document.getElementById("paths").textContent = "Cannot load the schema: " + e; });
</script>
</body>
</html>
"""
