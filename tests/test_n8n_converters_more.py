"""n8n converters of the nodes that follow n8n's parameter names (Summarize, Rename Keys, Compare Datasets,
Markdown, DebugHelper, iCalendar, Read PDF): n8n's layouts per typeVersion (written from n8n's docs, defaults
left out as exports do) become the flowbox node's parameters with fixedCollections unwrapped to rows; what
flowbox's node cannot do becomes a placeholder; expression-free workflows give n8n's documented output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from n8n_support import cli, n8n_chain, n8n_node, n8n_workflow, outputs, placeholder_check, run_json
from test_n8n_converters import converted

from flowbox.n8n import convert

CONVERTED = [
    ("summarize", 1.1, {"fieldsToSummarize": {"values": [{"aggregation": "sum", "field": "amount"},
                                                        {"field": "id"}]},
                        "fieldsToSplitBy": "city", "options": {"outputFormat": "singleItem"}},
     {"fieldsToSummarize": [{"aggregation": "sum", "field": "amount"}, {"field": "id"}],
      "fieldsToSplitBy": "city", "options": {"outputFormat": "singleItem"}}),
    ("summarize", 1, {"fieldsToSummarize": {"values": [{"aggregation": "concatenate", "field": "n",
                                                       "separateBy": "other", "customSeparator": "|"}]},
                      "options": {"continueIfFieldNotFound": True}},
     {"fieldsToSummarize": [{"aggregation": "concatenate", "field": "n", "separateBy": "other",
                             "customSeparator": "|"}], "options": {"continueIfFieldNotFound": True}}),
    ("renameKeys", 1, {"keys": {"key": [{"currentKey": "name", "newKey": "fullName"}]}},
     {"keys": [{"currentKey": "name", "newKey": "fullName"}]}),
    ("renameKeys", 1, {"keys": {}, "additionalOptions": {"regexReplacement": {"replacements": [
        {"searchRegex": "^x_(.*)", "replaceRegex": "$1", "options": {"depth": 0}}]}}},
     {"keys": [], "additionalOptions": {"regexReplacement": [
         {"searchRegex": "^x_(.*)", "replaceRegex": "$1", "options": {"depth": 0}}]}}),
    ("compareDatasets", 2.3, {"mergeByFields": {"values": [{"field1": "id", "field2": "uid"}]},
                              "fuzzyCompare": True, "options": {"skipFields": "updated"}},
     {"mergeByFields": [{"field1": "id", "field2": "uid"}], "fuzzyCompare": True, "options": {"skipFields": "updated"}}),
    ("compareDatasets", 1, {"infoBox": "", "mergeByFields": {"values": [{"field1": "id", "field2": "id"}]},
                            "resolve": "mix", "preferWhenMix": "input2", "exceptWhenMix": "a",
                            "options": {"fuzzyCompare": True}},
     {"mergeByFields": [{"field1": "id", "field2": "id"}], "resolve": "mix", "preferWhenMix": "input2",
      "exceptWhenMix": "a", "options": {"fuzzyCompare": True}}),
    ("compareDatasets", 2.2, {"mergeByFields": {"values": [{"field1": "k", "field2": "k"}]}},
     {"mergeByFields": [{"field1": "k", "field2": "k"}]}),  # resolve left out: v2.2's own default applies
    ("markdown", 1, {"mode": "markdownToHtml", "markdown": "# Hi", "options": {"tables": True}},
     {"mode": "markdownToHtml", "markdown": "# Hi", "options": {"tables": True}}),
    ("markdown", 1, {"html": "<b>x</b>", "destinationKey": "md", "options": {"bulletMarker": "-"}},
     {"html": "<b>x</b>", "destinationKey": "md", "options": {"bulletMarker": "-", "layout": "nodeHtmlMarkdown"}}),
    ("markdown", 1, {"html": "<p>a</p>", "options": {"textReplace": {"values": [{"pattern": "a", "replacement": "b"}]}}},
     {"html": "<p>a</p>", "options": {"textReplace": [{"pattern": "a", "replacement": "b"}],
                                      "layout": "nodeHtmlMarkdown"}}),
    ("debugHelper", 1, {"throwErrorMessage": "boom"}, {"throwErrorMessage": "boom"}),
    ("debugHelper", 1, {"category": "randomData", "randomDataType": "email", "randomDataCount": 3},
     {"category": "randomData", "randomDataType": "email", "randomDataCount": 3}),
    ("iCal", 1, {"title": "Launch", "start": "2025-01-02T10:00:00Z", "end": "2025-01-02T11:00:00Z",
                 "additionalFields": {"location": "Room 1", "fileName": "launch.ics"}},
     {"title": "Launch", "start": "2025-01-02T10:00:00Z", "end": "2025-01-02T11:00:00Z",
      "additionalFields": {"location": "Room 1", "fileName": "launch.ics"}}),
    ("readPDF", 1, {"binaryPropertyName": "file", "encrypted": True, "password": "pw"},
     {"binaryPropertyName": "file", "encrypted": True, "password": "pw"}),
    ("readPDF", 1, {}, {}),
]


@pytest.mark.parametrize(("kind", "version", "params", "expected"), CONVERTED,
                         ids=[f"{c[0]}-v{c[1]}-{i}" for i, c in enumerate(CONVERTED)])
def test_same_named_nodes_map_their_layout(kind: str, version: float, params: dict[str, Any],
                                           expected: dict[str, Any]) -> None:
    node = converted(kind, version, params)
    assert (node["type"], node["parameters"], node["typeVersion"]) == (kind, expected, version)


UNSUPPORTED = [
    ("summarize", 1.1, {"options": {"groupByEverything": True}}, "option 'options.groupByEverything'"),
    ("summarize", 1.1, {"fieldsToSummarize": {"values": []}, "extra": 1}, "parameter 'extra'"),
    ("renameKeys", 1, {"additionalOptions": {"regexReplacement": {"replacements": [
        {"searchRegex": "a", "options": {"multiline": True}}]}}}, "option 'multiline'"),
    ("compareDatasets", 1, {"fuzzyCompare": True}, "parameter 'fuzzyCompare'"),  # v1 has it in options only
    ("compareDatasets", 2.3, {"options": {"fuzzyCompare": True}}, "option 'options.fuzzyCompare'"),
    ("markdown", 1, {"mode": "markdownToHtml", "options": {"emoji": True}}, "option 'options.emoji' (showdown)"),
    ("iCal", 1, {"operation": "parseEvent"}, "operation 'parseEvent'"),
    ("iCal", 1, {"additionalFields": {"priority": 1}}, "option 'additionalFields.priority'"),
    ("readPDF", 1, {"pages": "1-2"}, "parameter 'pages'"),
    ("debugHelper", 1, {"category": "cpu"}, "category 'cpu'"),
    ("debugHelper", 1, {"category": "randomData", "randomDataType": "iban"}, "randomDataType 'iban'"),
]


@pytest.mark.parametrize(("kind", "version", "params", "reason"), UNSUPPORTED,
                         ids=[f"{c[0]}-v{c[1]}-{i}" for i, c in enumerate(UNSUPPORTED)])
def test_what_they_cannot_do_becomes_a_placeholder(kind: str, version: float, params: dict[str, Any],
                                                   reason: str) -> None:
    placeholder_check(kind, version, params, reason)


def test_engine_substitutes_are_reported_approximated() -> None:
    conversion = convert(n8n_workflow(
        n8n_node("Start", "manualTrigger"), n8n_node("Md", "markdown", 1, {"html": "<p>x</p>"}),
        n8n_node("Pdf", "readPDF", 1, {}), n8n_node("Fake", "debugHelper", 1, {"category": "randomData"})))
    approximated = {e.node for e in conversion.report if e.level == "approximated"}
    assert {"Md", "Pdf", "Fake"} <= approximated


SALES = [{"city": "Oslo", "amount": 10, "name": "a"}, {"city": "Rome", "amount": 5, "name": "b"},
         {"city": "Oslo", "amount": 2, "name": "c"}]


def test_summarize_and_rename_keys_give_n8ns_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Summarize (sum of amount, count of name, split by city) gives one item per city with `sum_amount` and
    `count_name`; Rename Keys renames `sum_amount` to `total` (n8n's Summarize and Rename Keys docs)."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Summarize", "summarize", 1.1, {"fieldsToSummarize": {"values": [
            {"aggregation": "sum", "field": "amount"}, {"field": "name"}]}, "fieldsToSplitBy": "city",
            "options": {}}),
        n8n_node("Rename", "renameKeys", 1, {"keys": {"key": [{"currentKey": "sum_amount", "newKey": "total"}]}}),
        pinData={"Start": [{"json": s} for s in SALES]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Summarize") == [{"city": "Oslo", "sum_amount": 12, "count_name": 2},
                                            {"city": "Rome", "sum_amount": 5, "count_name": 1}]
    assert outputs(result, "Rename") == [{"city": "Oslo", "total": 12, "count_name": 2},
                                         {"city": "Rome", "total": 5, "count_name": 1}]


def test_compare_datasets_gives_n8ns_four_outputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Compare Datasets v2.3 pairs A and B by `id`: in A only, same, different (both versions), in B only."""
    a = [{"id": 1, "v": "x"}, {"id": 2, "v": "y"}, {"id": 3, "v": "z"}]
    b = [{"id": 2, "v": "y"}, {"id": 3, "v": "w"}, {"id": 4, "v": "q"}]
    nodes = [n8n_node("Start", "manualTrigger"), n8n_node("A", "noOp"), n8n_node("B", "noOp"),
             n8n_node("Compare", "compareDatasets", 2.3, {"mergeByFields": {"values": [
                 {"field1": "id", "field2": "id"}]}, "options": {}})]
    connections = {"Start": {"main": [[{"node": "A", "type": "main", "index": 0},
                                       {"node": "B", "type": "main", "index": 0}]]},
                   **n8n_chain("A", "Compare"), "B": {"main": [[{"node": "Compare", "type": "main", "index": 1}]]}}
    data = n8n_workflow(*nodes, connections=connections,
                        pinData={"A": [{"json": i} for i in a], "B": [{"json": i} for i in b]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Compare", 0) == [a[0]]
    assert outputs(result, "Compare", 1) == [a[1]]
    different = outputs(result, "Compare", 2)
    assert len(different) == 1 and different[0]["keys"] == {"id": 3}
    assert different[0]["different"] == {"v": {"inputA": "z", "inputB": "w"}}
    assert outputs(result, "Compare", 3) == [b[2]]


def test_markdown_to_html_gives_showdowns_header(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Markdown to HTML: `# Hello World` becomes showdown's `<h1 id="helloworld">Hello World</h1>` under `data`."""
    data = n8n_workflow(n8n_node("Start", "manualTrigger"),
                        n8n_node("Md", "markdown", 1, {"mode": "markdownToHtml", "markdown": "# Hello World",
                                                       "options": {}}),
                        pinData={"Start": [{"json": {"k": 1}}]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Md") == [{"k": 1, "data": '<h1 id="helloworld">Hello World</h1>'}]


def test_markdown_from_html_follows_node_html_markdown(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """HTML to Markdown on import takes n8n's layout: ' ' and a blank line for the page's leading blank text,
    `ignore: h1` leaves the heading (node-html-markdown's heading translator is not reached by it)."""
    page = "<html> <body> <div> <h1>Hi</h1> <p>there</p> <span>x</span> </div> </body> </html>"
    data = n8n_workflow(n8n_node("Start", "manualTrigger"),
                        n8n_node("Md", "markdown", 1, {"html": "={{ $json.page }}", "options": {"ignore": "h1,span"}}),
                        pinData={"Start": [{"json": {"page": page}}]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Md") == [{"page": page, "data": " \n\n# Hi\n\nthere"}]


# ---------------------------------------------------------------- Crypto

CRYPTO = [
    ("crypto", 1, {"value": "hello"}, {"outputField": "data", "action": "hash", "algorithm": "md5", "value": "hello",
                                       "encoding": "hex"}),
    ("crypto", 2, {"type": "SHA3-256", "value": "={{ $json.v }}", "dataPropertyName": "h", "encoding": "base64"},
     {"outputField": "h", "action": "hash", "algorithm": "sha3-256", "value": "={{ $json.v }}", "encoding": "base64"}),
    ("crypto", 1, {"action": "hmac", "type": "SHA256", "value": "x", "secret": "k"},
     {"outputField": "data", "action": "hmac", "algorithm": "sha256", "value": "x", "encoding": "hex", "secret": "k"}),
    ("crypto", 2, {"action": "generate"}, {"outputField": "data", "action": "uuid"}),
    ("crypto", 1, {"action": "generate", "encodingType": "hex", "stringLength": 12, "dataPropertyName": "id"},
     {"outputField": "id", "action": "randomString", "charset": "hex", "length": 12}),
    ("crypto", 1, {"binaryData": True, "binaryPropertyName": "file", "type": "SHA256"},
     {"outputField": "data", "binaryData": True, "binaryPropertyName": "file", "action": "hash",
      "algorithm": "sha256", "encoding": "hex"}),
    ("crypto", 1, {"action": "sign", "value": "x", "algorithm": "RSA-SHA512", "privateKey": "k"},
     {"outputField": "data", "action": "sign", "signHash": "sha512", "value": "x", "encoding": "hex",
      "privateKey": "k"}),
]


@pytest.mark.parametrize(("kind", "version", "params", "expected"), CRYPTO,
                         ids=[f"{c[0]}-v{c[1]}-{i}" for i, c in enumerate(CRYPTO)])
def test_crypto_maps_its_layout(kind: str, version: float, params: dict[str, Any], expected: dict[str, Any]) -> None:
    node = converted(kind, version, params)
    assert (node["type"], node["parameters"]) == ("crypto", expected)


@pytest.mark.parametrize(("version", "params", "reason"), [
    (1, {"type": "SHA224"}, "hash type 'SHA224'"),  # not one of n8n's choices, but a workflow may hold it
    (1, {"action": "sign", "value": "x", "privateKey": "k", "algorithm": "RSA-RIPEMD160"},
     "sign algorithm 'RSA-RIPEMD160'"),
    (1, {"action": "generate", "encodingType": "base64"}, "encodingType 'base64'"),
])
def test_crypto_placeholders(version: float, params: dict[str, Any], reason: str) -> None:
    placeholder_check("crypto", version, params, reason)


def test_crypto_gives_n8ns_digests(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """MD5 and SHA3-256 (hex) of "hello", HMAC-SHA256 (base64) with secret "secret", a 12-character hex string."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Md5", "crypto", 1, {"value": "hello"}),
        n8n_node("Sha3", "crypto", 2, {"type": "SHA3-256", "value": "hello", "dataPropertyName": "sha3"}),
        n8n_node("Hmac", "crypto", 1, {"action": "hmac", "type": "SHA256", "value": "hello", "secret": "secret",
                                       "encoding": "base64", "dataPropertyName": "mac"}),
        n8n_node("Id", "crypto", 1, {"action": "generate", "encodingType": "hex", "stringLength": 12,
                                     "dataPropertyName": "id"}),
        pinData={"Start": [{"json": {"k": 1}}]})
    result = run_json(capsys, tmp_path, data)
    [item] = outputs(result, "Id")
    assert {k: item[k] for k in ("k", "data", "sha3", "mac")} == {
        "k": 1, "data": "5d41402abc4b2a76b9719d911017c592",
        "sha3": "3338be694f50c5f338814986cdf0686453a888b84f424d792af4b9202398f392",
        "mac": "iKqz7ejTrflNJquQ07r9SiCDBww7zOnAFO4EpEOEfAs="}
    assert len(item["id"]) == 12 and set(item["id"]) <= set("0123456789abcdef")


# ---------------------------------------------------------------- Item Lists (legacy) onto the standalone nodes

ITEM_LISTS = [
    (1, {"operation": "aggregateItems", "fieldsToAggregate": {"fieldToAggregate": [{"fieldToAggregate": "name"}]},
         "options": {}},
     "aggregate", 1, {"fields": [{"field": "name", "outputField": ""}], "includeEmpty": False, "nullsOnly": True,
                      "failIfMissing": True}),
    (3, {"operation": "concatenateItems", "aggregate": "aggregateAllItemData"},
     "aggregate", 1, {"all": True, "outputField": "data"}),
    (2.2, {"operation": "limit", "maxItems": 2, "keep": "lastItems"}, "limit", 1, {"max": 2, "keep": "last"}),
    (2, {"operation": "removeDuplicates", "compare": "selectedFields",
         "fieldsToCompare": {"fields": [{"fieldName": "id"}]}}, "removeDuplicates", 1, {"fields": ["id"]}),
    (3.1, {"operation": "removeDuplicates", "compare": "selectedFields", "fieldsToCompare": "id, a.b"},
     "removeDuplicates", 1.1, {"fields": ["id", "a.b"]}),
    (3, {"operation": "sort", "sortFieldsUi": {"sortField": [{"fieldName": "n", "order": "descending"}]}},
     "sort", 1, {"fields": [{"field": "n", "order": "desc"}]}),
    (3.1, {"operation": "splitOutItems", "fieldToSplitOut": "tags", "include": "allOtherFields"},
     "splitOut", 1, {"field": "tags", "include": "allOtherFields", "destination": ""}),
    (1, {"fieldToSplitOut": "tags"},  # no operation: n8n's default, in every version, splits out
     "splitOut", 1, {"field": "tags", "include": "none", "destination": "", "failIfMissing": True,
                     "failIfNotList": True}),
    (2.1, {"fieldToSplitOut": "tags"}, "splitOut", 1, {"field": "tags", "include": "none", "destination": "",
                                                       "failIfNotList": True}),
    (3.1, {"operation": "splitOutItems", "fieldToSplitOut": "a", "include": "selectedOtherFields",
           "fieldsToInclude": "b, c.d"},
     "splitOut", 1, {"field": "a", "include": "selectedOtherFields", "fieldsToInclude": ["b", "c.d"], "destination": ""}),
    (2, {"operation": "summarize", "fieldsToSummarize": {"values": [{"aggregation": "sum", "field": "n"}]}},
     "summarize", 1, {"fieldsToSummarize": [{"aggregation": "sum", "field": "n"}]}),
    (3.1, {"operation": "summarize", "fieldsToSummarize": {"values": [{"field": "n"}]}, "fieldsToSplitBy": "k"},
     "summarize", 1, {"fieldsToSummarize": [{"field": "n"}], "fieldsToSplitBy": "k",
                      "options": {"continueIfFieldNotFound": True}}),
]


@pytest.mark.parametrize(("version", "params", "flowbox_type", "flowbox_version", "expected"), ITEM_LISTS,
                         ids=[f"v{c[0]}-{c[2]}-{i}" for i, c in enumerate(ITEM_LISTS)])
def test_item_lists_operations_become_the_standalone_nodes(version: float, params: dict[str, Any], flowbox_type: str,
                                                          flowbox_version: float, expected: dict[str, Any]) -> None:
    node = converted("itemLists", version, params)
    assert (node["type"], node["typeVersion"], node["parameters"]) == (flowbox_type, flowbox_version, expected)
    assert {k: node["n8n"][k] for k in ("type", "typeVersion")} == {"type": "n8n-nodes-base.itemLists", "typeVersion": version}
    assert node["n8n"]["parameters"] == params  # the original, for an export back


@pytest.mark.parametrize(("version", "params", "reason"), [
    (3, {"operation": "aggregateItems"}, "operation 'aggregateItems'"),  # v3 calls it concatenateItems
    (3.1, {"operation": "splitOutItems", "fieldToSplitOut": "$binary"}, "splitting $binary"),
    (2, {"operation": "sort", "type": "random"}, "sort type 'random'"),
    (3, {"operation": "summarize", "fieldsToSummarize": {"values": [{"field": "n"}]}, "options": {"bogus": 1}},
     "option 'options.bogus'"),
])
def test_item_lists_placeholders(version: float, params: dict[str, Any], reason: str) -> None:
    conversion = convert(n8n_workflow(n8n_node("Start", "manualTrigger"), n8n_node("Node", "itemLists", version, params)))
    node = conversion.workflow["nodes"][1]
    assert node["type"] == "n8nPlaceholder" and reason in node["parameters"]["reason"]
    assert node["parameters"]["node"]["type"] == "n8n-nodes-base.itemLists"


def test_item_lists_unknown_version_is_refused() -> None:
    from flowbox.errors import WorkflowInvalid

    with pytest.raises(WorkflowInvalid, match="typeVersion 4 is not one flowbox knows"):
        convert(n8n_workflow(n8n_node("Start", "manualTrigger"), n8n_node("Node", "itemLists", 4, {})))


def test_item_lists_v2_fails_where_n8n_did_and_continue_passes_the_input_on(capsys: pytest.CaptureFixture[str],
                                                                              tmp_path: Path) -> None:
    """Item Lists v2 refuses a missing field (split out, aggregate) and v2.1 a field that is no list; with n8n's
    continueOnFail the node's input goes on unchanged (n8n's rule for a failing node); from v2.2 a missing field
    splits into nothing and a single value into one item."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Split2", "itemLists", 2, {"fieldToSplitOut": "nope"}, continueOnFail=True),
        n8n_node("Agg2", "itemLists", 2, {"operation": "aggregateItems",
                                          "fieldsToAggregate": {"fieldToAggregate": [{"fieldToAggregate": "nope"}]}},
                 onError="continueRegularOutput"),
        n8n_node("One21", "itemLists", 2.1, {"fieldToSplitOut": "one"}, continueOnFail=True),
        n8n_node("One22", "itemLists", 2.2, {"fieldToSplitOut": "one"}),
        n8n_node("Strict", "itemLists", 2, {"fieldToSplitOut": "nope"}),
        connections={"Start": {"main": [[{"node": n, "type": "main", "index": 0}
                                         for n in ("Split2", "Agg2", "One21", "One22", "Strict")]]}},
        pinData={"Start": [{"json": {"one": 5, "k": "a"}}]})
    path = tmp_path / "w.json"
    path.write_text(json.dumps(data))
    code, out, _ = cli(capsys, "run", str(path), "--json", "--data-dir", str(tmp_path / "data"))
    result = json.loads(out)
    assert code == 1 and result["error"]["node"] == "Strict"
    assert "Couldn't find the field 'nope' in the input data" in result["error"]["message"]
    for name in ("Split2", "Agg2", "One21"):
        assert outputs(result, name) == [{"one": 5, "k": "a"}], name
    assert outputs(result, "One22") == [{"one": 5}]


def test_item_lists_give_n8ns_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Item Lists v3 summarize (count of name by city: the city as text, as Item Lists groups), then
    v2 sort by count descending and v3.1 limit to one (n8n's Item Lists docs)."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Summary", "itemLists", 3, {"operation": "summarize", "fieldsToSummarize": {"values": [
            {"field": "name"}, {"aggregation": "sum", "field": "missing"}]}, "fieldsToSplitBy": "city"}),
        n8n_node("Sort", "itemLists", 2, {"operation": "sort", "sortFieldsUi": {"sortField": [
            {"fieldName": "count_name", "order": "descending"}]}}),
        n8n_node("Top", "itemLists", 3.1, {"operation": "limit"}),
        pinData={"Start": [{"json": s} for s in SALES]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Summary") == [{"city": "Oslo", "count_name": 2, "sum_missing": 0},
                                          {"city": "Rome", "count_name": 1, "sum_missing": 0}]
    assert outputs(result, "Top") == [{"city": "Oslo", "count_name": 2, "sum_missing": 0}]


# ---------------------------------------------------------------- RSS Read


@pytest.mark.parametrize("version", [1, 1.1, 1.2])
def test_rss_feed_read_maps_its_url(version: float) -> None:
    node = converted("rssFeedRead", version, {"url": "https://example.com/feed.xml", "options": {}})
    assert (node["type"], node["parameters"]) == ("rssFeedRead", {"url": "https://example.com/feed.xml"})


def test_rss_feed_read_v1_reading_once_is_reported() -> None:
    conversion = convert(n8n_workflow(n8n_node("Start", "manualTrigger"),
                                      n8n_node("Feed", "rssFeedRead", 1, {"url": "https://x.test/f"})))
    assert any(e.level == "approximated" and "reads the feed once" in e.message for e in conversion.report)


@pytest.mark.parametrize("option", ["ignoreSSL", "customFields"])
def test_rss_feed_read_options_become_a_placeholder(option: str) -> None:
    placeholder_check("rssFeedRead", 1.2, {"url": "https://x", "options": {option: True}}, f"option 'options.{option}'")


# ---------------------------------------------------------------- Redis

REDIS = [
    ({"operation": "get", "key": "k"},
     {"operation": "get", "key": "k", "propertyName": "propertyName", "jsonDecode": False, "includeInput": False}),
    ({"operation": "set", "key": "k", "value": "v", "expire": True},
     {"operation": "set", "key": "k", "value": "v", "ttl": 60}),
    ({"operation": "set", "key": "k", "value": "v", "ttl": 5}, {"operation": "set", "key": "k", "value": "v", "ttl": 0}),
    ({"operation": "incr", "key": "hits", "expire": True, "ttl": 10},
     {"operation": "incr", "key": "hits", "ttl": 10, "incrBy": 1, "propertyName": "hits", "includeInput": False}),
    ({"operation": "delete", "key": "k"}, {"operation": "delete", "key": "k"}),
    ({"operation": "push", "list": "q", "messageData": "m", "tail": True},
     {"operation": "push", "key": "q", "side": "right", "value": "m"}),
    ({"operation": "pop", "list": "q", "propertyName": "job"},
     {"operation": "pop", "key": "q", "side": "left", "propertyName": "job", "jsonDecode": True, "includeInput": False}),
    ({"operation": "publish", "channel": "c", "messageData": "hi"}, {"operation": "publish", "channel": "c", "value": "hi"}),
]


@pytest.mark.parametrize(("params", "expected"), REDIS, ids=[f"{c[0]['operation']}-{i}" for i, c in enumerate(REDIS)])
def test_redis_maps_its_operations(params: dict[str, Any], expected: dict[str, Any]) -> None:
    node = converted("redis", 1, params, credentials={"redis": {"id": "1", "name": "Redis"}})
    assert (node["type"], node["parameters"]) == ("redis", expected)


@pytest.mark.parametrize(("params", "reason"), [
    ({}, "operation 'info'"),  # n8n's default operation
    ({"operation": "keys", "keyPattern": "a*"}, "operation 'keys'"),
    ({"operation": "get", "key": "k", "keyType": "hash"}, "keyType 'hash'"),
    ({"operation": "pop", "list": "q", "options": {"dotNotation": False}}, "dotNotation"),
])
def test_redis_placeholders(params: dict[str, Any], reason: str) -> None:
    placeholder_check("redis", 1, params, reason)


# ---------------------------------------------------------------- Read/Write Files from Disk


@pytest.mark.parametrize(("params", "expected"), [
    ({"fileSelector": "/data/*.csv"},
     {"operation": "read", "fileSelector": "/data/*.csv", "fileInfo": True, "fileFacts": "n8n",
      "dataPropertyName": "data"}),
    ({"fileSelector": "in/a.bin", "options": {"dataPropertyName": "file", "mimeType": "application/zip"}},
     {"operation": "read", "fileSelector": "in/a.bin", "fileInfo": True, "fileFacts": "n8n",
      "dataPropertyName": "file", "mimeType": "application/zip"}),
    ({"operation": "write", "fileName": "out/x.txt", "options": {"append": True}},
     {"operation": "write", "fileName": "out/x.txt", "fileFacts": "n8n", "dataPropertyName": "data",
      "append": True}),
])
def test_read_write_file_maps_its_layout(params: dict[str, Any], expected: dict[str, Any]) -> None:
    node = converted("readWriteFile", 1, params)
    assert (node["type"], node["parameters"]) == ("readWriteFile", expected)


@pytest.mark.parametrize("option", ["fileName", "fileExtension"])
def test_read_write_file_renaming_options_become_a_placeholder(option: str) -> None:
    placeholder_check("readWriteFile", 1, {"fileSelector": "a", "options": {option: "x"}}, f"option 'options.{option}'")


def test_read_file_gives_n8ns_file_facts(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Read Files from Disk: one item per file, its json the file's facts as n8n writes them (the size as
    pretty-bytes text, the file's type), the bytes as binary; Write, then Read Binary File (legacy: the input
    item with the file added) of what was written."""
    monkeypatch.delenv("FLOWBOX_FILES_DIR", raising=False)
    folder = tmp_path / "data" / "files"
    folder.mkdir(parents=True)
    (folder / "r.csv").write_text("a,b\n" * 300)
    data = n8n_workflow(n8n_node("Start", "manualTrigger"),
                        n8n_node("Read", "readWriteFile", 1, {"fileSelector": "*.csv", "options": {}}),
                        n8n_node("Write", "readWriteFile", 1, {"operation": "write", "fileName": "copy.csv"}),
                        n8n_node("Legacy", "readBinaryFile", 1, {"filePath": "copy.csv", "dataPropertyName": "again"}))
    result = run_json(capsys, tmp_path, data)
    facts = {"fileExtension": "csv", "fileName": "r.csv", "fileSize": "1.2 kB", "fileType": "text",
             "mimeType": "text/csv"}
    assert outputs(result, "Read") == [facts]
    assert outputs(result, "Write") == [{**facts, "fileName": "copy.csv"}]
    assert outputs(result, "Legacy") == [{**facts, "fileName": "copy.csv"}]
    assert (folder / "copy.csv").read_text() == "a,b\n" * 300


# ---------------------------------------------------------------- Execute Workflow Trigger


@pytest.mark.parametrize(("version", "params"), [
    (1, {}), (1, {"events": "worklfow_call"}), (1.1, {"inputSource": "passthrough"}), (1.1, {}),
])
def test_execute_workflow_trigger_passes_the_callers_items(version: float, params: dict[str, Any]) -> None:
    conversion = convert(n8n_workflow(n8n_node("Called", "executeWorkflowTrigger", version, params),
                                      n8n_node("Next", "noOp")))
    node = conversion.workflow["nodes"][0]
    assert (node["type"], node["parameters"]) == ("manualTrigger", {})


@pytest.mark.parametrize(("params", "reason"), [
    ({"inputSource": "workflowInputs", "workflowInputs": {"values": [{"name": "id", "type": "number"}]}},
     "typed workflow inputs (inputSource 'workflowInputs')"),
    ({"workflowInputs": {"values": [{"name": "id"}]}}, "typed workflow inputs"),  # v1.1's default source
    ({"inputSource": "jsonExample", "jsonExample": "{\"id\": 1}"}, "inputSource 'jsonExample'"),
])
def test_execute_workflow_trigger_typed_inputs_become_a_placeholder(params: dict[str, Any], reason: str) -> None:
    conversion = convert(n8n_workflow(n8n_node("Called", "executeWorkflowTrigger", 1.1, params),
                                      n8n_node("Next", "noOp")))
    node = conversion.workflow["nodes"][0]
    assert node["type"] == "n8nPlaceholder" and reason in node["parameters"]["reason"]


def test_sub_workflow_started_by_execute_workflow_trigger_gets_the_items(capsys: pytest.CaptureFixture[str],
                                                                          tmp_path: Path) -> None:
    """An n8n sub-workflow (Execute Workflow Trigger -> Set), converted and saved as a file, run by an n8n caller
    returns the caller's items as its Set made them (the engine's file loader reads flowbox JSON)."""
    import json

    sub = n8n_workflow(n8n_node("Called", "executeWorkflowTrigger", 1, {}),
                       n8n_node("Mark", "set", 3.4, {"assignments": {"assignments": [
                           {"id": "1", "name": "seen", "value": True, "type": "boolean"}]}, "includeOtherFields": True}))
    sub_path = tmp_path / "sub.json"
    sub_path.write_text(json.dumps(convert(sub).workflow))
    caller = n8n_workflow(n8n_node("Start", "manualTrigger"),
                          n8n_node("Call", "executeWorkflow", 1, {"workflowId": str(sub_path)}),
                          pinData={"Start": [{"json": {"n": 1}}, {"json": {"n": 2}}]})
    result = run_json(capsys, tmp_path, caller)
    assert outputs(result, "Call") == [{"n": 1, "seen": True}, {"n": 2, "seen": True}]


@pytest.mark.parametrize("mode", ["once", "each"])
def test_an_n8n_sub_workflow_file_runs_unchanged(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 mode: str) -> None:
    """n8n's `source: localFile`: the file is n8n's own export (not converted beforehand); the loader converts it
    as every other door does, and a placeholder in it refuses the run naming the node."""
    import json

    sub = n8n_workflow(n8n_node("Called", "executeWorkflowTrigger", 1, {}),
                       n8n_node("Mark", "set", 3.4, {"assignments": {"assignments": [
                           {"id": "1", "name": "double", "value": "={{ $json.n * 2 }}", "type": "number"}]},
                           "includeOtherFields": True}))
    (tmp_path / "sub.json").write_text(json.dumps(sub))
    caller = n8n_workflow(n8n_node("Start", "manualTrigger"),
                          n8n_node("Call", "executeWorkflow", 1, {"source": "localFile", "mode": mode,
                                                                  "workflowPath": str(tmp_path / "sub.json")}),
                          pinData={"Start": [{"json": {"n": 1}}, {"json": {"n": 2}}]})
    assert outputs(run_json(capsys, tmp_path, caller), "Call") == [{"n": 1, "double": 2}, {"n": 2, "double": 4}]
    sub["nodes"][1]["parameters"]["shout"] = True  # a parameter Set does not know: a placeholder
    (tmp_path / "sub.json").write_text(json.dumps(sub))
    (tmp_path / "caller.json").write_text(json.dumps(caller))
    code, out, _ = cli(capsys, "run", str(tmp_path / "caller.json"), "--json", "--data-dir", str(tmp_path / "data"))
    error = json.loads(out)["error"]
    assert code == 1 and error["node"] == "Call", error
    assert "'Mark'" in error["message"] and "n8n-nodes-base.set" in error["message"], error


@pytest.mark.parametrize("mode", ["once", "each"])
def test_a_sub_workflow_given_as_json_in_the_node_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       mode: str) -> None:
    """n8n's `source: parameter`: the sub-workflow is n8n JSON text in `workflowJson`; its last node's items come
    back; text that is not JSON fails the node naming the parameter."""
    import json

    sub = n8n_workflow(n8n_node("Called", "executeWorkflowTrigger", 1, {}),
                       n8n_node("Count", "code", 2, {"jsCode": "return [{json: {seen: $input.all().length}}];"}))
    caller = n8n_workflow(n8n_node("Start", "manualTrigger"),
                          n8n_node("Call", "executeWorkflow", 1, {"source": "parameter", "mode": mode,
                                                                  "workflowJson": json.dumps(sub, indent=2)}),
                          pinData={"Start": [{"json": {"n": 1}}, {"json": {"n": 2}}]})
    expected = [{"seen": 2}] if mode == "once" else [{"seen": 1}, {"seen": 1}]
    assert outputs(run_json(capsys, tmp_path, caller), "Call") == expected
    caller["nodes"][1]["parameters"]["workflowJson"] = "{nodes: oops"
    (tmp_path / "caller.json").write_text(json.dumps(caller))
    code, out, _ = cli(capsys, "run", str(tmp_path / "caller.json"), "--json", "--data-dir", str(tmp_path / "data"))
    error = json.loads(out)["error"]
    assert code == 1 and error["node"] == "Call" and "'workflowJson' is not valid JSON" in error["message"]


def test_a_webhook_wait_with_a_time_limit_in_a_cli_run_waits_out_the_limit(capsys: pytest.CaptureFixture[str],
                                                                          tmp_path: Path) -> None:
    """`flowbox run` has no webhook to call, so n8n's Wait with limitWaitTime simply lasts until its limit."""
    import time

    data = n8n_workflow(n8n_node("Start", "manualTrigger"),
                        n8n_node("Wait", "wait", 1.1, {"resume": "webhook", "limitWaitTime": True, "resumeAmount": 1,
                                                       "resumeUnit": "seconds"}),
                        pinData={"Start": [{"json": {"n": 1}}]})
    started = time.monotonic()
    assert outputs(run_json(capsys, tmp_path, data), "Wait") == [{"n": 1}]
    assert time.monotonic() - started >= 0.9


def test_legacy_order_first_runs_a_never_run_node_that_feeds_an_empty_input(capsys: pytest.CaptureFixture[str],
                                                                           tmp_path: Path) -> None:
    """executionOrder v0 (n8n's default when a workflow names none): a Merge whose input 2 hangs off a node
    nothing starts runs that node first (with one empty item), as n8n's legacy order does; v1 does not."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"), n8n_node("A", "code", 2, {"jsCode": "return [{a: 1}];"}),
        n8n_node("Loose", "code", 2, {"jsCode": "return [{b: $input.all().length}];"}),
        n8n_node("Both", "merge", 3, {"mode": "append"}),
        connections={"Start": {"main": [[{"node": "A", "type": "main", "index": 0}]]},
                     "A": {"main": [[{"node": "Both", "type": "main", "index": 0}]]},
                     "Loose": {"main": [[{"node": "Both", "type": "main", "index": 1}]]}})
    data["settings"] = {"executionOrder": "v0"}
    assert outputs(run_json(capsys, tmp_path, data), "Both") == [{"a": 1}, {"b": 1}]
    data["settings"] = {"executionOrder": "v1"}
    result = run_json(capsys, tmp_path, data)
    assert "Loose" not in result["nodes"] and outputs(result, "Both") == [{"a": 1}]


# ---------------------------------------------------------------- Compression

COMPRESSION = [
    (1.1, {}, {"operation": "decompress", "binaryPropertyName": "data", "outputPrefix": "file_"}),
    (1, {"binaryPropertyName": "a,b", "outputPrefix": "f"}, {"operation": "decompress", "binaryPropertyName": "a,b",
                                                            "outputPrefix": "f"}),
    (1.1, {"operation": "compress", "binaryPropertyName": "a, b", "fileName": "all.zip", "binaryPropertyOutput": "z"},
     {"operation": "compress", "binaryPropertyName": "a, b", "outputFormat": "zip", "binaryPropertyOutput": "z",
      "fileName": "all.zip"}),
    (1, {"operation": "compress", "outputFormat": "zip", "fileName": "x.zip"},
     {"operation": "compress", "binaryPropertyName": "data", "outputFormat": "zip", "binaryPropertyOutput": "data",
      "fileName": "x.zip"}),
    (1.1, {"operation": "compress", "outputFormat": "gzip"},
     {"operation": "compress", "binaryPropertyName": "data", "outputFormat": "gzip", "binaryPropertyOutput": "data"}),
]


@pytest.mark.parametrize(("version", "params", "expected"), COMPRESSION,
                         ids=[f"v{c[0]}-{i}" for i, c in enumerate(COMPRESSION)])
def test_compression_maps_its_layout(version: float, params: dict[str, Any], expected: dict[str, Any]) -> None:
    node = converted("compression", version, params)
    assert (node["type"], node["parameters"]) == ("compression", expected)


@pytest.mark.parametrize(("version", "params", "reason"), [
    (1, {"operation": "compress", "outputFormat": "gzip"}, "v1's gzip naming"),
    (1.1, {"operation": "compress", "outputFormat": "gzip", "binaryPropertyName": "a,b"}, "several binary properties"),
    (1.1, {"operation": "compress", "outputFormat": "gzip", "fileName": "x"}, "a gzip fileName"),
    (1, {"operation": "compress"}, "outputFormat ''"),  # v1 has no default format
])
def test_compression_placeholders(version: float, params: dict[str, Any], reason: str) -> None:
    placeholder_check("compression", version, params, reason)


def test_zip_then_unzip_gives_n8ns_files() -> None:
    """Compression v1.1: two files zipped into `data` named by `fileName` (json kept), then unpacked into
    `file_0`, `file_1` with their names (n8n's Compression docs), run by the engine on the converted workflow."""
    import asyncio
    import base64

    from flowbox.engine.runner import EngineServices, Runner
    from flowbox.node import make_binary, make_items
    from flowbox.workflow import load_workflow

    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Zip", "compression", 1.1, {"operation": "compress", "binaryPropertyName": "a,b",
                                             "fileName": "both.zip"}),
        n8n_node("Unzip", "compression", 1.1, {}))
    wf = load_workflow(convert(data).workflow)
    item = {"json": {"k": 1}, "binary": {"a": make_binary(b"alpha", "a.txt"), "b": make_binary(b"beta", "b.txt")}}

    async def go() -> Any:
        services = EngineServices()
        try:
            return await Runner(wf, services=services).run(make_items([item]))
        finally:
            await services.close()

    result = asyncio.run(go())
    assert result.status == "success", result.error
    [zipped] = result.runs["Zip"][-1].outputs[0]
    assert zipped.json == {"k": 1} and list(zipped.binary) == ["data"]
    assert zipped.binary["data"]["fileName"] == "both.zip"
    [unzipped] = result.runs["Unzip"][-1].outputs[0]
    assert unzipped.json == {"k": 1}
    assert {k: (v["fileName"], base64.b64decode(v["data"])) for k, v in unzipped.binary.items()} == {
        "file_0": ("a.txt", b"alpha"), "file_1": ("b.txt", b"beta")}


