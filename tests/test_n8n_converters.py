"""Each node's n8n converter (`NodeSpec.n8n`): n8n's parameter layouts per typeVersion (defaults left out,
as n8n's exports do) become the flowbox node's parameters; what flowbox's node cannot do becomes a
placeholder. Then expression-free n8n workflows run through `flowbox run --json` and give the output
n8n documents for them, node by node (pairedItem dropped, as n8n's test harness compares)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from n8n_support import n8n_chain, n8n_node, n8n_workflow, outputs, placeholder_check, run_json

from flowbox.n8n import convert
from flowbox.workflow import load_workflow, validate_for_run


def converted(kind: str, version: float, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The flowbox node an n8n node `kind` converts to (after a manual trigger), checked runnable."""
    nodes = [n8n_node("Start", "manualTrigger"), n8n_node("Node", kind, version, params, **fields)]
    conversion = convert(n8n_workflow(*nodes, connections={} if kind == "stickyNote" else None))  # notes: no inputs
    validate_for_run(load_workflow(conversion.workflow))
    return conversion.workflow["nodes"][1]


def cond(left: Any, operation: str, right: Any = None, kind: str = "string") -> dict[str, Any]:
    """One condition of n8n's filter layout (If v2, Filter v2, Switch v3)."""
    row = {"id": "x", "leftValue": left, "operator": {"type": kind, "operation": operation}}
    return row if right is None else {**row, "rightValue": right}


def conditions(*rows: dict[str, Any], combinator: str = "and", **options: Any) -> dict[str, Any]:
    return {"options": {"caseSensitive": True, "leftValue": "", "typeValidation": "strict", **options},
            "conditions": list(rows), "combinator": combinator}


