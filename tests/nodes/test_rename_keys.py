"""renameKeys through the real engine: pairs with dotted paths, regex renames with depth, bad patterns."""

from __future__ import annotations

from typing import Any


def rename(**params: Any) -> dict[str, Any]:
    return {"name": "Rename", "type": "renameKeys", "parameters": params}


def out(result: Any) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["Rename"][-1].outputs[0]]


def test_pairs_rename_in_order_and_reach_nested_keys(run_node):
    keys = [{"currentKey": "name", "newKey": "fullName"}, {"currentKey": "address.zip", "newKey": "zip"},
            {"currentKey": "id", "newKey": "meta.id"}, {"currentKey": "missing", "newKey": "x"},
            {"currentKey": "same", "newKey": "same"}, {"currentKey": "", "newKey": "y"}]
    data = {"name": "Ada", "address": {"zip": "10115", "city": "Berlin"}, "id": 7, "same": 1}
    assert out(run_node(rename(keys=keys), [data])) == [
        {"fullName": "Ada", "address": {"city": "Berlin"}, "zip": "10115", "meta": {"id": 7}, "same": 1}]


def test_input_item_is_not_changed_and_binary_is_kept(run_node):
    item = {"json": {"a": {"b": 1}}, "binary": {"data": {"data": "aGk=", "mimeType": "text/plain"}}}
    result = run_node(rename(keys=[{"currentKey": "a.b", "newKey": "c"}]), [item])
    assert out(result) == [{"a": {}, "c": 1}]
    assert result.runs["Start"][-1].outputs[0][0].json == {"a": {"b": 1}}
    assert result.runs["Rename"][-1].outputs[0][0].binary["data"]["data"] == "aGk="


def test_regex_renames_every_matching_key_with_captures_and_depth(run_node):
    data = {"user_name": "ada", "user_id": 1, "nested": {"user_role": "admin", "deeper": {"user_x": 1}},
            "list": [{"user_y": 2}], "other": True}
    replacements = [{"searchRegex": "^user_(\\w+)$", "replaceRegex": "$1", "options": {}}]
    assert out(run_node(rename(additionalOptions={"regexReplacement": replacements}), [data])) == [
        {"name": "ada", "id": 1, "nested": {"role": "admin", "deeper": {"x": 1}}, "list": [{"y": 2}], "other": True}]
    top_only = [{"searchRegex": "user_", "replaceRegex": "u.", "options": {"depth": 0}}]
    assert out(run_node(rename(additionalOptions={"regexReplacement": top_only}), [data]))[0]["nested"] == {
        "user_role": "admin", "deeper": {"user_x": 1}}


def test_regex_replaces_the_first_match_only_and_is_case_sensitive_by_default(run_node):
    data = {"aXa": 1, "AxA": 2}
    plain = [{"searchRegex": "a", "replaceRegex": "b", "options": {}}]
    assert out(run_node(rename(additionalOptions={"regexReplacement": plain}), [data])) == [{"bXa": 1, "AxA": 2}]
    insensitive = [{"searchRegex": "x", "replaceRegex": "[$&]", "options": {"caseInsensitive": True}}]
    assert out(run_node(rename(additionalOptions={"regexReplacement": insensitive}), [data])) == [
        {"a[X]a": 1, "A[x]A": 2}]


def test_pairs_run_before_regex(run_node):
    result = run_node(rename(keys=[{"currentKey": "a", "newKey": "name_a"}],
                             additionalOptions={"regexReplacement": [{"searchRegex": "^name_", "replaceRegex": ""}]}),
                      [{"a": 1}])
    assert out(result) == [{"a": 1}]  # renamed to name_a, then back to a by the regex


def test_an_invalid_regex_names_node_parameter_and_item(run_node):
    result = run_node(rename(additionalOptions={"regexReplacement": [{"searchRegex": "([a-z", "replaceRegex": "x"}]}),
                      [{"a": 1}])
    assert result.status == "error" and result.error["node"] == "Rename"
    assert result.error["message"].startswith("item 0: parameter 'additionalOptions.regexReplacement'")
    assert "'([a-z'" in result.error["message"]


def test_a_backtracking_regex_is_stopped(run_node, monkeypatch):
    import flowbox.nodes.rename_keys as module

    monkeypatch.setattr(module, "REGEX_TIMEOUT", 0.05)
    key = "a" * 40 + "!"
    result = run_node(rename(additionalOptions={"regexReplacement": [{"searchRegex": "^(a|aa)+$", "replaceRegex": "x"}]}),
                      [{key: 1}])
    assert result.status == "error" and result.error["node"] == "Rename"
    # n8n's words, so an imported workflow that branches on the error output sees the same text
    assert result.error["message"] == ('Regex pattern "^(a|aa)+$" may cause performance issues. '
                                       'Please try a simpler pattern like "[a-z]+" or "\\w+". ')


def test_a_backtracking_regex_goes_to_the_error_output(run_node, monkeypatch):
    import flowbox.nodes.rename_keys as module

    monkeypatch.setattr(module, "REGEX_TIMEOUT", 0.05)
    slow = "a" * 40 + "!"
    node = {**rename(additionalOptions={"regexReplacement": [{"searchRegex": "^(a|aa)+$", "replaceRegex": "x"}]}),
            "onError": "errorOutput"}
    result = run_node(node, [{"ok": 1}, {slow: 2}])
    ok, failed = result.runs["Rename"][-1].outputs
    assert [i.json for i in ok] == [{"ok": 1}]
    assert failed[0].json[slow] == 2 and failed[0].json["error"].startswith('Regex pattern "^(a|aa)+$" may')


def test_continue_on_error_keeps_going(run_node):
    node = {**rename(additionalOptions={"regexReplacement": [{"searchRegex": "(", "replaceRegex": "x"}]}),
            "onError": "continue"}
    result = run_node(node, [{"a": 1}])
    [item] = out(result)
    assert "invalid regular expression" in item["error"]