# ---------------------------------------------------------------- Send Email

EMAIL = [
    (1, {"fromEmail": "a@x.test", "toEmail": "b@x.test", "subject": "Hi", "text": "t", "html": "<p>h</p>",
         "attachments": "data", "options": {"allowUnauthorizedCerts": True}},
     {"fromEmail": "a@x.test", "to": "b@x.test", "subject": "Hi", "cc": "", "bcc": "", "text": "t",
      "html": "<p>h</p>", "attachments": "data", "allowUnauthorizedCerts": True}),
    (2, {"fromEmail": "a@x.test", "toEmail": "b@x.test", "text": "plain", "options": {"ccEmail": "c@x.test"}},
     {"fromEmail": "a@x.test", "to": "b@x.test", "subject": "", "text": "plain", "html": "", "cc": "c@x.test",
      "bcc": "", "replyTo": "", "attachments": "", "allowUnauthorizedCerts": False}),  # v2: text by default
    (2.1, {"fromEmail": "a@x.test", "toEmail": "b@x.test", "html": "<b>x</b>", "text": "ignored",
           "options": {"appendAttribution": False, "replyTo": "r@x.test"}},
     {"fromEmail": "a@x.test", "to": "b@x.test", "subject": "", "text": "", "html": "<b>x</b>", "cc": "", "bcc": "",
      "replyTo": "r@x.test", "attachments": "", "allowUnauthorizedCerts": False}),  # v2.1: html by default
]