CONVERTED = [
    ("manualTrigger", 1, {}, "manualTrigger", {}),
    ("start", 1, {}, "manualTrigger", {}),
    ("noOp", 1, {}, "noOp", {}),
    ("errorTrigger", 1, {}, "errorTrigger", {}),
    ("stopAndError", 1, {"errorMessage": "boom"}, "stopAndError", {"message": "boom"}),
    ("limit", 1, {}, "limit", {"max": 1, "keep": "first"}),
    ("limit", 1, {"maxItems": 3, "keep": "lastItems"}, "limit", {"max": 3, "keep": "last"}),
    ("sort", 1, {"sortFieldsUi": {"sortField": [{"fieldName": "age", "order": "descending"}, {"fieldName": "name"}]},
                 "options": {}},
     "sort", {"fields": [{"field": "age", "order": "desc"}, {"field": "name", "order": "asc"}]}),
    ("removeDuplicates", 1, {}, "removeDuplicates", {"fields": []}),
    ("removeDuplicates", 1, {"compare": "selectedFields", "fieldsToCompare": {"fields": [{"fieldName": "id"}]}},
     "removeDuplicates", {"fields": ["id"]}),
    ("removeDuplicates", 1.1, {"compare": "selectedFields", "fieldsToCompare": "id, email"},
     "removeDuplicates", {"fields": ["id", "email"]}),
    ("removeDuplicates", 2, {"operation": "removeDuplicateInputItems"}, "removeDuplicates", {"fields": []}),
    ("removeDuplicates", 2, {"compare": "allFieldsExcept", "fieldsToExclude": "id, meta.at",
                             "options": {"removeOtherFields": True}},
     "removeDuplicates", {"fields": [], "except": ["id", "meta.at"], "removeOtherFields": True}),
    ("aggregate", 1, {"fieldsToAggregate": {"fieldToAggregate": [{"fieldToAggregate": "name"}]}, "options": {}},
     "aggregate", {"fields": [{"field": "name", "outputField": ""}], "includeEmpty": False, "nullsOnly": True}),
    ("aggregate", 1, {"fieldsToAggregate": {"fieldToAggregate": [
        {"fieldToAggregate": "name", "renameField": True, "outputFieldName": "names"}]},
        "options": {"keepMissing": True}},
     "aggregate", {"fields": [{"field": "name", "outputField": "names"}], "includeEmpty": True, "nullsOnly": True}),
    ("aggregate", 1, {"fieldsToAggregate": {"fieldToAggregate": [{"fieldToAggregate": "a.b"}, {"fieldToAggregate": "c"}]},
                      "options": {"mergeLists": True}},
     "aggregate", {"fields": [{"field": "a.b", "outputField": ""}, {"field": "c", "outputField": ""}],
                   "includeEmpty": False, "nullsOnly": True, "mergeLists": True}),
    ("aggregate", 1, {"aggregate": "aggregateAllItemData", "include": "allFieldsExcept", "fieldsToExclude": "x, y"},
     "aggregate", {"all": True, "outputField": "data", "exclude": ["x", "y"]}),
    ("aggregate", 1, {"aggregate": "aggregateAllItemData"}, "aggregate", {"all": True, "outputField": "data"}),
    ("splitOut", 1, {"fieldToSplitOut": "tags", "include": "allOtherFields",
                     "options": {"destinationFieldName": "tag"}},
     "splitOut", {"field": "tags", "include": "allOtherFields", "destination": "tag"}),
    ("splitInBatches", 3, {"options": {}}, "loop", {"batchSize": 1}),
    ("splitInBatches", 3, {"batchSize": 5, "options": {}}, "loop", {"batchSize": 5}),
    ("splitInBatches", 1, {"batchSize": 2, "options": {}}, "splitInBatches", {"batchSize": 2, "reset": False}),
    ("splitInBatches", 2, {"options": {"reset": "={{ $json.again }}"}}, "splitInBatches",
     {"batchSize": 10, "reset": "={{ $json.again }}", "doneOutput": True}),
    ("executeWorkflow", 1.2, {"workflowId": {"__rl": True, "value": "abc", "mode": "list"}, "mode": "each",
                              "options": {}},
     "executeWorkflow", {"workflow": "abc", "mode": "eachItem"}),
    ("executeWorkflow", 1, {"workflowId": "7"}, "executeWorkflow", {"workflow": "7", "mode": "once"}),
    ("wait", 1.1, {"resume": "webhook", "limitWaitTime": True, "resumeAmount": 2, "resumeUnit": "minutes"}, "wait",
     {"resume": "webhook", "limitSeconds": 120}),
    ("wait", 1, {"resume": "webhook", "limitWaitTime": True, "limitType": "atSpecifiedTime",
                 "maxDateAndTime": "2030-01-02T03:04:05"}, "wait", {"resume": "webhook", "limitUntil": "2030-01-02T03:04:05"}),
    ("executeWorkflow", 1, {"source": "parameter", "workflowJson": '{"nodes": []}'}, "executeWorkflow",
     {"workflow": "", "source": "json", "workflowJson": '{"nodes": []}', "mode": "once"}),
    ("stickyNote", 1, {"content": "# Hi", "height": 300, "width": 500, "color": 4},
     "stickyNote", {"content": "# Hi", "width": 500, "height": 300, "color": "4"}),
    # Set v1/v2: values by type, keepOnlySet
    ("set", 1, {"values": {"string": [{"name": "a", "value": "x"}], "number": [{"name": "n", "value": 5}],
                           "boolean": [{"name": "ok", "value": True}]}, "keepOnlySet": True, "options": {}},
     "set", {"fields": {"a": "x", "n": 5, "ok": True}, "keepOnly": True}),
    ("set", 2, {"values": {"number": [{"name": "total"}]}}, "set", {"fields": {"total": 0}, "keepOnly": False}),
    # Set v3.0-3.2: fields.values with typed keys, include
    ("set", 3.2, {"fields": {"values": [
        {"name": "n", "type": "numberValue", "numberValue": "7"}, {"name": "s", "stringValue": "t"},
        {"name": "o", "type": "objectValue", "objectValue": "{\"k\": 1}"},
        {"name": "b", "type": "booleanValue", "booleanValue": "true"},
        {"name": "l", "type": "arrayValue", "arrayValue": "[1, 2]"}]}, "include": "none", "options": {}},
     "set", {"fields": {"n": 7, "s": "t", "o": {"k": 1}, "b": True, "l": [1, 2]}, "keepOnly": True}),
    ("set", 3, {"fields": {"values": [{"name": "a.b", "stringValue": "={{ $json.x }}"}]}},
     "set", {"fields": {"a.b": "={{ $json.x }}"}, "keepOnly": False, "types": {"a.b": "string"}}),  # n8n's default: all input fields
    ("set", 2, {"values": {"string": [{"name": "a.b", "value": "x"}], "number": [{"name": "n", "value": "={{ 1 }}"}]},
                "options": {"dotNotation": False}},
     "set", {"fields": {"a.b": "x", "n": "={{ 1 }}"}, "keepOnly": False, "dotNotation": False,
             "types": {"n": "number"}}),  # v2 converts a number's expression; v1 does not
    # Set v3.3+: assignments, includeOtherFields (default false)
    ("set", 3.3, {"assignments": {"assignments": [{"id": "1", "name": "n", "value": 2.5, "type": "number"}]},
                  "options": {}},
     "set", {"fields": {"n": 2.5}, "keepOnly": True}),
    ("set", 3.4, {"assignments": {"assignments": [{"id": "1", "name": "x", "value": "1", "type": "string"}]},
                  "includeOtherFields": True, "include": "except", "excludeFields": "secret, x", "options": {}},
     "set", {"fields": {"x": "1"}, "keepOnly": False, "remove": ["secret"]}),
    # If / Filter v1: typed groups
    ("if", 1, {"conditions": {"number": [{"value1": "={{ $json.n }}", "operation": "larger", "value2": 5}],
                              "string": [{"value1": "={{ $json.s }}", "value2": "x"}]}, "combineOperation": "any"},
     "if", {"conditions": [{"left": "={{ $json.n }}", "op": "gt", "right": 5},
                           {"left": "={{ $json.s }}", "op": "equals", "right": "x"}], "combine": "or"}),
    ("if", 1, {"conditions": {"boolean": [{"value1": "={{ $json.ok }}", "value2": True}]}},
     "if", {"conditions": [{"left": "={{ $json.ok }}", "op": "isTrue"}], "combine": "and"}),
    ("filter", 1, {"conditions": {"string": [{"value1": "={{ $json.s }}", "operation": "isEmpty"}]}},
     "filter", {"conditions": [{"left": "={{ $json.s }}", "op": "isEmpty"}], "combine": "and"}),
    ("filter", 1, {"conditions": {"string": [{"value1": "={{ $json.s }}", "operation": "notEndsWith", "value2": "x"},
                                             {"value1": "={{ $json.s }}", "operation": "notStartsWith", "value2": "y"}]},
                   "combineConditions": "OR"},
     "filter", {"conditions": [{"left": "={{ $json.s }}", "op": "notEndsWith", "right": "x"},
                               {"left": "={{ $json.s }}", "op": "notStartsWith", "right": "y"}], "combine": "or"}),
    ("if", 2, {"conditions": conditions(cond("={{ $json.s }}", "endsWith", "A")), "options": {"caseSensitive": False}},
     "if", {"conditions": [{"left": "={{ $json.s }}", "op": "endsWith", "right": "A", "ignoreCase": True}],
            "combine": "and"}),
    # If / Filter v2.x: operator {type, operation}, combinator
    ("if", 2.2, {"conditions": conditions(cond("={{ $json.s }}", "startsWith", "ab"),
                                          cond("={{ $json.t }}", "empty"), combinator="or"), "options": {}},
     "if", {"conditions": [{"left": "={{ $json.s }}", "op": "startsWith", "right": "ab"},
                           {"left": "={{ $json.t }}", "op": "isEmpty"}], "combine": "or"}),
    ("if", 2, {"conditions": conditions(cond("={{ $json.n }}", "lte", 3, "number"),
                                        cond("={{ $json.ok }}", "false", kind="boolean"))},
     "if", {"conditions": [{"left": "={{ $json.n }}", "op": "lte", "right": 3},
                           {"left": "={{ $json.ok }}", "op": "isFalse"}], "combine": "and"}),
    ("if", 2, {"conditions": conditions(cond("={{ $json.s }}", "equals", "A"), caseSensitive=False)},
     "if", {"conditions": [{"left": "={{ $json.s }}", "op": "equals", "right": "A", "ignoreCase": True}],
            "combine": "and"}),
    ("if", 2.2, {"conditions": conditions(cond("={{ $json.d }}", "afterOrEquals", "2024-01-01", "dateTime"))},
     "if", {"conditions": [{"left": "={{ $json.d }}", "op": "gte", "right": "2024-01-01", "type": "dateTime"}],
            "combine": "and"}),
    ("if", 1, {"conditions": {"dateTime": [{"value1": "={{ $json.d }}", "value2": "2024-01-01"}]}},
     "if", {"conditions": [{"left": "={{ $json.d }}", "op": "gt", "right": "2024-01-01", "type": "dateTime"}],
            "combine": "and"}),
    ("filter", 2.1, {"conditions": conditions(cond("={{ $json.tags }}", "contains", "a", "array")),
                     "looseTypeValidation": True, "options": {}},
     "filter", {"conditions": [{"left": "={{ $json.tags }}", "op": "contains", "right": "a"}], "combine": "and"}),
    # Switch
    ("switch", 3.2, {"rules": {"values": [
        {"conditions": conditions(cond("={{ $json.k }}", "equals", "a")), "renameOutput": True, "outputKey": "A"},
        {"conditions": conditions(cond("={{ $json.n }}", "gt", 1, "number"))}]},
        "options": {"fallbackOutput": "extra"}},
     "switch", {"mode": "rules", "fallback": "extra", "rules": [
         {"conditions": [{"left": "={{ $json.k }}", "op": "equals", "right": "a"}], "combine": "and", "name": "A"},
         {"conditions": [{"left": "={{ $json.n }}", "op": "gt", "right": 1}], "combine": "and", "name": ""}]}),
    ("switch", 3, {"mode": "expression", "numberOutputs": 3, "output": "={{ $json.i }}"},
     "switch", {"mode": "expression", "output": "={{ $json.i }}", "outputs": 3}),
    ("switch", 1, {"dataType": "string", "value1": "={{ $json.k }}",
                   "rules": {"rules": [{"value2": "a"}, {"value2": "b", "output": 1}]}},
     "switch", {"mode": "rules", "fallback": "none", "rules": [
         {"conditions": [{"left": "={{ $json.k }}", "op": "equals", "right": "a"}], "combine": "or"},
         {"conditions": [{"left": "={{ $json.k }}", "op": "equals", "right": "b"}], "combine": "or"},
         {"conditions": [], "combine": "or"}, {"conditions": [], "combine": "or"}]}),  # v1 has 4 outputs
    ("switch", 2, {"value1": "={{ $json.n }}", "rules": {"rules": [
        {"operation": "larger", "value2": 10, "outputKey": "big"}, {"value2": 5}]}},
     "switch", {"mode": "rules", "fallback": "none", "rules": [
         {"conditions": [{"left": "={{ $json.n }}", "op": "gt", "right": 10}], "combine": "or", "name": "big"},
         {"conditions": [{"left": "={{ $json.n }}", "op": "lt", "right": 5}], "combine": "or"}]}),  # one per rule
    ("switch", 2, {"mode": "expression", "output": "={{ $json.i }}"},
     "switch", {"mode": "expression", "output": "={{ $json.i }}", "outputs": 4}),
    ("switch", 3.2, {"rules": {"values": [{"conditions": conditions(cond("={{ $json.k }}", "equals", "a"))}]},
                     "options": {"fallbackOutput": 0, "allMatchingOutputs": True, "ignoreCase": True}},
     "switch", {"mode": "rules", "fallback": "output", "fallbackOutput": 0, "allMatching": True, "rules": [
         {"conditions": [{"left": "={{ $json.k }}", "op": "equals", "right": "a", "ignoreCase": True}],
          "combine": "and", "name": ""}]}),
    ("switch", 2, {"value1": "={{ $json.n }}", "rules": {"rules": [{"value2": 5}]}, "fallbackOutput": 1},
     "switch", {"mode": "rules", "fallback": "output", "fallbackOutput": 1, "rules": [
         {"conditions": [{"left": "={{ $json.n }}", "op": "lt", "right": 5}], "combine": "or"},
         {"conditions": [], "combine": "or"}]}),
    # Merge
    ("merge", 1, {}, "merge", {"mode": "append"}),
    ("merge", 1, {"mode": "passThrough", "output": "input2"}, "merge", {"mode": "chooseBranch", "branch": 1}),
    ("merge", 1, {"mode": "mergeByIndex", "join": "outer"}, "merge",
     {"mode": "combineByPosition", "includeUnpaired": True}),
    ("merge", 2.1, {"mode": "combine", "mergeByFields": {"values": [{"field1": "id", "field2": "uid"}]},
                    "joinMode": "enrichInput1", "options": {}},
     "merge", {"mode": "combineByFields", "fields": [["id", "uid"]], "join": "left", "unmatchedLast": True,
               "deepMerge": True}),
    ("merge", 2, {"mode": "combine", "combinationMode": "multiplex"}, "merge",
     {"mode": "combineAll", "deepMerge": True}),  # n8n merges nested objects unless mergeMode is shallowMerge
    ("merge", 3, {"mode": "combine", "fieldsToMatchString": "id", "options": {}},
     "merge", {"mode": "combineByFields", "fields": [["id", "id"]], "join": "inner", "unmatchedLast": True,
               "deepMerge": True}),
    ("merge", 3, {"mode": "combine", "fieldsToMatchString": "id", "joinMode": "keepNonMatches",
                  "outputDataFrom": "input2"},
     "merge", {"mode": "combineByFields", "fields": [["id", "id"]], "join": "rightAnti", "unmatchedLast": True,
               "deepMerge": True}),
    ("merge", 2.1, {"mode": "combine", "mergeByFields": {"values": [{"field1": "id", "field2": "id"}]},
                    "joinMode": "keepMatches", "outputDataFrom": "input1",
                    "options": {"clashHandling": {"values": {"resolveClash": "addSuffix", "mergeMode": "shallowMerge"}}}},
     "merge", {"mode": "combineByFields", "fields": [["id", "id"]], "join": "inner", "unmatchedLast": True,
               "output": "input1", "clash": "addSuffix", "deepMerge": False}),
    ("merge", 3.1, {"mode": "combine", "combineBy": "combineByPosition", "options": {"includeUnpaired": True}},
     "merge", {"mode": "combineByPosition", "includeUnpaired": True, "deepMerge": True}),
    ("merge", 3.2, {"mode": "chooseBranch"}, "merge", {"mode": "chooseBranch", "branch": 0}),
    # Webhook and Respond to Webhook
    ("webhook", 2, {"httpMethod": "POST", "path": "orders", "responseMode": "responseNode", "options": {}},
     "webhook", {"path": "orders", "method": "POST", "respond": "respondNode", "responseData": "firstEntryJson",
                 "responseCode": 200, "authentication": "none"}),
    ("webhook", 1, {"path": "in", "responseMode": "lastNode", "responseData": "allEntries",
                    "authentication": "headerAuth"},
     "webhook", {"path": "in", "method": "GET", "respond": "lastNode", "responseData": "allEntries",
                 "responseCode": 200, "authentication": "httpHeaderAuth"}),
    ("webhook", 2.1, {"path": "p", "options": {"responseCode": {"values": {"responseCode": 202}}}},
     "webhook", {"path": "p", "method": "GET", "respond": "immediately", "responseData": "firstEntryJson",
                 "responseCode": 202, "authentication": "none"}),  # v2 keeps the code in its options
    ("respondToWebhook", 1.1, {"respondWith": "json", "responseBody": "{\n  \"ok\": true\n}", "options": {
        "responseCode": 201, "responseHeaders": {"entries": [{"name": "X-A", "value": "1"}]}}},
     "respondToWebhook", {"status": 201, "headers": {"X-A": "1"}, "body": {"ok": True}}),
    ("respondToWebhook", 1, {}, "respondToWebhook", {"status": 200, "headers": {}}),
    ("respondToWebhook", 1.4, {"respondWith": "text", "responseBody": "done"},
     "respondToWebhook", {"status": 200, "headers": {}, "body": "done"}),
    # Wait
    ("wait", 1, {}, "wait", {"resume": "time", "seconds": 3600}),  # n8n's default: 1 hour
    ("wait", 1.1, {"amount": 2, "unit": "minutes"}, "wait", {"resume": "time", "seconds": 120}),
    ("wait", 1.1, {"resume": "specificTime", "dateTime": "2030-01-01T10:00:00"}, "wait",
     {"resume": "time", "until": "2030-01-01T10:00:00"}),
    ("wait", 1.1, {"resume": "webhook", "options": {}}, "wait", {"resume": "webhook"}),
    ("dateTime", 2, {"operation": "subtractFromDate", "magnitude": "={{ $json.at }}", "duration": 2,
                     "timeUnit": "hours", "outputFieldName": "earlier", "options": {"includeInputFields": True}},
     "dateTime", {"operation": "subtract", "value": "={{ $json.at }}", "amount": 2, "unit": "hours",
                  "outputField": "earlier", "format": "isoMs", "includeInputFields": True, "emptyAsNull": True}),
    ("dateTime", 2, {"operation": "formatDate", "date": "={{ $json.at }}", "format": "custom",
                     "customFormat": "dd LLL yyyy"},
     "dateTime", {"operation": "format", "value": "={{ $json.at }}", "format": "dd LLL yyyy",
                  "formatSyntax": "luxon", "timezone": "local", "outputField": "formattedDate",
                  "includeInputFields": False, "emptyAsNull": True}),
    ("dateTime", 2, {"operation": "roundDate", "date": "={{ $json.at }}", "mode": "roundUp", "to": "week",
                     "options": {"timezone": "Europe/Berlin"}},
     "dateTime", {"operation": "round", "value": "={{ $json.at }}", "roundMode": "up", "roundTo": "week",
                  "timezone": "Europe/Berlin", "outputField": "roundedDate", "includeInputFields": False,
                  "emptyAsNull": True, "format": "isoMs"}),
    ("dateTime", 1, {"action": "calculate", "value": "08/01/2022", "duration": 2, "timeUnit": "quarters"},
     "dateTime", {"operation": "add", "value": "08/01/2022", "amount": 6, "unit": "months", "outputField": "data",
                  "format": "isoUtcMs", "timezone": "local", "fromFormat": ""}),
    ("dateTime", 1, {"value": "={{ $json.d }}", "toFormat": "YYYY/MM/DD", "options": {"fromFormat": "DD-MM-YYYY",
                                                                                       "toTimezone": "US/Pacific"}},
     "dateTime", {"operation": "convertTimezone", "value": "={{ $json.d }}", "outputField": "data",
                  "emptyResult": "Invalid date", "format": "YYYY/MM/DD", "formatSyntax": "moment", "timezone": "", "toTimezone": "US/Pacific",
                  "fromFormat": "%d-%m-%Y"}),
    ("dateTime", 1, {"value": "08/01/2022", "toFormat": "x", "options": {"fromTimezone": "US/Hawaii"}},
     "dateTime", {"operation": "convertTimezone", "value": "08/01/2022", "outputField": "data",
                  "emptyResult": "Invalid date", "format": "x",
                  "formatSyntax": "moment", "timezone": "US/Hawaii", "toTimezone": "", "fromFormat": "",
                  "textZone": "local"}),
    ("emailReadImap", 2, {"mailbox": "Orders", "postProcessAction": "nothing",
                          "options": {"allowUnauthorizedCerts": True}},
     "emailTrigger", {"mailbox": "Orders", "markRead": False, "allowUnauthorizedCerts": True}),
    ("emailReadImap", 1, {}, "emailTrigger", {"mailbox": "INBOX", "markRead": True}),
    ("ftp", 1, {"protocol": "sftp", "operation": "upload", "path": "/in/a.txt", "binaryData": False,
                "fileContent": "hi"},
     "ftp", {"protocol": "sftp", "operation": "upload", "path": "/in/a.txt", "binaryData": False, "fileContent": "hi"}),
    ("ftp", 1, {"path": "/out/report.pdf", "binaryPropertyName": "file"},
     "ftp", {"protocol": "ftp", "operation": "download", "path": "/out/report.pdf", "binaryPropertyName": "file"}),
    ("ftp", 1, {"operation": "delete", "path": "/old", "options": {"folder": True, "recursive": True}},
     "ftp", {"protocol": "ftp", "operation": "delete", "path": "/old", "folder": True, "recursive": True}),
    ("ftp", 1, {"operation": "rename", "oldPath": "/a", "newPath": "/b/c", "options": {"createDirectories": True}},
     "ftp", {"protocol": "ftp", "operation": "rename", "oldPath": "/a", "newPath": "/b/c", "createDirectories": True}),
    ("spreadsheetFile", 1, {"options": {"headerRow": False, "sheetName": "Q1"}},
     "extractFromFile", {"operation": "spreadsheet", "binaryPropertyName": "data", "guessTypes": True,
                         "headerRow": False, "sheetName": "Q1", "keepBom": True, "invalidText": "replace"}),
    ("spreadsheetFile", 2, {"operation": "toFile", "fileFormat": "xlsx", "binaryPropertyName": "sheet",
                            "options": {"fileName": "q.xlsx", "sheetName": "Q1"}},
     "convertToFile", {"operation": "xlsx", "binaryPropertyName": "sheet", "keepInput": "none", "fileName": "q.xlsx",
                       "sheetName": "Q1"}),
    ("spreadsheetFile", 1, {"operation": "toFile"},  # v1 writes xls by default
     "convertToFile", {"operation": "xls", "binaryPropertyName": "data", "keepInput": "none"}),
    ("dateTime", 2, {"operation": "getTimeBetweenDates", "startDate": "={{ $json.a }}", "endDate": "={{ $json.b }}",
                     "units": ["day", "hour"], "options": {"isoString": True}},
     "dateTime", {"operation": "diff", "value": "={{ $json.a }}", "value2": "={{ $json.b }}", "units": ["days", "hours"],
                  "isoDuration": True, "outputField": "timeDifference", "includeInputFields": False,
                  "emptyAsNull": True, "format": "isoMs"}),
    ("dateTime", 2, {"operation": "addToDate", "addToDate": "={{ $json.d }}", "duration": 2},  # an early v2 export
     "dateTime", {"operation": "add", "value": "={{ $json.d }}", "amount": 2, "unit": "days", "outputField": "newDate",
                  "includeInputFields": False, "emptyAsNull": True, "format": "isoMs"}),
    ("dateTime", 1, {"options": {}},  # no date at all: n8n formats it as moment's "Invalid date"
     "dateTime", {"operation": "format", "value": "={{ '' }}", "outputField": "data", "emptyResult": "Invalid date",
                  "format": "MM/DD/YYYY", "formatSyntax": "moment", "timezone": "local", "fromFormat": ""}),
    ("dateTime", 1, {"value": "1663801200000", "options": {"fromFormat": "x", "toTimezone": "UTC"}},
     "dateTime", {"operation": "convertTimezone", "value": "1663801200000", "outputField": "data",
                  "emptyResult": "Invalid date", "format": "MM/DD/YYYY", "formatSyntax": "moment", "timezone": "", "toTimezone": "UTC",
                  "fromFormat": "", "textZone": "local"}),
    # Code (Python), HTTP Request
    ("code", 2, {"language": "python", "mode": "runOnceForEachItem", "pythonCode": "return item"},
     "code", {"language": "python", "mode": "eachItem", "code": "return item"}),
    ("httpRequest", 4.2, {"method": "POST", "url": "https://x.test/a", "sendQuery": True,
                          "queryParameters": {"parameters": [{"name": "q", "value": "1"}]}, "sendHeaders": True,
                          "headerParameters": {"parameters": [{"name": "X-K", "value": "v"}]}, "sendBody": True,
                          "specifyBody": "json", "jsonBody": "{\"a\": 1}", "options": {"timeout": 5000}},
     "httpRequest", {"method": "POST", "url": "https://x.test/a", "query": {"q": "1"}, "headers": {"X-K": "v"},
                     "bodyType": "json", "body": {"a": 1}, "fullResponse": False, "ignoreHttpStatusErrors": False,
                     "timeout": 5.0}),
    ("httpRequest", 4.1, {"url": "https://x.test", "sendBody": True, "contentType": "form-urlencoded",
                          "bodyParameters": {"parameters": [{"name": "a", "value": "b"}]},
                          "options": {"response": {"response": {"neverError": True, "responseFormat": "text"}}}},
     "httpRequest", {"method": "GET", "url": "https://x.test", "bodyType": "form", "body": {"a": "b"},
                     "fullResponse": False, "ignoreHttpStatusErrors": True, "response": "text"}),
    ("httpRequest", 3, {"requestMethod": "GET", "url": "https://x.test", "responseFormat": "string",
                        "queryParametersUi": {"parameter": [{"name": "page", "value": "2"}]},
                        "options": {"fullResponse": True}},
     "httpRequest", {"method": "GET", "url": "https://x.test", "response": "text", "query": {"page": "2"},
                     "fullResponse": True, "ignoreHttpStatusErrors": False}),
    # Schedule Trigger, Cron, Interval
    ("scheduleTrigger", 1.2, {"rule": {"interval": [{"field": "minutes", "minutesInterval": 15}]}},
     "schedule", {"cron": "*/15 * * * *"}),
    ("scheduleTrigger", 1.1, {"rule": {"interval": [{"field": "cronExpression", "expression": "0 9 * * 1-5"}]}},
     "schedule", {"cron": "0 9 * * 1-5"}),
    ("scheduleTrigger", 1, {"rule": {"interval": [{"triggerAtHour": 6}]}}, "schedule", {"cron": "0 6 */1 * *"}),
    ("scheduleTrigger", 1.2, {"rule": {"interval": [{"field": "seconds", "secondsInterval": 10}]}},
     "schedule", {"every": 10}),
    ("cron", 1, {"triggerTimes": {"item": [{"mode": "everyWeek", "hour": 9, "minute": 30, "weekday": "1"}]}},
     "schedule", {"cron": "30 9 * * 1"}),
    ("interval", 1, {"interval": 5, "unit": "minutes"}, "schedule", {"every": 300}),
]


