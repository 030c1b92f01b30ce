"""Google Sheets: read, append and update cell values (API v4, https://developers.google.com/sheets/api).

Signs with an `oAuth2Api` credential (Authorization: Bearer <access token>). Reading can turn the
first row into field names, so each further row becomes one item.
"""

from collections.abc import Mapping
from typing import Any

from flowbox.node import Param
from flowbox.service_node import Operation, Service, service_node

SHEET = Param("spreadsheetId", "string", default="", required=True,
              placeholder="1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
              description="The spreadsheet's ID (from its URL)")
RANGE = Param("range", "string", default="", required=True, placeholder="Sheet1!A1:D",
              description="A range in A1 notation")
VALUES = Param("values", "json", default=[], required=True, description='Rows of cell values, like [["Ada", 36]]')
INPUT = Param("valueInputOption", "options", default="USER_ENTERED", options=["USER_ENTERED", "RAW"],
              description="USER_ENTERED parses values as if typed in the UI; RAW stores them as given")


def rows(data: Any, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The range's rows: with `headerRow`, objects keyed by the first row; otherwise {"row": [...]}."""
    values = (data.get("values") or []) if isinstance(data, dict) else []
    if not params.get("headerRow"):
        return [{"row": row} for row in values]
    if not values:
        return []
    header = [str(name) for name in values[0]]
    return [{name: (row[n] if n < len(row) else "") for n, name in enumerate(header)} for row in values[1:]]


service_node(Service(
    type="googleSheets", display_name="Google Sheets", icon="grid_on",
    description="Read, append and update rows in a Google Sheets spreadsheet",
    base_url="https://sheets.googleapis.com/v4/spreadsheets", credentials=["oAuth2Api"],
    error_paths=("error.message", "error.status"),
    resources={
        "values": [
            Operation("get", "GET", "/{spreadsheetId}/values/{range}", "Read a range",
                      params=[SHEET, RANGE,
                              Param("headerRow", "boolean", default=True,
                                    description="Use the first row as field names (one item per further row)"),
                              Param("valueRenderOption", "options", default="FORMATTED_VALUE",
                                    options=["FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"])],
                      query={"valueRenderOption": "{valueRenderOption}"}, shape=rows),
            Operation("append", "POST", "/{spreadsheetId}/values/{range}:append", "Append rows after a table",
                      params=[SHEET, RANGE, VALUES, INPUT],
                      query={"valueInputOption": "{valueInputOption}", "insertDataOption": "INSERT_ROWS"},
                      body={"values": "{values}"}),
            Operation("update", "PUT", "/{spreadsheetId}/values/{range}", "Overwrite the cells of a range",
                      params=[SHEET, RANGE, VALUES, INPUT],
                      query={"valueInputOption": "{valueInputOption}"}, body={"values": "{values}"}),
        ],
    },
))