@pytest.mark.parametrize(("version", "params", "expected"), EMAIL, ids=[f"v{c[0]}" for c in EMAIL])
def test_email_send_maps_its_layout(version: float, params: dict[str, Any], expected: dict[str, Any]) -> None:
    node = converted("emailSend", version, params, credentials={"smtp": {"id": "1", "name": "SMTP"}})
    assert (node["type"], node["parameters"]) == ("sendEmail", expected)


def test_email_send_attribution_is_reported_and_wait_is_a_placeholder() -> None:
    conversion = convert(n8n_workflow(n8n_node("Start", "manualTrigger"),
                                      n8n_node("Mail", "emailSend", 2.1, {"toEmail": "b@x.test"})))
    assert any(e.level == "approximated" and "sent automatically with n8n" in e.message for e in conversion.report)
    placeholder_check("emailSend", 2.1, {"operation": "sendAndWait", "message": "ok?"}, "operation 'sendAndWait'")


# ---------------------------------------------------------------- XML


def test_xml_to_json_maps_onto_xml2js_layout() -> None:
    node = converted("xml", 1, {"dataPropertyName": "body", "options": {"mergeAttrs": True}})
    assert (node["type"], node["parameters"]) == ("xml", {"mode": "xmlToJson", "dataPropertyName": "body",
                                                          "layout": "xml2js"})


