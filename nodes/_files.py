"""The files folder guard shared by the nodes that touch files (readWriteFile, sqlite): a path stays inside
`ctx.files_dir` (FLOWBOX_FILES_DIR, default `<data dir>/files`), whether by `..`, an absolute path elsewhere or a
symlink pointing out."""

from __future__ import annotations

from pathlib import Path


class OutsideFolder(ValueError):
    """A path that would leave the allowed folder."""


def inside(root: Path, path: str, what: str) -> Path:
    """`path` (relative to `root`, or absolute inside it) resolved; OutsideFolder when it leaves `root`."""
    if not path.strip():
        raise ValueError(f"parameter '{what}' is empty")
    if "\0" in path:
        raise OutsideFolder(f"{what} {path!r} contains a NUL character")
    base = root.resolve()
    given = Path(path).expanduser()
    if ".." in given.parts:
        raise OutsideFolder(f"{what} {path!r} contains '..': paths must stay inside the files folder {base}")
    candidate = given if given.is_absolute() else base / given
    resolved = candidate.resolve()
    if not resolved.is_relative_to(base):
        why = "is a symlink pointing" if candidate.is_relative_to(base) else "is"
        raise OutsideFolder(f"{what} {path!r} {why} outside the files folder {base} (set FLOWBOX_FILES_DIR "
                            f"to allow another folder)")
    return resolved