@pytest.mark.parametrize(("kind", "version", "params", "flowbox_type", "expected"), CONVERTED,
                         ids=[f"{c[0]}-v{c[1]}-{i}" for i, c in enumerate(CONVERTED)])
def test_each_converter_maps_its_layout(kind: str, version: float, params: dict[str, Any], flowbox_type: str,
                                        expected: dict[str, Any]) -> None:
    node = converted(kind, version, params)
    assert (node["type"], node["parameters"]) == (flowbox_type, expected)


UNSUPPORTED = [
    ("set", 3.4, {"mode": "raw", "jsonOutput": "={ \"a\": 1 }"}, "mode 'raw' (JSON output) is not supported"),
    ("code", 2, {"language": "ruby", "rubyCode": "x"}, "ruby code is not supported"),
    ("splitInBatches", 3, {"options": {"reset": True}}, "option 'reset'"),
    ("merge", 3, {"mode": "combine", "combineBy": "combineAll", "numberInputs": 3}, "combineAll of more than two inputs"),
    ("merge", 2.1, {"mode": "combine", "joinMode": "keepEverythingTwice"}, "joinMode 'keepEverythingTwice'"),
    ("merge", 1, {"mode": "mergeByIndex"}, "mergeByIndex join 'left'"),  # n8n v1's default join
    ("merge", 1, {"mode": "mergeByKey", "propertyName1": "id", "propertyName2": "id", "overwrite": "blank"},
     "overwrite 'blank'"),
    ("if", 2, {"conditions": conditions(cond("={{ $json.d }}", "isWeekend", "", "dateTime"))},
     "operator dateTime.isWeekend"),
    ("switch", 3, {"rules": {"values": []}, "options": {"fallbackOutput": 0}}, "fallbackOutput 0"),
    ("switch", 1, {"rules": {"rules": [{"value2": 1, "output": 1}, {"value2": 2, "output": 0}]}},
     "do not name their outputs in order"),
    ("switch", 3, {"rules": {"values": []}, "options": {"fallbackOutput": "sideways"}}, "fallbackOutput 'sideways'"),
    ("switch", 1, {"dataType": "string", "rules": {"rules": [{"operation": "startsWithout", "value2": "a"}]}},
     "operation 'startsWithout' is not supported"),
    ("webhook", 2, {"multipleMethods": True, "httpMethod": ["GET", "POST"], "path": "x"}, "several HTTP methods"),
    ("webhook", 2, {"path": "x", "options": {"rawBody": True}}, "option 'options.rawBody' is not supported"),
    ("sort", 1, {"type": "random"}, "sort type 'random'"),
    ("respondToWebhook", 1.1, {"respondWith": "binary"}, "respondWith 'binary'"),
    ("scheduleTrigger", 1.2, {"rule": {"interval": [{"field": "weeks"}]}}, "every few weeks"),
    ("wait", 1.1, {"resume": "webhook", "limitWaitTime": True, "resumeAmount": "={{ 3 }}"},
     "an expression for 'resumeAmount'"),
    ("httpRequest", 4.2, {"url": "https://x", "sendBody": True, "contentType": "multipart-form-data"},
     "contentType 'multipart-form-data'"),
    ("httpRequest", 4.2, {"url": "https://x", "authentication": "predefinedCredentialType",
                          "nodeCredentialType": "githubApi"}, "authentication 'predefinedCredentialType'"),
    ("aggregate", 1, {"fieldsToAggregate": {"fieldToAggregate": [{"fieldToAggregate": "a"}]},
                      "options": {"includeBinaries": True}}, "includeBinaries"),
    ("removeDuplicates", 2, {"operation": "removeItemsRepeatedInPreviousExecutions"}, "across executions"),
    ("dateTime", 2, {"operation": "getTimeBetweenDates", "units": ["decade"]}, "units 'decade' are not supported"),
    ("spreadsheetFile", 1, {"operation": "toFile", "options": {"compression": True}}, "option 'options.compression'"),
    ("emailReadImap", 2, {"format": "raw"}, "format 'raw'"),
    ("ftp", 1, {"operation": "move"}, "operation 'move'"),
    ("dateTime", 1, {"value": "x", "options": {"fromFormat": "YYYY-wo"}}, "fromFormat 'YYYY-wo'"),
    ("rssFeedReadTrigger", 1, {"feedUrl": "https://x"}, "no flowbox node converts this n8n type"),
    ("stopAndError", 1, {"errorType": "errorObject", "errorObject": "{}"}, "errorType 'errorObject'"),
]