@pytest.mark.parametrize(("params", "reason"), [
    ({"mode": "xmlToHtml"}, "mode 'xmlToHtml'"),
    ({"options": {"explicitArray": True}}, "option 'options.explicitArray' = True"),
    ({"options": {"attrkey": "@"}}, "option 'options.attrkey' = '@'"),
])
def test_xml_placeholders(params: dict[str, Any], reason: str) -> None:
    placeholder_check("xml", 1, params, reason)


def test_xml_to_json_gives_xml2js_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """XML to JSON as n8n documents it (xml2js, attributes merged): the item becomes the parsed document."""
    xml = '<order id="7"><item sku="a">Pen</item><item sku="b">Ink</item><note/><total>3</total></order>'
    data = n8n_workflow(n8n_node("Start", "manualTrigger"), n8n_node("XML", "xml", 1, {"options": {}}),
                        pinData={"Start": [{"json": {"data": xml}}]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "XML") == [{"order": {"id": "7", "item": [{"sku": "a", "_": "Pen"}, {"sku": "b", "_": "Ink"}],
                                                 "note": "", "total": "3"}}]


def test_json_to_xml_writes_as_xml2js_builder_does(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """JSON to XML as n8n documents it: a one-key json names the root, `$` holds attributes and `_` text, a list
    repeats its element, empty values give `<x/>`, two-space indents; headless drops the declaration; the XML read
    back gives the values as text."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("ToXml", "xml", 1, {"mode": "jsonToxml", "options": {}}),
        n8n_node("Back", "xml", 1, {"options": {}}),
        n8n_node("Bare", "xml", 1, {"mode": "jsonToxml", "dataPropertyName": "xml",
                                   "options": {"headless": True, "rootName": "doc", "cdata": True}}),
        connections={**n8n_chain("Start", "ToXml", "Back"), "Start": {"main": [[
            {"node": "ToXml", "type": "main", "index": 0}, {"node": "Bare", "type": "main", "index": 0}]]}},
        pinData={"Start": [{"json": {"order": {"$": {"id": 7}, "line": [{"$": {"sku": "a"}, "_": "Pen & ink"},
                                                                        {"qty": 2}], "paid": True, "note": None}}}]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "ToXml") == [{"data": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                                                 '<order id="7">\n  <line sku="a">Pen &amp; ink</line>\n'
                                                 '  <line>\n    <qty>2</qty>\n  </line>\n  <paid>true</paid>\n'
                                                 '  <note/>\n</order>'}]
    assert outputs(result, "Back") == [{"order": {"id": "7", "line": [{"sku": "a", "_": "Pen & ink"}, {"qty": "2"}],
                                                  "paid": "true", "note": ""}}]
    assert outputs(result, "Bare") == [{"xml": '<doc>\n  <order id="7">\n    <line sku="a"><![CDATA[Pen & ink]]></line>'
                                               '\n    <line>\n      <qty>2</qty>\n    </line>\n'
                                               '    <paid>true</paid>\n    <note/>\n  </order>\n</doc>'}]


# ---------------------------------------------------------------- Function and Function Item (legacy JavaScript)


def test_function_and_function_item_run_as_the_javascript_code_node(capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    """Function: `items` in, items out; Function Item: `item` is each item's json, the json it returns is the item."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Make", "function", 1, {"functionCode": "return [{json: {a: 1}}, {json: {a: 2}}].concat(items);"}),
        n8n_node("Each", "functionItem", 1, {"functionCode": "item.b = (item.a || 0) * 10;\nreturn item;"}))
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Make") == [{"a": 1}, {"a": 2}, {}]
    assert outputs(result, "Each") == [{"a": 1, "b": 10}, {"a": 2, "b": 20}, {"b": 0}]


def test_remove_duplicates_all_fields_except_and_remove_other_fields(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path) -> None:
    """allFieldsExcept compares the first item's leaf paths but the excluded ones; removeOtherFields keeps those."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Rows", "code", 2, {"jsCode": "return [{id: 1, a: {b: 1}, t: 'x'}, {id: 2, a: {b: 1}, t: 'x'},"
                                               " {id: 3, a: {b: 2}, t: 'x'}];"}),
        n8n_node("Dedupe", "removeDuplicates", 2, {"compare": "allFieldsExcept", "fieldsToExclude": "id",
                                                   "options": {"removeOtherFields": True}}))
    assert outputs(run_json(capsys, tmp_path, data), "Dedupe") == [{"a": {"b": 1}, "t": "x"}, {"a": {"b": 2}, "t": "x"}]


def test_sort_by_code_runs_its_comparator_as_a_code_node(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """n8n's Sort `type: code` (a comparator of items a and b; n8n's default code assigns an undeclared
    `fieldName`) sorts through the JavaScript Code node; one without `return` is refused, naming the node."""
    comparator = ("fieldName = 'n';\nif (a.json[fieldName] < b.json[fieldName]) { return -1; }\n"
                  "if (a.json[fieldName] > b.json[fieldName]) { return 1; }\nreturn 0;")
    data = n8n_workflow(n8n_node("Start", "manualTrigger"),
                        n8n_node("Rows", "code", 2, {"jsCode": "return [{n: 3}, {n: 1}, {n: 2}];"}),
                        n8n_node("Sort", "sort", 1, {"type": "code", "code": comparator}))
    assert outputs(run_json(capsys, tmp_path, data), "Sort") == [{"n": 1}, {"n": 2}, {"n": 3}]
    from flowbox.errors import WorkflowInvalid

    with pytest.raises(WorkflowInvalid, match="node 'Sort' .*doesn't return"):
        convert(n8n_workflow(n8n_node("Start", "manualTrigger"), n8n_node("Sort", "sort", 1, {"type": "code",
                                                                                              "code": "a < b"})))


def test_set_v3_converts_an_expressions_result_to_the_fields_type(capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path) -> None:
    """Edit Fields v3 converts each value to its declared type, expressions' results too; one that cannot be
    converted fails its item, naming the field, unless ignoreConversionErrors keeps it as it is."""
    assignments = [{"id": "1", "name": "n", "value": "={{ $json.text }}", "type": "number"},
                   {"id": "2", "name": "s", "value": "={{ $json.num }}", "type": "string"},
                   {"id": "3", "name": "b", "value": "={{ $json.flag }}", "type": "boolean"},
                   {"id": "4", "name": "o", "value": "={{ $json.obj }}", "type": "object"}]
    rows = "return [{text: '42', num: 7, flag: 'true', obj: '{\"a\": 1}'}];"

    def workflow(**options: Any) -> dict[str, Any]:
        return n8n_workflow(n8n_node("Start", "manualTrigger"), n8n_node("Rows", "code", 2, {"jsCode": rows}),
                            n8n_node("Set", "set", 3.4, {"assignments": {"assignments": assignments},
                                                         "options": options}))

    [item] = outputs(run_json(capsys, tmp_path, workflow()), "Set")
    assert item == {"n": 42, "s": "7", "b": True, "o": {"a": 1}}
    rows = "return [{text: 'lots', num: 7, flag: 'true', obj: '{}'}];"
    lenient = outputs(run_json(capsys, tmp_path, workflow(ignoreConversionErrors=True)), "Set")
    assert lenient == [{"n": "lots", "s": "7", "b": True, "o": {}}]
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(workflow()))
    code, out, _ = cli(capsys, "run", str(path), "--json", "--data-dir", str(tmp_path / "data"))
    assert code == 1 and "'n' expects a number but we got 'lots'" in json.loads(out)["error"]["message"]


def test_merge_by_fields_follows_n8n_order_clashes_and_non_matches(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    """n8n's Merge by fields: matched items first, then the unmatched; nested objects deep-merged (its default);
    addSuffix names both inputs' fields; keepNonMatches outputs the unmatched of both, tagged with _source."""
    one = "return [{id: 1, a: {x: 1}}, {id: 2, a: {x: 2}}, {id: 3}];"
    two = "return [{id: 3, a: {y: 3}}, {id: 1, a: {y: 1}}, {id: 9}];"
    merges = {"Enrich": {"joinMode": "enrichInput1"},
              "Suffix": {"options": {"clashHandling": {"values": {"resolveClash": "addSuffix"}}}},
              "Non": {"joinMode": "keepNonMatches"}}
    nodes = [n8n_node("Start", "manualTrigger"), n8n_node("One", "code", 2, {"jsCode": one}),
             n8n_node("Two", "code", 2, {"jsCode": two}),
             *(n8n_node(name, "merge", 3, {"mode": "combine", "fieldsToMatchString": "id", **params})
               for name, params in merges.items())]
    connections = {"Start": {"main": [[{"node": "One", "type": "main", "index": 0},
                                       {"node": "Two", "type": "main", "index": 0}]]},
                   **{source: {"main": [[{"node": name, "type": "main", "index": index} for name in merges]]}
                      for source, index in (("One", 0), ("Two", 1))}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections))
    assert outputs(result, "Enrich") == [{"id": 1, "a": {"x": 1, "y": 1}}, {"id": 3, "a": {"y": 3}},
                                         {"id": 2, "a": {"x": 2}}]
    assert outputs(result, "Suffix") == [{"id_1": 1, "a_1": {"x": 1}, "id_2": 1, "a_2": {"y": 1}},
                                         {"id_1": 3, "id_2": 3, "a_2": {"y": 3}}]
    assert outputs(result, "Non") == [{"id": 2, "a": {"x": 2}, "_source": "input1"}, {"id": 9, "_source": "input2"}]


