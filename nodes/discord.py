"""Discord: send a message through a webhook, or as a bot to a channel (https://discord.com/developers/docs).

A webhook needs only its URL (a `discordWebhookApi` credential, since the URL holds the webhook's
token); a bot message needs a bot token, sent as `Authorization: Bot <token>`.
"""

from flowbox.credentials import CredentialType, register
from flowbox.node import Param
from flowbox.service_node import Auth, Operation, Service, service_node

register(CredentialType(
    "discordWebhookApi", "Discord Webhook", (
        Param("webhookUri", "string", label="Webhook URL", required=True, secret=True,
              description="https://discord.com/api/webhooks/<id>/<token>"),),
    description="A channel webhook URL (it contains the webhook's token)"))
register(CredentialType(
    "discordBotApi", "Discord Bot", (
        Param("token", "string", label="Bot token", required=True, secret=True),),
    description="A bot token, sent as Authorization: Bot <token>"))

CONTENT = Param("content", "string", default="", required=True, placeholder="Hello from flowbox",
                description="The message text (up to 2000 characters)")
EMBEDS = Param("embeds", "json", default=None, description="Rich embeds (a list of embed objects)")

service_node(Service(
    type="discord", display_name="Discord", icon="forum", description="Send messages to Discord channels",
    base_url="https://discord.com/api/v10",
    credentials=["discordWebhookApi", Auth("discordBotApi", headers={"Authorization": "Bot {credential.token}"})],
    error_paths=("message",), retry_after_path="retry_after",
    resources={
        "webhook": [
            Operation("send", "POST", "", "Send a message through the channel webhook",
                      base_url="{credential.webhookUri}", credentials=["discordWebhookApi"],
                      params=[CONTENT,
                              Param("username", "string", default="", description="Override the webhook's name"),
                              Param("avatarUrl", "string", default="", description="Override the webhook's avatar"),
                              EMBEDS],
                      query={"wait": "true"},
                      body={"content": "{content}", "username": "{username}", "avatar_url": "{avatarUrl}",
                            "embeds": "{embeds}"}),
        ],
        "message": [
            Operation("send", "POST", "/channels/{channelId}/messages", "Send a message to a channel as the bot",
                      credentials=["discordBotApi"],
                      params=[Param("channelId", "string", default="", required=True, placeholder="123456789012345678",
                                    description="The channel's ID"),
                              CONTENT, EMBEDS],
                      body={"content": "{content}", "embeds": "{embeds}"}),
        ],
    },
))
