"""Slack: post messages, list conversations, look up users (Web API, https://api.slack.com/methods).

Slack answers HTTP 200 with `{"ok": false, "error": "<code>"}` when a call fails; that becomes a node
error ("credential rejected by Slack: invalid_auth" for the token errors).
"""

from flowbox.credentials import CredentialTest, CredentialType, register
from flowbox.node import Param
from flowbox.service_node import Operation, Pagination, Service, service_node

register(CredentialType(
    "slackApi", "Slack API", (
        Param("token", "string", label="Access token", required=True, secret=True,
              description="A bot (xoxb-) or user (xoxp-) token"),),
    sign="bearer", test=CredentialTest("https://slack.com/api/auth.test"),
    description="Slack bot or user token, sent as Authorization: Bearer"))

CHANNEL = Param("channel", "string", default="", required=True, placeholder="C0123456789",
                description="Channel, private group or IM channel ID (or name) to send to")

service_node(Service(
    type="slack", display_name="Slack", icon="chat", description="Send messages to Slack and read channels and users",
    base_url="https://slack.com/api", credentials=["slackApi"],
    ok_field="ok", error_paths=("error",),
    auth_errors=("not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired",
                 "no_permission", "missing_scope", "not_allowed_token_type"),
    resources={
        "message": [
            Operation("post", "POST", "/chat.postMessage", "Send a message to a channel",
                      params=[CHANNEL,
                              Param("text", "string", default="", required=True, placeholder="Hello from flowbox",
                                    description="The message text (mrkdwn)"),
                              Param("threadTs", "string", default="",
                                    description="Reply in the thread of this message timestamp"),
                              Param("blocks", "json", default=None, description="Block Kit blocks (a list)")],
                      body={"channel": "{channel}", "text": "{text}", "thread_ts": "{threadTs}",
                            "blocks": "{blocks}"}),
        ],
        "channel": [
            Operation("list", "GET", "/conversations.list", "List the workspace's conversations",
                      params=[Param("types", "string", default="public_channel",
                                    description="Comma-separated: public_channel, private_channel, mpim, im"),
                              Param("excludeArchived", "boolean", default=True)],
                      query={"types": "{types}", "exclude_archived": "{excludeArchived}"}, items="channels",
                      pagination=Pagination("cursor", param="cursor", next="response_metadata.next_cursor",
                                            size_param="limit", max_size=200)),
        ],
        "user": [
            Operation("get", "GET", "/users.info", "Get a user's profile",
                      params=[Param("user", "string", default="", required=True, placeholder="U0123456789",
                                    description="The user's ID")],
                      query={"user": "{user}"}, output="user"),
        ],
    },
))