def test_merge_v2_enriching_input_2_keeps_input_1s_values_and_refuses_a_missing_field(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Merge v2 matches input 2 against input 1 for enrichInput2, so input 1's values win a clash; before v2.1 a
    field to match that no item of an input has fails the node (with continueOnFail its input goes on)."""
    one = "return [{id: 1, v: 'one', only1: true}];"
    two = "return [{id: 1, v: 'two', only2: true}, {id: 5, v: 'alone'}];"
    nodes = [n8n_node("Start", "manualTrigger"), n8n_node("One", "code", 2, {"jsCode": one}),
             n8n_node("Two", "code", 2, {"jsCode": two}),
             n8n_node("Enrich2", "merge", 2, {"mode": "combine", "joinMode": "enrichInput2",
                                              "mergeByFields": {"values": [{"field1": "id", "field2": "id"}]}}),
             n8n_node("Missing", "merge", 2, {"mode": "combine",
                                              "mergeByFields": {"values": [{"field1": "nope", "field2": "id"}]}},
                      continueOnFail=True),
             n8n_node("Later", "merge", 2.1, {"mode": "combine",
                                              "mergeByFields": {"values": [{"field1": "nope", "field2": "id"}]}})]
    names = ("Enrich2", "Missing", "Later")
    connections = {"Start": {"main": [[{"node": "One", "type": "main", "index": 0},
                                       {"node": "Two", "type": "main", "index": 0}]]},
                   **{source: {"main": [[{"node": name, "type": "main", "index": index} for name in names]]}
                      for source, index in (("One", 0), ("Two", 1))}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections))
    assert outputs(result, "Enrich2") == [{"id": 1, "v": "one", "only1": True, "only2": True},
                                          {"id": 5, "v": "alone"}]
    assert outputs(result, "Missing") == [{"id": 1, "v": "one", "only1": True}]
    assert result["nodes"]["Missing"][-1]["error"] == "Field 'nope' is not present in any of items in 'Input 1'"
    assert outputs(result, "Later") == []


def test_split_out_follows_n8n_for_several_fields_objects_and_other_fields(capsys: pytest.CaptureFixture[str],
                                                                          tmp_path: Path) -> None:
    """Several fields split side by side; an object value splits into its values; with other fields included an
    object element stays under the field's name, and allOtherFields drops the split field itself."""
    rows = "return [{id: 7, tags: ['a', 'b'], n: [1, 2], m: {x: {k: 1}, y: {k: 2}}, keep: {deep: true}}];"
    splits = {"Both": {"fieldToSplitOut": "tags, n"},
              "Obj": {"fieldToSplitOut": "m"},
              "All": {"fieldToSplitOut": "m", "include": "allOtherFields"},
              "Some": {"fieldToSplitOut": "tags", "include": "selectedOtherFields", "fieldsToInclude": "id, keep.deep"}}
    nodes = [n8n_node("Start", "manualTrigger"), n8n_node("Rows", "code", 2, {"jsCode": rows}),
             *(n8n_node(name, "splitOut", 1, params) for name, params in splits.items())]
    connections = {"Start": {"main": [[{"node": "Rows", "type": "main", "index": 0}]]},
                   "Rows": {"main": [[{"node": name, "type": "main", "index": 0} for name in splits]]}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections))
    assert outputs(result, "Both") == [{"tags": "a", "n": 1}, {"tags": "b", "n": 2}]
    assert outputs(result, "Obj") == [{"k": 1}, {"k": 2}]
    assert outputs(result, "All") == [{"id": 7, "tags": ["a", "b"], "n": [1, 2], "keep": {"deep": True}, "m": {"k": 1}},
                                      {"id": 7, "tags": ["a", "b"], "n": [1, 2], "keep": {"deep": True}, "m": {"k": 2}}]
    assert outputs(result, "Some") == [{"tags": "a", "id": 7, "keep.deep": True}, {"tags": "b", "id": 7, "keep.deep": True}]