@pytest.mark.parametrize(("kind", "version", "params", "reason"), UNSUPPORTED,
                         ids=[f"{c[0]}-v{c[1]}-{i}" for i, c in enumerate(UNSUPPORTED)])
def test_what_a_flowbox_node_cannot_do_becomes_a_placeholder(kind: str, version: float, params: dict[str, Any],
                                                             reason: str) -> None:
    placeholder_check(kind, version, params, reason)


def test_approximations_are_reported_not_hidden() -> None:
    conversion = convert(n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Hook", "webhook", 2, {"path": "p"}),
        n8n_node("Set", "set", 3.4, {"assignments": {"assignments": [
            {"name": "n", "value": "={{ $json.x }}", "type": "number"}]}}),
        n8n_node("Py", "code", 2, {"language": "python", "pythonCode": "return items"})))
    approximated = {(e.node, e.message.split(":")[0]) for e in conversion.report if e.level == "approximated"}
    assert ("Hook", "the item also carries the request's 'method' and 'path' besides n8n's headers, params, "
                    "query and body") in approximated
    assert any(node == "Py" for node, _ in approximated)


# ---------------------------------------------------------------- n8n's output, node by node

PEOPLE = [{"name": "b", "age": 30, "id": 1}, {"name": "a", "age": 40, "id": 2}, {"name": "c", "age": 20, "id": 1}]


