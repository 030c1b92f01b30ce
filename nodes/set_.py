"""Set: add or change fields on each item (dotted paths nest), optionally keep only those."""

from flowbox.node import Context, Item, ItemErrors, Param, node, remove_path, set_path


@node(type="set", display_name="Edit Fields (Set)", group="transform", icon="pen",
      description="Set fields on each item; values may be expressions like {{ $json.price * $json.qty }}",
      params=[
          Param("fields", "json", {}, description="Field path -> value; `a.b` sets a nested field"),
          Param("keepOnly", "boolean", False, description="Drop every field not set here"),
          Param("remove", "list", [], description="Field paths to remove"),
      ])
async def set_fields(ctx: Context, items: list[Item]) -> list[list[Item]]:
    keep_only = bool(ctx.param("keepOnly"))
    remove = ctx.raw_param("remove") or []
    if isinstance(remove, str):
        remove = [p.strip() for p in remove.split(",") if p.strip()]
    out: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            fields = ctx.param("fields", i) or {}
        except Exception as exc:
            errors.fail(item, i, exc, out)
            continue
        if not isinstance(fields, dict):
            raise ctx.error(f"parameter 'fields' must be an object of path -> value, got {type(fields).__name__}", i)
        data = {} if keep_only else dict(item.json)
        for path, value in fields.items():
            if "." in path and path not in data:
                data = set_path(data, path, value)
            else:
                data[path] = value
        for path in remove:
            data = remove_path(data, path)
        out.append(item.derive(data))
    return errors.outputs(out)
