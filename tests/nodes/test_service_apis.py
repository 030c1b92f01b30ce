"""The service nodes against each service's documented HTTP API, mocked with respx.

Each test checks the exact request the service documents (method, URL, auth header form, body
encoding, required headers) and maps a response shaped like the documentation's example.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from support import Harness

from flowbox.engine.runner import EngineServices
from flowbox.settings import Settings


@pytest.fixture
def api() -> Any:
    """The services' APIs, mocked at the HTTP layer; nothing leaves the machine, every declared route is called."""
    with respx.mock(assert_all_called=True) as mock:
        yield mock


def run(run_node: Any, type_: str, params: dict[str, Any], credential: tuple[str, dict[str, Any]],
        inputs: list[dict[str, Any]] | None = None) -> Any:
    """Run one service node with one stored credential of the given type."""
    kind, data = credential

    async def lookup(type_asked: str, id_: str) -> dict[str, Any] | None:
        return data if type_asked == kind else None

    node = {"name": "N", "type": type_, "parameters": params, "credentials": {kind: "c1"}}
    return run_node(node, inputs, services=EngineServices(credential=lookup))


def out(result: Any) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["N"][-1].outputs[0]]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---------------------------------------------------------------- Slack

SLACK = ("slackApi", {"token": "xoxb-1234-abcd"})


def test_slack_post_message(run_node, api):
    answer = {"ok": True, "channel": "C123ABC456", "ts": "1503435956.000247",
              "message": {"text": "Here's a message for you", "username": "ecto1", "bot_id": "B123ABC456",
                          "type": "message", "subtype": "bot_message", "ts": "1503435956.000247"}}
    route = api.post("https://slack.com/api/chat.postMessage").mock(return_value=httpx.Response(200, json=answer))
    result = run(run_node, "slack", {"resource": "message", "operation": "post", "channel": "C123ABC456",
                                     "text": "Here's a message for you"}, SLACK)
    assert out(result) == [answer]
    request = route.calls[0].request
    assert request.headers["authorization"] == "Bearer xoxb-1234-abcd"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"channel": "C123ABC456", "text": "Here's a message for you"}


def test_slack_conversations_list_follows_next_cursor(run_node, api):
    route = api.get("https://slack.com/api/conversations.list").mock(side_effect=[
        httpx.Response(200, json={"ok": True, "channels": [{"id": "C012AB3CD", "name": "general"}],
                                  "response_metadata": {"next_cursor": "dGVhbTpDMDYxRkE1UEI="}}),
        httpx.Response(200, json={"ok": True, "channels": [{"id": "C061EG9T2", "name": "random"}],
                                  "response_metadata": {"next_cursor": ""}}),
    ])
    result = run(run_node, "slack", {"resource": "channel", "operation": "list", "returnAll": True}, SLACK)
    assert [c["name"] for c in out(result)] == ["general", "random"]
    first, second = (dict(c.request.url.params) for c in route.calls)
    assert first == {"types": "public_channel", "exclude_archived": "true", "limit": "200"}
    assert second == {**first, "cursor": "dGVhbTpDMDYxRkE1UEI="}


def test_slack_users_info(run_node, api):
    route = api.get("https://slack.com/api/users.info").mock(return_value=httpx.Response(200, json={
        "ok": True, "user": {"id": "W012A3CDE", "name": "spengler", "real_name": "Egon Spengler"}}))
    result = run(run_node, "slack", {"resource": "user", "operation": "get", "user": "W012A3CDE"}, SLACK)
    assert out(result) == [{"id": "W012A3CDE", "name": "spengler", "real_name": "Egon Spengler"}]
    assert route.calls[0].request.url.params["user"] == "W012A3CDE"


@pytest.mark.parametrize("error, message", [
    ("invalid_auth", "credential rejected by Slack: invalid_auth"),
    ("channel_not_found", "Slack message post failed: channel_not_found"),
])
def test_slack_ok_false_is_an_error(run_node, api, error, message):
    api.post("https://slack.com/api/chat.postMessage").mock(
        return_value=httpx.Response(200, json={"ok": False, "error": error}))
    result = run(run_node, "slack", {"resource": "message", "operation": "post", "channel": "C1", "text": "x"}, SLACK)
    assert result.status == "error" and result.error["message"] == message


# ---------------------------------------------------------------- Discord

