"""OpenAI-compatible chat completion: send messages, get the assistant's message back.

Works with any server that speaks OpenAI's `POST {base URL}/chat/completions` (OpenAI, Azure-style
proxies, Ollama, vLLM, LM Studio...): the base URL is part of the credential.
"""

from flowbox.credentials import CredentialTest, CredentialType, register
from flowbox.node import Param
from flowbox.service_node import Operation, Service, service_node

register(CredentialType(
    "openAiApi", "OpenAI-compatible API", (
        Param("token", "string", label="API key", required=True, secret=True),
        Param("url", "string", label="Base URL", default="https://api.openai.com/v1",
              description="The API's base URL, up to and including /v1")),
    sign="bearer", test=CredentialTest("{url}/models"),
    description="API key (Authorization: Bearer) and base URL of an OpenAI-compatible server"))

service_node(Service(
    type="openAiChat", display_name="OpenAI Chat", icon="smart_toy",
    description="Chat completion with OpenAI or any OpenAI-compatible server; outputs the assistant's message",
    base_url="{credential.url}", credentials=["openAiApi"], timeout=300.0,
    error_paths=("error.message", "message", "error"),
    resources={
        "chat": [
            Operation("complete", "POST", "/chat/completions", "Get the next message of a conversation",
                      params=[Param("model", "string", default="gpt-4o-mini", required=True,
                                    description="The model's name on that server"),
                              Param("messages", "json", required=True,
                                    default=[{"role": "user", "content": "{{ $json.prompt }}"}],
                                    description='The conversation: [{"role": "system"|"user"|"assistant", '
                                                '"content": "..."}]'),
                              Param("temperature", "number", default=None, min=0, max=2,
                                    description="Sampling temperature (empty: the server's default)"),
                              Param("maxTokens", "number", default=None, min=1, integer=True,
                                    description="Most tokens to generate (empty: no limit)")],
                      body={"model": "{model}", "messages": "{messages}", "temperature": "{temperature}",
                            "max_tokens": "{maxTokens}"},
                      output="choices.0.message"),
        ],
    },
))