def test_if_v2_compares_dates_and_ignores_case_when_told(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def cond(left: str, kind: str, operation: str, right: str) -> dict[str, Any]:
        return {"id": "c", "leftValue": left, "rightValue": right, "operator": {"type": kind, "operation": operation}}

    rows = "return [{d: '2024-03-01T10:00:00Z', s: 'ALPHA'}, {d: '2023-12-31', s: 'beta'}];"
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"), n8n_node("Rows", "code", 2, {"jsCode": rows}),
        n8n_node("Check", "if", 2.2, {"conditions": {
            "options": {"caseSensitive": False, "typeValidation": "strict"}, "combinator": "and",
            "conditions": [cond("={{ $json.d }}", "dateTime", "after", "2024-01-01"),
                           cond("={{ $json.s }}", "string", "startsWith", "al")]}}))
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Check", 0) == [{"d": "2024-03-01T10:00:00Z", "s": "ALPHA"}]
    assert outputs(result, "Check", 1) == [{"d": "2023-12-31", "s": "beta"}]


def test_switch_fallback_to_an_existing_output_and_all_matching_outputs(capsys: pytest.CaptureFixture[str],
                                                                       tmp_path: Path) -> None:
    def rule(operation: str, right: int) -> dict[str, Any]:
        return {"conditions": {"options": {"caseSensitive": True, "typeValidation": "strict"}, "combinator": "and",
                               "conditions": [{"id": "r", "leftValue": "={{ $json.n }}", "rightValue": right,
                                               "operator": {"type": "number", "operation": operation}}]}}

    rows = "return [{n: 1}, {n: 5}, {n: 9}];"
    data = n8n_workflow(n8n_node("Start", "manualTrigger"), n8n_node("Rows", "code", 2, {"jsCode": rows}),
                        n8n_node("Route", "switch", 3.2, {"rules": {"values": [rule("gt", 3), rule("gt", 7)]},
                                                          "options": {"fallbackOutput": 1, "allMatchingOutputs": True}}))
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Route", 0) == [{"n": 5}, {"n": 9}]
    assert outputs(result, "Route", 1) == [{"n": 1}, {"n": 9}]  # n=1 matched nothing: the fallback is output 1


