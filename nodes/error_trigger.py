"""Error Trigger: starts this workflow when a workflow naming it as `settings.errorWorkflow` fails."""

from flowbox.node import Context, Item, node


@node(type="errorTrigger", display_name="Error Trigger", group="trigger", trigger=True, icon="alert-triangle",
      description="Runs when another workflow fails; emits {execution: {id, error, lastNodeExecuted}, workflow}")
async def error_trigger(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return [items or [Item({"execution": {"id": None, "error": {"message": "example error"}, "mode": "manual"},
                            "workflow": {"id": None, "name": ""}})]]
