"""Aggregate: many items into one — collect a field into a list, or all items into `data`."""

from flowbox.node import Context, Item, Param, get_path, node


@node(type="aggregate", display_name="Aggregate", group="transform", icon="layers",
      description="Combine all items into one item",
      params=[
          Param("field", "string", "", description="Collect this field of every item into a list"),
          Param("all", "boolean", False, description="Put every item's data in a list under `data`"),
          Param("outputField", "string", "", description="Name of the output field (default: the field name, or 'data')"),
          Param("includeEmpty", "boolean", False, description="Keep missing/empty values when collecting a field"),
      ])
async def aggregate(ctx: Context, items: list[Item]) -> list[list[Item]]:
    field = ctx.param("field")
    everything = bool(ctx.param("all"))
    if not field and not everything:
        raise ctx.error("set 'field' to collect one field, or 'all' to collect whole items")
    out_name = ctx.param("outputField") or ("data" if everything else field)
    if everything:
        values = [item.json for item in items]
    else:
        raw = [get_path(item.json, field) for item in items]
        values = raw if ctx.param("includeEmpty") else [v for v in raw if v is not None and v != ""]
    return [[Item({out_name: values}, None, items[0] if items else None)]]