def test_aggregate_several_fields_and_some_fields_of_all_items(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    """Each field into a list named by its last part, nulls dropped but empty text kept, lists merged with
    mergeLists; all item data with only the specified fields (an item left empty is dropped)."""
    rows = "return [{a: {b: 1}, t: ['x', null], s: ''}, {a: {b: null}, t: ['y'], s: 'q'}, {z: 1}];"
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"), n8n_node("Rows", "code", 2, {"jsCode": rows}),
        n8n_node("Fields", "aggregate", 1, {"fieldsToAggregate": {"fieldToAggregate": [
            {"fieldToAggregate": "a.b"}, {"fieldToAggregate": "t"}, {"fieldToAggregate": "s"}]},
            "options": {"mergeLists": True}}),
        n8n_node("Some", "aggregate", 1, {"aggregate": "aggregateAllItemData", "include": "specifiedFields",
                                          "fieldsToInclude": "s, t"}))
    data["connections"] = {"Start": {"main": [[{"node": "Rows", "type": "main", "index": 0}]]},
                           "Rows": {"main": [[{"node": "Fields", "type": "main", "index": 0},
                                              {"node": "Some", "type": "main", "index": 0}]]}}
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Fields") == [{"b": [1], "t": ["x", "y"], "s": ["", "q"]}]
    assert outputs(result, "Some") == [{"data": [{"t": ["x", None], "s": ""}, {"t": ["y"], "s": "q"}]}]


def test_merge_multiplex_order_choose_empty_and_non_matches_of_an_empty_input(capsys: pytest.CaptureFixture[str],
                                                                              tmp_path: Path) -> None:
    """All combinations run input 1 outer, input 2 outer when input 1's values win; chooseBranch 'empty' gives
    one empty item; keeping the non-matches of an empty input passes the other input on untagged."""
    merges = {"Prefer1": {"mode": "combine", "combinationMode": "multiplex",
                          "options": {"clashHandling": {"values": {"resolveClash": "preferInput1"}}}},
              "Empty": {"mode": "chooseBranch", "output": "empty"},
              "Non": {"mode": "combine", "mergeByFields": {"values": [{"field1": "id", "field2": "id"}]},
                      "joinMode": "keepNonMatches"}}
    nodes = [n8n_node("Start", "manualTrigger"),
             n8n_node("One", "code", 2, {"jsCode": "return [{id: 1, v: 'a'}, {id: 2, v: 'b'}];"}),
             n8n_node("Two", "code", 2, {"jsCode": "return [{id: 1, v: 'c'}, {id: 2, v: 'd'}];"}),
             n8n_node("None", "code", 2, {"jsCode": "return [];"}),
             *(n8n_node(name, "merge", 2, params) for name, params in merges.items())]
    connections = {"Start": {"main": [[{"node": n, "type": "main", "index": 0} for n in ("One", "Two", "None")]]},
                   "One": {"main": [[{"node": n, "type": "main", "index": 0} for n in merges]]},
                   "Two": {"main": [[{"node": "Prefer1", "type": "main", "index": 1},
                                     {"node": "Empty", "type": "main", "index": 1}]]},
                   "None": {"main": [[{"node": "Non", "type": "main", "index": 1}]]}}
    result = run_json(capsys, tmp_path, n8n_workflow(*nodes, connections=connections))
    assert [i["v"] for i in outputs(result, "Prefer1")] == ["a", "b", "a", "b"]
    assert outputs(result, "Empty") == [{}]
    assert outputs(result, "Non") == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]


