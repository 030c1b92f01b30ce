"""Telegram: send messages and read updates as a bot (Bot API, https://core.telegram.org/bots/api).

The bot token is part of the URL (`https://api.telegram.org/bot<token>/<method>`); Telegram answers
`{"ok": true, "result": ...}`, or `{"ok": false, "error_code", "description"}`.
"""

from flowbox.credentials import CredentialType, register
from flowbox.node import Param
from flowbox.service_node import Operation, Service, service_node

register(CredentialType(
    "telegramApi", "Telegram Bot", (
        Param("accessToken", "string", label="Bot token", required=True, secret=True,
              description="The token @BotFather gave, like 123456:ABC-DEF..."),),
    description="A Telegram bot token (it becomes part of the request URL)"))

service_node(Service(
    type="telegram", display_name="Telegram", icon="send", description="Send Telegram messages and read bot updates",
    base_url="https://api.telegram.org/bot{credential.accessToken}", credentials=["telegramApi"],
    ok_field="ok", error_paths=("description",), retry_after_path="parameters.retry_after",
    resources={
        "message": [
            Operation("send", "POST", "/sendMessage", "Send a text message to a chat",
                      params=[Param("chatId", "string", default="", required=True, placeholder="123456789",
                                    description="The chat's ID, or @channelusername"),
                              Param("text", "string", default="", required=True, placeholder="Hello from flowbox"),
                              Param("parseMode", "options", default="", options=["", "MarkdownV2", "HTML", "Markdown"],
                                    description="How Telegram formats the text"),
                              Param("disableNotification", "boolean", default=False,
                                    description="Send silently")],
                      body={"chat_id": "{chatId}", "text": "{text}", "parse_mode": "{parseMode}",
                            "disable_notification": "{disableNotification}"},
                      output="result"),
        ],
        "update": [
            Operation("get", "POST", "/getUpdates", "Get the bot's incoming updates",
                      params=[Param("offset", "number", default=None, integer=True,
                                    description="First update to return: the last seen update_id + 1"),
                              Param("maxUpdates", "number", default=100, min=1, max=100,
                                    description="How many updates at most (1-100)"),
                              Param("allowedUpdates", "json", default=None,
                                    description='Update types to receive, like ["message"]')],
                      body={"offset": "{offset}", "limit": "{maxUpdates}", "allowed_updates": "{allowedUpdates}"},
                      items="result"),
        ],
    },
))
