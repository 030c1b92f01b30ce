"""Manual trigger: starts a run by hand; passes the run's input items on."""

from flowbox.node import Context, Item, node


@node(type="manualTrigger", display_name="Manual Trigger", group="trigger", trigger=True, icon="play",
      description="Start the workflow by hand (Run button, `flowbox run`); emits the run's input or one empty item")
async def manual_trigger(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return [items or [Item({})]]
