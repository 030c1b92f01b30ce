"""DebugHelper: cause problems on purpose and make test data (n8n's debugHelper v1).

category "doNothing" outputs nothing (as n8n's does); "throwError" fails with `throwErrorMessage`;
"oom" does NOT exhaust memory here: it fails with a NodeError saying what it simulates (a flowbox server
shares its process with other workflows); "randomData" makes `randomDataCount` items per input item with
Faker, the same ones for the same `randomDataSeed`, shaped like n8n's (user: uid, email, firstname,
lastname, password; email: email, confirmed; address; creditCard; uuid; nanoid; url; ipv4; ipv6;
macAddress: mac; latLong: location; semver: version).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params

CATEGORIES = ("doNothing", "throwError", "oom", "randomData")
DATA_TYPES = ("address", "latLong", "creditCard", "email", "ipv4", "ipv6", "macAddress", "nanoid", "url", "user",
              "uuid", "semver")
NANOID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def generators(fake: Any, alphabet: str, length: int) -> dict[str, Callable[[], dict[str, Any]]]:
    """One record maker per data type, drawing from the (seeded) Faker `fake`."""
    def credit_card() -> dict[str, Any]:
        return {"type": "MasterCard" if fake.boolean() else "Visa", "number": fake.credit_card_number(),
                "ccv": fake.credit_card_security_code(),
                "exp": f"{fake.random_int(1, 12):02d}/{fake.random_int(1, 40):02d}",
                "holder_name": f"{fake.first_name()} {fake.last_name()}"}

    def location() -> dict[str, Any]:
        lat, lng = fake.latlng()
        return {"location": f"{float(lat)}, {float(lng)}"}

    return {
        "user": lambda: {"uid": fake.uuid4(), "email": fake.email(), "firstname": fake.first_name(),
                         "lastname": fake.last_name(), "password": fake.password()},
        "email": lambda: {"email": fake.email(), "confirmed": fake.boolean()},
        "address": lambda: {"firstname": fake.first_name(), "lastname": fake.last_name(),
                            "street": fake.street_address(), "city": fake.city(), "zip": fake.numerify("#####"),
                            "state": fake.state(), "country": fake.country()},
        "creditCard": credit_card,
        "uuid": lambda: {"uuid": fake.uuid4()},
        "nanoid": lambda: {"nanoId": "".join(fake.random_element(alphabet) for _ in range(length))},
        "url": lambda: {"url": fake.url()},
        "ipv4": lambda: {"ip": fake.ipv4()},
        "ipv6": lambda: {"ipv6": fake.ipv6()},
        "macAddress": lambda: {"mac": fake.mac_address()},
        "latLong": location,
        "semver": lambda: {"version": fake.numerify("%.#.#")},
    }


def random_records(ctx: Context) -> list[dict[str, Any]]:
    """`randomDataCount` records of `randomDataType`, seeded by `randomDataSeed` when it is set."""
    from faker import Faker

    kind = ctx.param("randomDataType")
    count = ctx.param("randomDataCount")
    alphabet = ctx.param("nanoidAlphabet")
    length = ctx.param("nanoidLength")
    fake = Faker("en_US")
    seed = ctx.param("randomDataSeed")
    if seed not in (None, ""):
        fake.seed_instance(str(seed))
    make = generators(fake, alphabet, length)[kind]
    return [make() for _ in range(count)]


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's DebugHelper v1 (same names). Random data is made by Faker: same shapes as n8n's, other values
    for the same seed; "oom" fails the node instead of exhausting the server's memory."""
    p = Params(params, version)
    out = p.same(("category", "throwErrorType", "throwErrorMessage", "memorySizeValue", "randomDataType",
                  "nanoidAlphabet", "nanoidLength", "randomDataSeed", "randomDataCount", "randomDataSingleArray"))
    category = out.get("category", "throwError")
    if category not in CATEGORIES:
        p.unsupported(f"category {category!r} is not supported")
    elif category == "randomData" and out.get("randomDataType", "user") not in DATA_TYPES:
        p.unsupported(f"randomDataType {out['randomDataType']!r} is not supported")
    elif category == "randomData":
        p.approximated("random data comes from Faker: n8n's shapes, other values (also for the same seed)")
    elif category == "oom":
        p.approximated("'oom' fails the node with an error instead of running out of memory")
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.debugHelper",), versions=(1,), convert=from_n8n)

@node(n8n=N8N, type="debugHelper", display_name="DebugHelper", group="transform", icon="bug_report",
      description="Cause problems on purpose (throw an error, simulate running out of memory) or make random data",
      params=[
          Param("category", "options", "throwError", options=CATEGORIES, required=True),
          Param("throwErrorType", "options", "NodeApiError", options=("NodeApiError", "NodeOperationError", "Error"),
                show_if={"category": ["throwError"]}),
          Param("throwErrorMessage", "string", "Node has thrown an error", show_if={"category": ["throwError"]},
                description="The message of the error"),
          Param("memorySizeValue", "number", 10, min=0, show_if={"category": ["oom"]},
                description="MB n8n would allocate; flowbox fails with an error saying so instead"),
          Param("randomDataType", "options", "user", options=DATA_TYPES, show_if={"category": ["randomData"]}),
          Param("nanoidAlphabet", "string", NANOID_ALPHABET,
                show_if={"category": ["randomData"], "randomDataType": ["nanoid"]}),
          Param("nanoidLength", "number", 16, min=1, integer=True, show_if={"category": ["randomData"], "randomDataType": ["nanoid"]}),
          Param("randomDataSeed", "string", "", placeholder="Leave empty for random seed",
                show_if={"category": ["randomData"]}, description="The same seed makes the same data"),
          Param("randomDataCount", "number", 10, min=0, max=100_000, integer=True,
                show_if={"category": ["randomData"]}, description="How many items to generate"),
          Param("randomDataSingleArray", "boolean", False, show_if={"category": ["randomData"]},
                description="Output one item with `generatedItems` instead of one item each"),
      ])
async def debug_helper(ctx: Context, items: list[Item]) -> list[list[Item]]:
    category = ctx.param("category")
    out: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            if category == "throwError":
                raise ctx.error(ctx.param("throwErrorMessage"), i)
            if category == "oom":
                size = ctx.param("memorySizeValue")
                raise ctx.error(f"simulated out of memory: category 'oom' would allocate about {size:g} MB until the "
                                f"process runs out of memory; flowbox refuses to exhaust the server's memory and "
                                f"fails the node instead", i)
            if category == "randomData":
                records = random_records(ctx)
                if ctx.param("randomDataSingleArray"):
                    out.append(Item({"generatedItems": records}, None, item))
                else:
                    out.extend(Item(record, None, item) for record in records)
        except Exception as exc:
            errors.fail(item, i, exc, out)
    return errors.outputs(out)
