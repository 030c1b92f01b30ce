"""Dotted paths (`flowbox.paths`): what Set, Sort, Split Out and the rest read and write."""

from flowbox.node import get_path, remove_path, set_path


def test_brackets_index_lists_and_make_them_as_n8ns_set_does() -> None:
    data = set_path(set_path({}, "data[0]", 0), "data[2]", 2)
    assert data == {"data": [0, None, 2]}
    assert get_path(data, "data[2]") == get_path(data, "data.2") == 2
    assert set_path({"r": [{"n": 1}]}, "r[0].m", 2) == {"r": [{"n": 1, "m": 2}]}
    assert set_path({}, "x[1].y", 3) == {"x": [None, {"y": 3}]}


def test_dots_nest_objects_without_changing_the_original() -> None:
    original = {"a": {"b": 1}, "list": [1]}
    changed = set_path(original, "a.c", 2)
    assert changed == {"a": {"b": 1, "c": 2}, "list": [1]} and original == {"a": {"b": 1}, "list": [1]}
    assert set_path({}, "a.0", "x") == {"a": {"0": "x"}}  # a dotted digit names a key, as before
    assert get_path({"a.b": 1}, "a.b") == 1  # a key holding a dot is found first
    assert get_path({"a": [1]}, "a[5]", "none") == "none"
    assert remove_path({"a": {"b": 1, "c": 2}}, "a.b") == {"a": {"c": 2}}