def test_set_sort_limit_give_n8ns_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Set v3.4 adds its typed assignments to each item (other fields included), Sort orders by age
    descending, Limit keeps the first two (n8n's Edit Fields, Sort and Limit docs)."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Edit Fields", "set", 3.4, {"assignments": {"assignments": [
            {"id": "1", "name": "team", "value": "x", "type": "string"},
            {"id": "2", "name": "score", "value": "5", "type": "number"},
            {"id": "3", "name": "meta.ok", "value": "true", "type": "boolean"}]}, "includeOtherFields": True,
            "options": {}}),
        n8n_node("Sort", "sort", 1, {"sortFieldsUi": {"sortField": [{"fieldName": "age", "order": "descending"}]},
                                     "options": {}}),
        n8n_node("Limit", "limit", 1, {"maxItems": 2}),
        {"parameters": {"content": "a note"}, "name": "Note", "type": "n8n-nodes-base.stickyNote",
         "typeVersion": 1, "position": [0, 300]},
        connections=n8n_chain("Start", "Edit Fields", "Sort", "Limit"), pinData={"Start": [{"json": p} for p in PEOPLE]})
    result = run_json(capsys, tmp_path, data)
    added = {"team": "x", "score": 5, "meta": {"ok": True}}
    assert outputs(result, "Edit Fields") == [{**p, **added} for p in PEOPLE]
    assert [i["age"] for i in outputs(result, "Sort")] == [40, 30, 20]
    assert outputs(result, "Limit") == [{**PEOPLE[1], **added}, {**PEOPLE[0], **added}]
    assert "Note" not in result["nodes"]


