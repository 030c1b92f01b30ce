"""The node registry: every node type by its `type` string.

`load()` imports the built-in nodes (every module of `flowbox.nodes`), then the
entry points of group `flowbox.nodes`, then `*.py` files in `<data-dir>/nodes/`.
It is the one global in flowbox; everything else is passed down.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from flowbox.errors import DuplicateNodeType, WorkflowInvalid

if TYPE_CHECKING:
    from flowbox.node import N8n, NodeSpec

_specs: dict[str, NodeSpec] = {}
_n8n: dict[str, tuple[NodeSpec, N8n]] = {}  # n8n node type -> the node converting it and how (NodeSpec.n8n)
_loaded: set[str] = set()


def register(spec: NodeSpec) -> None:
    """Add a node type; a second module declaring the same type is refused."""
    old = _specs.get(spec.type)
    if old is not None and old.module != spec.module:
        raise DuplicateNodeType(f"node type {spec.type!r} is declared by {old.module} and {spec.module}")
    for way in spec.n8n:
        for n8n_type in way.types:
            taken = _n8n.get(n8n_type)
            if taken is not None and taken[0].type != spec.type:
                raise DuplicateNodeType(f"n8n node type {n8n_type!r} is converted by both {taken[0].type!r} and "
                                        f"{spec.type!r}")
            _n8n[n8n_type] = (spec, way)
    _specs[spec.type] = spec


def load(extra_dir: Path | None = None) -> dict[str, NodeSpec]:
    """Import built-in, entry-point and `extra_dir` nodes once; returns the catalog."""
    if "builtin" not in _loaded:
        import flowbox.nodes as package

        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{info.name}")
        _loaded.add("builtin")
        from importlib.metadata import entry_points

        for ep in entry_points(group="flowbox.nodes"):
            ep.load()
    if extra_dir is not None and str(extra_dir) not in _loaded:
        _loaded.add(str(extra_dir))
        if extra_dir.is_dir():
            for path in sorted(extra_dir.glob("*.py")):
                name = f"flowbox_user_nodes.{path.stem}"
                spec = importlib.util.spec_from_file_location(name, path)
                if spec and spec.loader:
                    module = importlib.util.module_from_spec(spec)
                    sys.modules[name] = module
                    spec.loader.exec_module(module)
    return dict(_specs)


def get(type_: str, node: str | None = None) -> NodeSpec:
    """The spec of a node type; an unknown type is a `WorkflowInvalid` naming the node."""
    if "builtin" not in _loaded:
        load()
    try:
        return _specs[type_]
    except KeyError:
        where = f"node '{node}': " if node else ""
        raise WorkflowInvalid(f"{where}unknown node type {type_!r}", node=node, field="type") from None


def get_or_none(type_: str) -> NodeSpec | None:
    """The spec of a node type, or None when it is unknown (for drawing half-built workflows)."""
    if "builtin" not in _loaded:
        load()
    return _specs.get(type_)


def for_n8n(n8n_type: str) -> tuple[NodeSpec, N8n] | None:
    """The node an n8n node of this type converts to and its converter (`NodeSpec.n8n`), or None."""
    if "builtin" not in _loaded:
        load()
    return _n8n.get(n8n_type)


def catalog() -> list[NodeSpec]:
    """All node types sorted by group then type."""
    if "builtin" not in _loaded:
        load()
    return sorted(_specs.values(), key=lambda s: (s.group, s.type))
