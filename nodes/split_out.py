"""Split Out: turn a list field into one item per element."""

from flowbox.node import Context, Item, Param, get_path, node


@node(type="splitOut", display_name="Split Out", group="transform", icon="list-tree",
      description="One item per element of a list field",
      params=[
          Param("field", "string", "", required=True, description="Path of the list field to split"),
          Param("include", "options", "none", options=("none", "allOtherFields"),
                description="Copy the item's other fields onto each new item"),
          Param("destination", "string", "", description="Name for the element field (default: the field name)"),
      ])
async def split_out(ctx: Context, items: list[Item]) -> list[list[Item]]:
    out = []
    for i, item in enumerate(items):
        path = ctx.param("field", i)
        values = get_path(item.json, path)
        if values is None:
            continue
        if not isinstance(values, list):
            values = [values]
        dest = ctx.param("destination", i) or path.split(".")[-1]
        others = {k: v for k, v in item.json.items() if k != path} if ctx.param("include", i) == "allOtherFields" else {}
        for value in values:
            data = {**others, **value} if isinstance(value, dict) and not ctx.param("destination", i) else {
                **others, dest: value}
            out.append(item.derive(data))
    return [out]
