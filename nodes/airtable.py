"""Airtable: list, create and update records (Web API, https://airtable.com/developers/web/api).

Lists page with the `offset` token Airtable returns until it returns none.
"""

from flowbox.credentials import CredentialTest, CredentialType, register
from flowbox.node import Param
from flowbox.service_node import Operation, Pagination, Service, service_node

register(CredentialType(
    "airtableTokenApi", "Airtable Personal Access Token", (
        Param("token", "string", label="Access token", required=True, secret=True,
              description="A personal access token (pat...) with the data.records scopes"),),
    sign="bearer", test=CredentialTest("https://api.airtable.com/v0/meta/whoami"),
    description="Airtable personal access token, sent as Authorization: Bearer"))

BASE = Param("baseId", "string", default="", required=True, placeholder="appXXXXXXXXXXXXXX",
             description="The base's ID")
TABLE = Param("table", "string", default="", required=True, placeholder="Tasks", description="Table name or ID")
FIELDS = Param("fields", "json", default={}, required=True, description='Field values, like {"Name": "Ada"}')
TYPECAST = Param("typecast", "boolean", default=False,
                 description="Let Airtable convert string values to the fields' types")

service_node(Service(
    type="airtable", display_name="Airtable", icon="table_chart", description="List, create and update Airtable records",
    base_url="https://api.airtable.com/v0", credentials=["airtableTokenApi"],
    error_paths=("error.message", "error.type", "error"),
    resources={
        "record": [
            Operation("list", "GET", "/{baseId}/{table}", "List a table's records",
                      params=[BASE, TABLE,
                              Param("view", "string", default="", description="Only the records of this view"),
                              Param("filterByFormula", "string", default="",
                                    description="Only records for which this formula is true")],
                      query={"view": "{view}", "filterByFormula": "{filterByFormula}"}, items="records",
                      pagination=Pagination("cursor", param="offset", next="offset", size_param="pageSize",
                                            max_size=100)),
            Operation("create", "POST", "/{baseId}/{table}", "Create a record",
                      params=[BASE, TABLE, FIELDS, TYPECAST],
                      body={"fields": "{fields}", "typecast": "{typecast}"}),
            Operation("update", "PATCH", "/{baseId}/{table}/{recordId}", "Update some fields of a record",
                      params=[BASE, TABLE,
                              Param("recordId", "string", default="", required=True, placeholder="recXXXXXXXXXXXXXX"),
                              FIELDS, TYPECAST],
                      body={"fields": "{fields}", "typecast": "{typecast}"}),
        ],
    },
))