def test_remove_duplicates_aggregate_split_out_give_n8ns_output(capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    """Remove Duplicates on `id` keeps the first of each; Aggregate collects `name` into one item; Split Out
    makes one item per element under the field's name (n8n's docs for each)."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Dedupe", "removeDuplicates", 1.1, {"compare": "selectedFields", "fieldsToCompare": "id"}),
        n8n_node("Collect", "aggregate", 1, {"fieldsToAggregate": {"fieldToAggregate": [
            {"fieldToAggregate": "name"}]}, "options": {}}),
        n8n_node("Split", "splitOut", 1, {"fieldToSplitOut": "name", "options": {}}),
        pinData={"Start": [{"json": p} for p in PEOPLE]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Dedupe") == PEOPLE[:2]
    assert outputs(result, "Collect") == [{"name": ["b", "a"]}]
    assert outputs(result, "Split") == [{"name": "b"}, {"name": "a"}]


def test_merge_by_field_and_append_give_n8ns_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Merge v3 "combine by matching fields" keeps the matches with both inputs' fields; v2.1 append
    outputs input 1's items, then input 2's (n8n's Merge docs)."""
    left = [{"id": 1, "a": "x"}, {"id": 2, "a": "y"}]
    right = [{"id": 2, "b": "z"}, {"id": 3, "b": "w"}]
    nodes = [n8n_node("Start", "manualTrigger"), n8n_node("Left", "noOp"), n8n_node("Right", "noOp"),
             n8n_node("Join", "merge", 3, {"mode": "combine", "fieldsToMatchString": "id", "options": {}}),
             n8n_node("Both", "merge", 2.1, {})]
    to = {"Left": [("Join", 0), ("Both", 0)], "Right": [("Join", 1), ("Both", 1)]}
    connections = {**n8n_chain("Start", "Left"),
                   **{src: {"main": [[{"node": t, "type": "main", "index": i} for t, i in targets]]}
                      for src, targets in to.items()}}
    connections["Start"]["main"][0].append({"node": "Right", "type": "main", "index": 0})
    data = n8n_workflow(*nodes, connections=connections, pinData={"Left": [{"json": i} for i in left],
                                                                  "Right": [{"json": i} for i in right]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Join") == [{"id": 2, "a": "y", "b": "z"}]
    assert outputs(result, "Both") == left + right


@pytest.mark.parametrize(("kind", "version", "params", "reason"), [
    ("splitOut", 1, {"fieldToSplitOut": "a.b", "options": {"disableDotNotation": True}}, "disableDotNotation"),
    ("removeDuplicates", 1.1, {"compare": "selectedFields", "fieldsToCompare": "a.b",
                               "options": {"disableDotNotation": True}}, "disableDotNotation"),
    ("executeWorkflow", 1.2, {"workflowId": "1", "workflowInputs": {"value": {"a": "={{ $json.a }}"}}},
     "typed workflow inputs"),
    ("httpRequest", 4.2, {"url": "https://x", "options": {"redirect": {"redirect": {"followRedirects": False}}}},
     "redirect settings"),
    ("merge", 3, {"mode": "combine", "fieldsToMatchString": "id",
                  "options": {"clashHandling": {"values": {"overrideEmpty": True}}}}, "overrideEmpty"),
])
def test_options_that_change_the_output_are_never_ignored(kind: str, version: float, params: dict[str, Any],
                                                          reason: str) -> None:
    test_what_a_flowbox_node_cannot_do_becomes_a_placeholder(kind, version, params, reason)
