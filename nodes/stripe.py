"""Stripe: list and create customers (API, https://docs.stripe.com/api).

Stripe takes form-encoded bodies (`metadata[key]=value`) and the secret key as the Basic-auth user;
lists page with `starting_after=<last id>` while `has_more` is true.
"""

from flowbox.credentials import CredentialTest, CredentialType, register
from flowbox.node import Param
from flowbox.service_node import Operation, Pagination, Service, service_node

register(CredentialType(
    "stripeApi", "Stripe API", (
        Param("user", "string", label="Secret key", required=True, secret=True,
              description="sk_live_... or sk_test_... (a restricted rk_ key works too)"),),
    sign="basic", test=CredentialTest("https://api.stripe.com/v1/balance"),
    description="Stripe secret key, sent as the HTTP Basic user name"))

EMAIL = Param("email", "string", default="", description="The customer's email address (list: only this one)")

service_node(Service(
    type="stripe", display_name="Stripe", icon="payments", description="List and create Stripe customers",
    base_url="https://api.stripe.com/v1", credentials=["stripeApi"], error_paths=("error.message",),
    resources={
        "customer": [
            Operation("list", "GET", "/customers", "List customers, newest first",
                      params=[EMAIL],
                      query={"email": "{email}"}, items="data",
                      pagination=Pagination("cursor", param="starting_after", next_from_item="id",
                                            has_more="has_more", size_param="limit", max_size=100)),
            Operation("create", "POST", "/customers", "Create a customer",
                      params=[EMAIL,
                              Param("name", "string", default="", description="Full name or business name"),
                              Param("description", "string", default=""),
                              Param("phone", "string", default=""),
                              Param("metadata", "json", default=None,
                                    description="Your own key-value pairs, like {\"orderId\": \"6735\"}")],
                      body={"email": "{email}", "name": "{name}", "description": "{description}", "phone": "{phone}",
                            "metadata": "{metadata}"},
                      body_type="form"),
        ],
    },
))