WEBHOOK = ("discordWebhookApi", {"webhookUri": "https://discord.com/api/webhooks/1234567890/tok-en_XYZ"})
BOT = ("discordBotApi", {"token": "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"})
MESSAGE = {"id": "1100000000000000001", "type": 0, "content": "Deploy finished", "channel_id": "1099999999999999999",
           "author": {"id": "1234567890", "username": "flowbox", "bot": True}}


def test_discord_webhook_message(run_node, api):
    route = api.post("https://discord.com/api/webhooks/1234567890/tok-en_XYZ").mock(
        return_value=httpx.Response(200, json=MESSAGE))
    result = run(run_node, "discord", {"resource": "webhook", "operation": "send", "content": "Deploy finished",
                                       "username": "flowbox"}, WEBHOOK)
    assert out(result) == [MESSAGE]
    request = route.calls[0].request
    assert request.url.params["wait"] == "true"
    assert "authorization" not in request.headers
    assert json.loads(request.content) == {"content": "Deploy finished", "username": "flowbox"}


def test_discord_bot_channel_message(run_node, api):
    route = api.post("https://discord.com/api/v10/channels/1099999999999999999/messages").mock(
        return_value=httpx.Response(200, json=MESSAGE))
    result = run(run_node, "discord", {"authentication": "discordBotApi", "resource": "message", "operation": "send",
                                       "channelId": "1099999999999999999", "content": "Deploy finished"}, BOT)
    assert out(result) == [MESSAGE]
    request = route.calls[0].request
    assert request.headers["authorization"] == f"Bot {BOT[1]['token']}"
    assert json.loads(request.content) == {"content": "Deploy finished"}


def test_discord_rate_limit_waits_retry_after_from_the_body(run_node, api):
    route = api.post("https://discord.com/api/v10/channels/1/messages").mock(side_effect=[
        httpx.Response(429, json={"message": "You are being rate limited.", "retry_after": 0.05, "global": False}),
        httpx.Response(200, json=MESSAGE),
    ])
    result = run(run_node, "discord", {"authentication": "discordBotApi", "resource": "message", "operation": "send",
                                       "channelId": "1", "content": "x"}, BOT)
    assert out(result) == [MESSAGE] and route.call_count == 2


def test_discord_bot_message_with_the_webhook_credential_type_is_refused(run_node, api):
    result = run(run_node, "discord", {"resource": "message", "operation": "send", "channelId": "1",
                                       "content": "x"}, WEBHOOK)
    assert result.status == "error"
    assert "signs with a discordBotApi credential: set 'authentication' to discordBotApi" in result.error["message"]


# ---------------------------------------------------------------- Telegram

