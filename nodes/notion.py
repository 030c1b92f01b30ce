"""Notion: query a database and create pages (API, https://developers.notion.com/reference).

Every request carries the `Notion-Version` header the API requires; a database query pages with
`start_cursor` in the JSON body (`next_cursor` / `has_more` in the answer).
"""

from flowbox.credentials import CredentialType, register
from flowbox.node import Param
from flowbox.service_node import Operation, Pagination, Service, service_node

NOTION_VERSION = "2022-06-28"

register(CredentialType(
    "notionApi", "Notion API", (
        Param("token", "string", label="Integration token", required=True, secret=True,
              description="An internal integration secret (the pages must be shared with it)"),),
    sign="bearer", description="Notion integration token, sent as Authorization: Bearer"))

DATABASE = Param("databaseId", "string", default="", required=True, placeholder="897e5a76ae524b489fdfe71f5945d1af",
                 description="The database's ID (from its URL)")

service_node(Service(
    type="notion", display_name="Notion", icon="article", description="Query Notion databases and create pages",
    base_url="https://api.notion.com/v1", credentials=["notionApi"], headers={"Notion-Version": NOTION_VERSION},
    error_paths=("message",),
    resources={
        "database": [
            Operation("query", "POST", "/databases/{databaseId}/query", "Get the pages of a database",
                      params=[DATABASE,
                              Param("filter", "json", default=None, description="A Notion filter object"),
                              Param("sorts", "json", default=None, description="A list of sort objects")],
                      body={"filter": "{filter}", "sorts": "{sorts}"}, items="results",
                      pagination=Pagination("cursor", param="start_cursor", next="next_cursor", has_more="has_more",
                                            size_param="page_size", max_size=100, in_body=True)),
        ],
        "page": [
            Operation("create", "POST", "/pages", "Create a page in a database",
                      params=[DATABASE,
                              Param("properties", "json", default={}, required=True,
                                    description='Property values, like {"Name": {"title": [{"text": '
                                                '{"content": "Hello"}}]}}'),
                              Param("children", "json", default=None, description="Content blocks (a list)")],
                      body={"parent.database_id": "{databaseId}", "properties": "{properties}",
                            "children": "{children}"}),
        ],
    },
))