def test_set_v2_dot_notation_off_and_split_out_dotted_destinations(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    """Edit Fields with dotNotation off keeps `a.b` as one field name, v2 turns a number expression into a
    number; Split Out nests a dotted destination but never writes into __proto__."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Set", "set", 2, {"values": {"string": [{"name": "a.b", "value": "x"}],
                                              "number": [{"name": "n", "value": "={{ '42' }}"}]},
                                   "options": {"dotNotation": False}}),
        n8n_node("Wrap", "code", 2, {"jsCode": "return [{rows: [{k: 1}], ...$input.first().json}];"}),
        n8n_node("Nest", "splitOut", 1, {"fieldToSplitOut": "rows", "include": "allOtherFields",
                                         "options": {"destinationFieldName": "out.row"}}),
        n8n_node("Safe", "splitOut", 1, {"fieldToSplitOut": "rows", "options": {"destinationFieldName": "__proto__.x"}}))
    data["connections"]["Wrap"] = {"main": [[{"node": "Nest", "type": "main", "index": 0},
                                             {"node": "Safe", "type": "main", "index": 0}]]}
    del data["connections"]["Nest"]
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Set") == [{"a.b": "x", "n": 42}]
    assert outputs(result, "Nest") == [{"a.b": "x", "n": 42, "out": {"row": {"k": 1}}}]
    assert outputs(result, "Safe") == [{"rows": {"k": 1}}]


def test_set_v3_keeps_only_the_selected_input_fields(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Edit Fields `include: selected`: the named input fields (dotted paths nest, missing ones are left out)
    plus the fields it sets; v3.0-3.2 name it at the top, v3.3+ with includeOtherFields."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Pick", "set", 3.4, {"assignments": {"assignments": [
            {"id": "1", "name": "total", "value": "={{ $json.n * 2 }}", "type": "number"}]},
            "includeOtherFields": True, "include": "selected", "includeFields": "id, user.name, missing"}),
        n8n_node("Old", "set", 3.2, {"fields": {"values": [{"name": "x", "stringValue": "y"}]},
                                     "include": "selected", "includeFields": "id"}),
        pinData={"Start": [{"json": {"id": 7, "n": 2, "user": {"name": "Ann", "age": 40}, "other": True}}]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Pick") == [{"id": 7, "user": {"name": "Ann"}, "total": 4}]
    assert outputs(result, "Old") == [{"id": 7, "x": "y"}]


def test_split_in_batches_v1_loops_until_its_context_says_no_items_left(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path) -> None:
    """Split in Batches v1: each run outputs the next batch; an If on $node[...].context["noItemsLeft"] ends the
    loop, and the context counts the runs."""
    ctx = '$node["Batches"].context'
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Rows", "code", 2, {"jsCode": "return [{n: 1}, {n: 2}, {n: 3}, {n: 4}, {n: 5}];"}),
        n8n_node("Batches", "splitInBatches", 1, {"batchSize": 2, "options": {}}),
        n8n_node("Done?", "if", 1, {"conditions": {"boolean": [{"value1": f"={{{{ {ctx}[\"noItemsLeft\"] }}}}",
                                                              "value2": True}]}}),
        n8n_node("Report", "set", 3.4, {"assignments": {"assignments": [
            {"id": "1", "name": "runs", "type": "number", "value": f"={{{{ {ctx}[\"maxRunIndex\"] }}}}"},
            {"id": "2", "name": "last", "type": "number", "value": f"={{{{ {ctx}[\"currentRunIndex\"] }}}}"}]}}),
        connections={"Start": {"main": [[{"node": "Rows", "type": "main", "index": 0}]]},
                     "Rows": {"main": [[{"node": "Batches", "type": "main", "index": 0}]]},
                     "Batches": {"main": [[{"node": "Done?", "type": "main", "index": 0}]]},
                     "Done?": {"main": [[{"node": "Report", "type": "main", "index": 0}],
                                        [{"node": "Batches", "type": "main", "index": 0}]]}})
    result = run_json(capsys, tmp_path, data)
    assert [run["outputs"][0] for run in result["nodes"]["Batches"]] == [[{"n": 1}, {"n": 2}], [{"n": 3}, {"n": 4}],
                                                                          [{"n": 5}]]
    assert outputs(result, "Report") == [{"runs": 3, "last": 2}]


def test_aggregate_groups_by_fields_in_first_seen_order(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Aggregate's groupByFields: one item per group, its field first, then the group's aggregate; a missing group
    field is a group of its own (and not written), a true value is not confused with it."""
    rows = [{"team": "red", "n": 1}, {"team": "blue", "n": 2}, {"team": "red", "n": 3}, {"n": 4}, {"team": True, "n": 5}]
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Fields", "aggregate", 1, {"fieldsToAggregate": {"fieldToAggregate": [{"fieldToAggregate": "n"}]},
                                            "options": {"groupByFields": "team"}}),
        n8n_node("All", "aggregate", 1, {"aggregate": "aggregateAllItemData", "include": "allFieldsExcept",
                                         "fieldsToExclude": "team", "options": {"groupByFields": "team"}}),
        connections={"Start": {"main": [[{"node": "Fields", "type": "main", "index": 0},
                                         {"node": "All", "type": "main", "index": 0}]]}},
        pinData={"Start": [{"json": r} for r in rows]})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Fields") == [{"team": "red", "n": [1, 3]}, {"team": "blue", "n": [2]}, {"n": [4]},
                                         {"team": True, "n": [5]}]
    assert outputs(result, "All")[0] == {"team": "red", "data": [{"n": 1}, {"n": 3}]}


def test_date_time_v1_reads_text_as_moment_tz_does(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Date & Time v1 with a from-zone: ISO text is read in that zone, other text (08/01/2022) in the server's
    zone, as moment.tz reads it; the result goes to the to-zone, else the instance's (FLOWBOX_TIMEZONE, as n8n's
    GENERIC_TIMEZONE); fromFormat x reads epoch milliseconds."""
    monkeypatch.setenv("FLOWBOX_TIMEZONE", "America/New_York")
    monkeypatch.setenv("TZ", "UTC")
    options = {"fromTimezone": "US/Hawaii"}
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Text", "dateTime", 1, {"value": "08/01/2022", "toFormat": "YYYY-MM-DD HH:mm", "options": options}),
        n8n_node("Iso", "dateTime", 1, {"value": "2022-08-01T00:00:00", "toFormat": "YYYY-MM-DD HH:mm",
                                        "options": options}),
        n8n_node("Epoch", "dateTime", 1, {"value": "1663801200000", "toFormat": "YYYY-MM-DD HH:mm",
                                          "options": {"fromFormat": "x", "toTimezone": "UTC"}}),
        connections={"Start": {"main": [[{"node": n, "type": "main", "index": 0} for n in ("Text", "Iso", "Epoch")]]}})
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Text") == [{"data": "2022-07-31 20:00"}]  # 00:00 UTC in New York
    assert outputs(result, "Iso") == [{"data": "2022-08-01 06:00"}]  # 00:00 in Hawaii, in New York
    assert outputs(result, "Epoch") == [{"data": "2022-09-21 23:00"}]


def test_merges_empty_item_is_paired_with_both_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """chooseBranch output empty: the one empty item is paired with the first item of each input, so
    `$('Node').item` finds either branch's item after the Merge."""
    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Left", "code", 2, {"jsCode": "return [{side: 'left'}];"}),
        n8n_node("Right", "code", 2, {"jsCode": "return [{side: 'right'}];"}),
        n8n_node("Both", "merge", 2, {"mode": "chooseBranch", "output": "empty"}),
        n8n_node("Use", "set", 3.4, {"assignments": {"assignments": [
            {"id": "1", "name": "a", "value": "={{ $('Left').item.json.side }}", "type": "string"},
            {"id": "2", "name": "b", "value": "={{ $('Right').item.json.side }}", "type": "string"}]}}),
        connections={"Start": {"main": [[{"node": "Left", "type": "main", "index": 0},
                                         {"node": "Right", "type": "main", "index": 0}]]},
                     "Left": {"main": [[{"node": "Both", "type": "main", "index": 0}]]},
                     "Right": {"main": [[{"node": "Both", "type": "main", "index": 1}]]},
                     "Both": {"main": [[{"node": "Use", "type": "main", "index": 0}]]}})
    assert outputs(run_json(capsys, tmp_path, data), "Use") == [{"a": "left", "b": "right"}]