TELEGRAM = ("telegramApi", {"accessToken": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"})
BOT_URL = "https://api.telegram.org/bot123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"


def test_telegram_send_message_token_in_the_path(run_node, api):
    sent = {"message_id": 7, "from": {"id": 123456, "is_bot": True, "first_name": "flowbox"},
            "chat": {"id": 42, "first_name": "Ada", "type": "private"}, "date": 1700000000, "text": "Hi *Ada*"}
    route = api.post(f"{BOT_URL}/sendMessage").mock(return_value=httpx.Response(200, json={"ok": True,
                                                                                          "result": sent}))
    result = run(run_node, "telegram", {"resource": "message", "operation": "send", "chatId": "42",
                                        "text": "Hi *Ada*", "parseMode": "MarkdownV2"}, TELEGRAM)
    assert out(result) == [sent]
    request = route.calls[0].request
    assert "authorization" not in request.headers
    assert json.loads(request.content) == {"chat_id": "42", "text": "Hi *Ada*", "parse_mode": "MarkdownV2",
                                           "disable_notification": False}


def test_telegram_get_updates(run_node, api):
    updates = [{"update_id": 1001, "message": {"message_id": 1, "chat": {"id": 42, "type": "private"}, "text": "a"}},
               {"update_id": 1002, "message": {"message_id": 2, "chat": {"id": 42, "type": "private"}, "text": "b"}}]
    route = api.post(f"{BOT_URL}/getUpdates").mock(return_value=httpx.Response(200, json={"ok": True,
                                                                                         "result": updates}))
    result = run(run_node, "telegram", {"resource": "update", "operation": "get", "offset": 1001}, TELEGRAM)
    assert out(result) == updates
    assert json.loads(route.calls[0].request.content) == {"offset": 1001, "limit": 100}


def test_telegram_unauthorized_does_not_leak_the_token(run_node, api):
    api.post(f"{BOT_URL}/sendMessage").mock(return_value=httpx.Response(
        401, json={"ok": False, "error_code": 401, "description": "Unauthorized"}))
    result = run(run_node, "telegram", {"resource": "message", "operation": "send", "chatId": "42", "text": "x"},
                 TELEGRAM)
    assert result.error["message"] == "credential rejected by Telegram: Unauthorized"
    assert TELEGRAM[1]["accessToken"] not in json.dumps(result.error)


# ---------------------------------------------------------------- GitHub

GITHUB = ("githubApi", {"token": "ghp_16C7e42F292c6912E7710c838347Ae178B4a"})
GITHUB_HEADERS = {"accept": "application/vnd.github+json", "x-github-api-version": "2022-11-28",
                  "authorization": "Bearer ghp_16C7e42F292c6912E7710c838347Ae178B4a"}
ISSUE = {"id": 1, "number": 1347, "state": "open", "title": "Found a bug", "body": "I'm having a problem with this.",
         "labels": [{"name": "bug"}], "user": {"login": "octocat"}}


def headers_of(request: httpx.Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k in GITHUB_HEADERS}


def test_github_create_issue(run_node, api):
    route = api.post("https://api.github.com/repos/octocat/hello-world/issues").mock(
        return_value=httpx.Response(201, json=ISSUE))
    result = run(run_node, "github", {"resource": "issue", "operation": "create", "owner": "octocat",
                                      "repo": "hello-world", "title": "Found a bug",
                                      "body": "I'm having a problem with this.", "labels": ["bug"]}, GITHUB)
    assert out(result) == [ISSUE]
    request = route.calls[0].request
    assert headers_of(request) == GITHUB_HEADERS
    assert json.loads(request.content) == {"title": "Found a bug", "body": "I'm having a problem with this.",
                                           "labels": ["bug"]}


def test_github_get_issue_and_repository(run_node, api):
    api.get("https://api.github.com/repos/octocat/hello-world/issues/1347").mock(
        return_value=httpx.Response(200, json=ISSUE))
    repo = {"id": 1296269, "name": "Hello-World", "full_name": "octocat/Hello-World", "private": False}
    api.get("https://api.github.com/repos/octocat/hello-world").mock(return_value=httpx.Response(200, json=repo))
    issue = run(run_node, "github", {"resource": "issue", "operation": "get", "owner": "octocat",
                                     "repo": "hello-world", "issueNumber": 1347}, GITHUB)
    assert out(issue) == [ISSUE]
    got = run(run_node, "github", {"resource": "repository", "operation": "get", "owner": "octocat",
                                   "repo": "hello-world"}, GITHUB)
    assert out(got) == [repo]


def test_github_list_issues_follows_the_link_header(run_node, api):
    base = "https://api.github.com/repositories/1300192/issues"
    route = api.get("https://api.github.com/repos/octocat/hello-world/issues").mock(return_value=httpx.Response(
        200, json=[{"number": 3}, {"number": 2}],
        headers={"Link": f'<{base}?state=all&per_page=100&page=2>; rel="next", '
                         f'<{base}?state=all&per_page=100&page=2>; rel="last"'}))
    page2 = api.get(base).mock(return_value=httpx.Response(200, json=[{"number": 1}], headers={
        "Link": f'<{base}?state=all&per_page=100&page=1>; rel="prev", <{base}?state=all&per_page=100&page=1>; '
                'rel="first"'}))
    result = run(run_node, "github", {"resource": "issue", "operation": "list", "owner": "octocat",
                                      "repo": "hello-world", "state": "all", "returnAll": True}, GITHUB)
    assert [i["number"] for i in out(result)] == [3, 2, 1]
    assert dict(route.calls[0].request.url.params) == {"state": "all", "per_page": "100"}
    assert str(page2.calls[0].request.url) == f"{base}?state=all&per_page=100&page=2"
    assert headers_of(page2.calls[0].request) == GITHUB_HEADERS


def test_github_list_limit_asks_for_a_small_page(run_node, api):
    route = api.get("https://api.github.com/repos/octocat/hello-world/issues").mock(
        return_value=httpx.Response(200, json=[{"number": 9}, {"number": 8}]))
    result = run(run_node, "github", {"resource": "issue", "operation": "list", "owner": "octocat",
                                      "repo": "hello-world", "limit": 2}, GITHUB)
    assert len(out(result)) == 2
    assert dict(route.calls[0].request.url.params) == {"state": "open", "per_page": "2"}


def test_github_not_found(run_node, api):
    api.get("https://api.github.com/repos/octocat/nope/issues/1").mock(return_value=httpx.Response(
        404, json={"message": "Not Found", "documentation_url": "https://docs.github.com/rest/issues/issues"}))
    result = run(run_node, "github", {"resource": "issue", "operation": "get", "owner": "octocat", "repo": "nope",
                                      "issueNumber": 1}, GITHUB)
    assert result.error["message"] == "GitHub issue get: not found (404): Not Found"


# ---------------------------------------------------------------- Notion

NOTION = ("notionApi", {"token": "secret_t1CdN9S8yicG5eWLUOfhcWaOscVnFXns"})
DB = "897e5a76ae524b489fdfe71f5945d1af"


def test_notion_database_query_pages_with_start_cursor(run_node, api):
    route = api.post(f"https://api.notion.com/v1/databases/{DB}/query").mock(side_effect=[
        httpx.Response(200, json={"object": "list", "results": [{"object": "page", "id": "p1"}],
                                  "next_cursor": "fe2cc560-036c-44cd-90e8-294d5a74cebc", "has_more": True,
                                  "type": "page_or_database", "page_or_database": {}}),
        httpx.Response(200, json={"object": "list", "results": [{"object": "page", "id": "p2"}],
                                  "next_cursor": None, "has_more": False}),
    ])
    filter_ = {"property": "Done", "checkbox": {"equals": False}}
    result = run(run_node, "notion", {"resource": "database", "operation": "query", "databaseId": DB,
                                      "filter": filter_, "returnAll": True}, NOTION)
    assert [p["id"] for p in out(result)] == ["p1", "p2"]
    first, second = (c.request for c in route.calls)
    assert first.headers["notion-version"] == "2022-06-28"
    assert first.headers["authorization"] == f"Bearer {NOTION[1]['token']}"
    assert json.loads(first.content) == {"filter": filter_, "page_size": 100}
    assert json.loads(second.content) == {"filter": filter_, "page_size": 100,
                                          "start_cursor": "fe2cc560-036c-44cd-90e8-294d5a74cebc"}


def test_notion_create_page(run_node, api):
    properties = {"Name": {"title": [{"text": {"content": "Tuscan kale"}}]}}
    page = {"object": "page", "id": "59833787-2cf9-4fdf-8782-e53db20768a5", "parent": {"database_id": DB},
            "properties": properties}
    route = api.post("https://api.notion.com/v1/pages").mock(return_value=httpx.Response(200, json=page))
    result = run(run_node, "notion", {"resource": "page", "operation": "create", "databaseId": DB,
                                      "properties": properties}, NOTION)
    assert out(result) == [page]
    request = route.calls[0].request
    assert request.headers["notion-version"] == "2022-06-28"
    assert json.loads(request.content) == {"parent": {"database_id": DB}, "properties": properties}


# ---------------------------------------------------------------- Airtable

AIRTABLE = ("airtableTokenApi", {"token": "patAbCdEfGh.0123456789"})
RECORDS = "https://api.airtable.com/v0/appXXXXXXXXXXXXXX/Tasks"


def test_airtable_list_records_follows_offset(run_node, api):
    route = api.get(RECORDS).mock(side_effect=[
        httpx.Response(200, json={"records": [{"id": "rec560UJdUtocSouk", "createdTime": "2022-09-12T21:03:48.000Z",
                                               "fields": {"Name": "Ada"}}],
                                  "offset": "itrBxmmzxu5OVgzrz/rec560UJdUtocSouk"}),
        httpx.Response(200, json={"records": [{"id": "rec3lbPRG4aVqkeOQ", "createdTime": "2022-09-12T21:03:48.000Z",
                                               "fields": {"Name": "Bob"}}]}),
    ])
    result = run(run_node, "airtable", {"resource": "record", "operation": "list", "baseId": "appXXXXXXXXXXXXXX",
                                        "table": "Tasks", "view": "Grid view", "returnAll": True}, AIRTABLE)
    assert [r["fields"]["Name"] for r in out(result)] == ["Ada", "Bob"]
    first, second = (c.request for c in route.calls)
    assert first.headers["authorization"] == "Bearer patAbCdEfGh.0123456789"
    assert dict(first.url.params) == {"view": "Grid view", "pageSize": "100"}
    assert dict(second.url.params) == {"view": "Grid view", "pageSize": "100",
                                       "offset": "itrBxmmzxu5OVgzrz/rec560UJdUtocSouk"}


def test_airtable_create_and_update_record(run_node, api):
    record = {"id": "recXXXXXXXXXXXXXX", "createdTime": "2022-09-12T21:03:48.000Z", "fields": {"Name": "Ada"}}
    create = api.post(RECORDS).mock(return_value=httpx.Response(200, json=record))
    update = api.patch(f"{RECORDS}/recXXXXXXXXXXXXXX").mock(return_value=httpx.Response(200, json=record))
    created = run(run_node, "airtable", {"resource": "record", "operation": "create", "baseId": "appXXXXXXXXXXXXXX",
                                         "table": "Tasks", "fields": {"Name": "{{ $json.name }}"}}, AIRTABLE,
                  [{"name": "Ada"}])
    assert out(created) == [record]
    assert json.loads(create.calls[0].request.content) == {"fields": {"Name": "Ada"}, "typecast": False}
    updated = run(run_node, "airtable", {"resource": "record", "operation": "update", "baseId": "appXXXXXXXXXXXXXX",
                                         "table": "Tasks", "recordId": "recXXXXXXXXXXXXXX",
                                         "fields": {"Name": "Ada"}, "typecast": True}, AIRTABLE)
    assert out(updated) == [record]
    assert json.loads(update.calls[0].request.content) == {"fields": {"Name": "Ada"}, "typecast": True}


def test_airtable_not_found_has_a_string_error(run_node, api):
    api.patch(f"{RECORDS}/recNOPE").mock(return_value=httpx.Response(404, json={"error": "NOT_FOUND"}))
    result = run(run_node, "airtable", {"resource": "record", "operation": "update", "baseId": "appXXXXXXXXXXXXXX",
                                        "table": "Tasks", "recordId": "recNOPE", "fields": {"a": 1}}, AIRTABLE)
    assert result.error["message"] == "Airtable record update: not found (404): NOT_FOUND"


# ---------------------------------------------------------------- Google Sheets

SHEETS = ("oAuth2Api", {"accessToken": "ya29.a0AfH6SMB", "grantType": "authorizationCode"})
SHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


def test_google_sheets_get_rows_with_a_header_row(run_node, api):
    route = api.get(url__startswith=f"https://sheets.googleapis.com/v4/spreadsheets/{SHEET_ID}/values/").mock(
        return_value=httpx.Response(200, json={"range": "Sheet1!A1:C3", "majorDimension": "ROWS",
                                               "values": [["Name", "Age"], ["Ada", "36"], ["Bob"]]}))
    result = run(run_node, "googleSheets", {"resource": "values", "operation": "get", "spreadsheetId": SHEET_ID,
                                            "range": "Sheet1!A1:C3"}, SHEETS)
    assert out(result) == [{"Name": "Ada", "Age": "36"}, {"Name": "Bob", "Age": ""}]
    request = route.calls[0].request
    assert request.url.raw_path == (f"/v4/spreadsheets/{SHEET_ID}/values/Sheet1%21A1%3AC3"
                                    "?valueRenderOption=FORMATTED_VALUE").encode()
    assert request.headers["authorization"] == "Bearer ya29.a0AfH6SMB"


def test_google_sheets_append_and_update(run_node, api):
    appended = {"spreadsheetId": SHEET_ID, "tableRange": "Sheet1!A1:B2",
                "updates": {"spreadsheetId": SHEET_ID, "updatedRange": "Sheet1!A3:B3", "updatedRows": 1,
                            "updatedColumns": 2, "updatedCells": 2}}
    append = api.post(url__startswith=f"https://sheets.googleapis.com/v4/spreadsheets/{SHEET_ID}/values/").mock(
        return_value=httpx.Response(200, json=appended))
    result = run(run_node, "googleSheets", {"resource": "values", "operation": "append", "spreadsheetId": SHEET_ID,
                                            "range": "Sheet1!A1", "values": [["Ada", 36]]}, SHEETS)
    assert out(result) == [appended]
    request = append.calls[0].request
    assert request.url.raw_path == (f"/v4/spreadsheets/{SHEET_ID}/values/Sheet1%21A1:append"
                                    "?valueInputOption=USER_ENTERED&insertDataOption=INSERT_ROWS").encode()
    assert json.loads(request.content) == {"values": [["Ada", 36]]}

    updated = {"spreadsheetId": SHEET_ID, "updatedRange": "Sheet1!A2:B2", "updatedRows": 1, "updatedColumns": 2,
               "updatedCells": 2}
    update = api.put(url__startswith=f"https://sheets.googleapis.com/v4/spreadsheets/{SHEET_ID}/values/").mock(
        return_value=httpx.Response(200, json=updated))
    result = run(run_node, "googleSheets", {"resource": "values", "operation": "update", "spreadsheetId": SHEET_ID,
                                            "range": "Sheet1!A2:B2", "values": [["Bob", 41]],
                                            "valueInputOption": "RAW"}, SHEETS)
    assert out(result) == [updated]
    assert update.calls[0].request.url.raw_path == (
        f"/v4/spreadsheets/{SHEET_ID}/values/Sheet1%21A2%3AB2?valueInputOption=RAW").encode()


def test_google_sheets_needs_an_access_token(run_node, api):
    result = run(run_node, "googleSheets", {"resource": "values", "operation": "get", "spreadsheetId": SHEET_ID,
                                            "range": "A1"}, ("oAuth2Api", {"clientId": "x"}))
    assert result.status == "error" and "has no access token" in result.error["message"]


def test_google_sheets_renews_a_refused_oauth2_token_once(tmp_path: Path, api):
    """A stored oAuth2Api credential: Sheets refuses the access token, the refresh token buys a new one
    at Google's token endpoint, and the request goes again with it."""
    token = api.post("https://oauth2.googleapis.com/token").mock(return_value=httpx.Response(200, json={
        "access_token": "ya29.fresh", "expires_in": 3599, "scope": "https://www.googleapis.com/auth/spreadsheets",
        "token_type": "Bearer"}))
    sheet = api.get(url__startswith=f"https://sheets.googleapis.com/v4/spreadsheets/{SHEET_ID}/values/").mock(
        side_effect=[httpx.Response(401, json={"error": {"code": 401, "message": "Invalid Credentials",
                                                         "status": "UNAUTHENTICATED"}}),
                     httpx.Response(200, json={"range": "Sheet1!A1:B2", "majorDimension": "ROWS",
                                               "values": [["Name"], ["Ada"]]})])
    google = {"grantType": "authorizationCode", "authUrl": "https://accounts.google.com/o/oauth2/v2/auth",
              "accessTokenUrl": "https://oauth2.googleapis.com/token", "clientId": "123.apps.googleusercontent.com",
              "clientSecret": "GOCSPX-secret", "scope": "https://www.googleapis.com/auth/spreadsheets",
              "accessToken": "ya29.stale", "refreshToken": "1//0g-refresh", "expiresAt": "2099-01-01T00:00:00+00:00"}

    async def main() -> Any:
        services = Harness(Settings.load(tmp_path / "data", ui=False))
        await services.start(consume=False, schedule=False, recover=False)
        try:
            made = await services.create_credential("Google", "oAuth2Api", google)
            node = {"name": "N", "type": "googleSheets", "credentials": {"oAuth2Api": made["id"]},
                    "parameters": {"resource": "values", "operation": "get", "spreadsheetId": SHEET_ID,
                                   "range": "Sheet1!A1:B2"}}
            start = {"name": "Start", "type": "manualTrigger", "parameters": {}}
            return await services.run_manual({"name": "sheets", "nodes": [start, node], "connections": {
                "Start": {"main": [[{"node": "N", "type": "main", "index": 0}]]}}})
        finally:
            await services.stop(timeout=1)

    result = asyncio.run(main())
    assert out(result) == [{"Name": "Ada"}]
    assert [c.request.headers["authorization"] for c in sheet.calls] == ["Bearer ya29.stale", "Bearer ya29.fresh"]
    assert token.call_count == 1
    assert dict(parse_qsl(token.calls[0].request.content.decode())) == {"grant_type": "refresh_token",
                                                                       "refresh_token": "1//0g-refresh"}


# ---------------------------------------------------------------- OpenAI-compatible chat

OPENAI = ("openAiApi", {"token": "sk-proj-abc123", "url": "https://api.openai.com/v1"})
COMPLETION = {"id": "chatcmpl-123", "object": "chat.completion", "created": 1677652288, "model": "gpt-4o-mini",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"},
                           "logprobs": None, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}}


def test_openai_chat_completion_returns_the_message(run_node, api):
    route = api.post("https://api.openai.com/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=COMPLETION))
    result = run(run_node, "openAiChat", {"resource": "chat", "operation": "complete", "temperature": 0.2}, OPENAI,
                 [{"prompt": "Say hello"}])
    assert out(result) == [{"role": "assistant", "content": "Hello there!"}]
    request = route.calls[0].request
    assert request.headers["authorization"] == "Bearer sk-proj-abc123"
    assert json.loads(request.content) == {"model": "gpt-4o-mini", "temperature": 0.2,
                                           "messages": [{"role": "user", "content": "Say hello"}]}


def test_openai_compatible_base_url_from_the_credential(run_node, api):
    route = api.post("http://127.0.0.1:11434/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=COMPLETION))
    result = run(run_node, "openAiChat", {"resource": "chat", "operation": "complete", "model": "llama3.2",
                                          "messages": [{"role": "system", "content": "Be brief"},
                                                       {"role": "user", "content": "Hi"}]},
                 ("openAiApi", {"token": "ollama", "url": "http://127.0.0.1:11434/v1/"}))
    assert out(result)[0]["content"] == "Hello there!"
    assert json.loads(route.calls[0].request.content)["model"] == "llama3.2"


def test_openai_default_base_url_when_the_credential_has_none(run_node, api):
    api.post("https://api.openai.com/v1/chat/completions").mock(return_value=httpx.Response(200, json=COMPLETION))
    result = run(run_node, "openAiChat", {"resource": "chat", "operation": "complete"},
                 ("openAiApi", {"token": "sk-x"}), [{"prompt": "hi"}])
    assert out(result)[0]["role"] == "assistant"


# ---------------------------------------------------------------- Stripe

STRIPE = ("stripeApi", {"user": "sk_test_4eC39HqLyjWDarjtT1zdp7dc"})


def test_stripe_list_customers_with_starting_after(run_node, api):
    route = api.get("https://api.stripe.com/v1/customers").mock(side_effect=[
        httpx.Response(200, json={"object": "list", "url": "/v1/customers", "has_more": True,
                                  "data": [{"id": "cus_NffrFeUfNV2Hib", "object": "customer"},
                                           {"id": "cus_NffrFeUfNV2Hic", "object": "customer"}]}),
        httpx.Response(200, json={"object": "list", "url": "/v1/customers", "has_more": False,
                                  "data": [{"id": "cus_NffrFeUfNV2Hid", "object": "customer"}]}),
    ])
    result = run(run_node, "stripe", {"resource": "customer", "operation": "list", "returnAll": True}, STRIPE)
    assert [c["id"] for c in out(result)] == ["cus_NffrFeUfNV2Hib", "cus_NffrFeUfNV2Hic", "cus_NffrFeUfNV2Hid"]
    first, second = (c.request for c in route.calls)
    assert first.headers["authorization"] == basic("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "")
    assert dict(first.url.params) == {"limit": "100"}
    assert dict(second.url.params) == {"limit": "100", "starting_after": "cus_NffrFeUfNV2Hic"}


def test_stripe_create_customer_is_form_encoded(run_node, api):
    customer = {"id": "cus_NffrFeUfNV2Hib", "object": "customer", "email": "jennyrosen@example.com",
                "name": "Jenny Rosen", "metadata": {"orderId": "6735"}}
    route = api.post("https://api.stripe.com/v1/customers").mock(return_value=httpx.Response(200, json=customer))
    result = run(run_node, "stripe", {"resource": "customer", "operation": "create", "name": "Jenny Rosen",
                                      "email": "jennyrosen@example.com", "metadata": {"orderId": "6735"}}, STRIPE)
    assert out(result) == [customer]
    request = route.calls[0].request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.content == b"email=jennyrosen%40example.com&name=Jenny+Rosen&metadata%5BorderId%5D=6735"


# ---------------------------------------------------------------- Twilio

TWILIO = ("twilioApi", {"user": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "password": "your_auth_token"})


def test_twilio_send_sms(run_node, api):
    message = {"sid": "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "account_sid": TWILIO[1]["user"], "status": "queued",
               "to": "+15558675310", "from": "+15017122661", "body": "Hi there", "direction": "outbound-api"}
    route = api.post(f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO[1]['user']}/Messages.json").mock(
        return_value=httpx.Response(201, json=message))
    result = run(run_node, "twilio", {"resource": "sms", "operation": "send", "from": "+15017122661",
                                      "to": "+15558675310", "message": "Hi there"}, TWILIO)
    assert out(result) == [message]
    request = route.calls[0].request
    assert request.headers["authorization"] == basic(TWILIO[1]["user"], "your_auth_token")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.content == b"From=%2B15017122661&To=%2B15558675310&Body=Hi+there"


# ---------------------------------------------------------------- 401 from every service

REJECTED = [
    ("slack", SLACK, {"resource": "user", "operation": "get", "user": "U1"}, "GET", "https://slack.com/api/users.info",
     {"ok": False, "error": "not_authed"}, "not_authed"),
    ("discord", BOT, {"authentication": "discordBotApi", "resource": "message", "operation": "send", "channelId": "1",
                      "content": "x"}, "POST", "https://discord.com/api/v10/channels/1/messages",
     {"message": "401: Unauthorized", "code": 0}, "401: Unauthorized"),
    ("telegram", TELEGRAM, {"resource": "update", "operation": "get"}, "POST", f"{BOT_URL}/getUpdates",
     {"ok": False, "error_code": 401, "description": "Unauthorized"}, "Unauthorized"),
    ("github", GITHUB, {"resource": "repository", "operation": "get", "owner": "o", "repo": "r"}, "GET",
     "https://api.github.com/repos/o/r",
     {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, "Bad credentials"),
    ("notion", NOTION, {"resource": "page", "operation": "create", "databaseId": DB, "properties": {"a": 1}}, "POST",
     "https://api.notion.com/v1/pages",
     {"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid."},
     "API token is invalid."),
    ("airtable", AIRTABLE, {"resource": "record", "operation": "list", "baseId": "appX", "table": "T"}, "GET",
     "https://api.airtable.com/v0/appX/T",
     {"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}}, "Authentication required"),
    ("googleSheets", SHEETS, {"resource": "values", "operation": "get", "spreadsheetId": "S", "range": "A1"}, "GET",
     "https://sheets.googleapis.com/v4/spreadsheets/S/values/A1",
     {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                "status": "UNAUTHENTICATED"}}, "Request had invalid authentication credentials."),
    ("openAiChat", OPENAI, {"resource": "chat", "operation": "complete"}, "POST",
     "https://api.openai.com/v1/chat/completions",
     {"error": {"message": "Incorrect API key provided: sk-proj-***123.", "type": "invalid_request_error",
                "param": None, "code": "invalid_api_key"}}, "Incorrect API key provided: sk-proj-***123."),
    ("stripe", STRIPE, {"resource": "customer", "operation": "list"}, "GET", "https://api.stripe.com/v1/customers",
     {"error": {"message": "Invalid API Key provided: sk_test_****7dc", "type": "invalid_request_error"}},
     "Invalid API Key provided: sk_test_****7dc"),
    ("twilio", TWILIO, {"resource": "sms", "operation": "send", "from": "+1", "to": "+2", "message": "x"}, "POST",
     f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO[1]['user']}/Messages.json",
     {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003",
      "status": 401}, "Authenticate"),
]
NAMES = {"slack": "Slack", "discord": "Discord", "telegram": "Telegram", "github": "GitHub", "notion": "Notion",
         "airtable": "Airtable", "googleSheets": "Google Sheets", "openAiChat": "OpenAI Chat", "stripe": "Stripe",
         "twilio": "Twilio"}


@pytest.mark.parametrize("type_, credential, params, method, url, body, message", REJECTED,
                         ids=[r[0] for r in REJECTED])
def test_a_401_is_a_credential_rejected_error(run_node, api, type_, credential, params, method, url, body, message):
    status = 200 if type_ == "slack" else 401  # Slack answers 200 {"ok": false}
    api.route(method=method, url=url).mock(return_value=httpx.Response(status, json=body))
    result = run(run_node, type_, params, credential, [{"prompt": "x"}])
    assert result.status == "error"
    assert result.error["message"] == f"credential rejected by {NAMES[type_]}: {message}"
    assert result.error["node"] == "N"
