"""Twilio: send an SMS (Programmable Messaging, https://www.twilio.com/docs/messaging/api/message-resource).

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, with the Account SID and
Auth Token as HTTP Basic credentials.
"""

from flowbox.credentials import CredentialTest, CredentialType, register
from flowbox.node import Param
from flowbox.service_node import Operation, Service, service_node

register(CredentialType(
    "twilioApi", "Twilio API", (
        Param("user", "string", label="Account SID", required=True, description="AC... (from the Twilio console)"),
        Param("password", "string", label="Auth token", required=True, secret=True)),
    sign="basic", test=CredentialTest("https://api.twilio.com/2010-04-01/Accounts/{user}.json"),
    description="Twilio Account SID and Auth Token (HTTP Basic)"))

service_node(Service(
    type="twilio", display_name="Twilio", icon="sms", description="Send SMS messages with Twilio",
    base_url="https://api.twilio.com/2010-04-01", credentials=["twilioApi"], error_paths=("message",),
    resources={
        "sms": [
            Operation("send", "POST", "/Accounts/{credential.user}/Messages.json", "Send an SMS",
                      params=[Param("from", "string", default="", required=True, placeholder="+15017122661",
                                    description="A Twilio phone number (E.164) or messaging service SID"),
                              Param("to", "string", default="", required=True, placeholder="+15558675310",
                                    description="The recipient's number (E.164)"),
                              Param("message", "string", default="", required=True, placeholder="Hello from flowbox"),
                              Param("mediaUrl", "string", default="", description="URL of an image to send (MMS)")],
                      body={"From": "{from}", "To": "{to}", "Body": "{message}", "MediaUrl": "{mediaUrl}"},
                      body_type="form"),
        ],
    },
))
