"""Save a fitted classifier as a `.skops` file whose bytes depend only on the classifier.

skops writes a zip whose member names and `__id__` fields come from `id()` of the objects saved (memory
addresses) or from random UUIDs, and whose members carry the time of writing. The same config, data and seed
would then give a different file, and a different hash in dvc.lock, on every run. Here the archive skops
writes is re-packed: ids and member names are renumbered in the order they first appear in the schema,
timestamps are fixed, and members are written in that order. The identity structure (which nodes share an
id) is kept, so skops loads the file exactly as before.
"""

import io
import json
import os
import zipfile
from pathlib import Path

from pipeline.files import atomic_path
from pipeline.models.skops_import import import_skops

SCHEMA = "schema.json"
# The earliest date a zip can hold; any fixed value would do.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def reproducible_skops_bytes(obj) -> bytes:
    return repack(import_skops().dumps(obj))


def save_skops(obj, path: str | os.PathLike) -> None:
    """Write `obj` to `path` atomically, byte-for-byte the same for equal objects."""
    data = reproducible_skops_bytes(obj)
    with atomic_path(path) as temporary:
        Path(temporary).write_bytes(data)


def repack(archive: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        schema = json.loads(source.read(SCHEMA))
        members = {info.filename: info for info in source.infolist() if info.filename != SCHEMA}
        renamed_files: dict[str, str] = {}
        schema = renumber(schema, {}, renamed_files, set(members))
        if missing := set(members) - set(renamed_files):
            raise ValueError(f"skops archive members not referenced by its schema: {sorted(missing)}")

        output = io.BytesIO()
        with zipfile.ZipFile(output, "w") as target:
            write_member(target, SCHEMA, json.dumps(schema, indent=2).encode(), members_like=None)
            for old_name, new_name in renamed_files.items():
                write_member(target, new_name, source.read(old_name), members_like=members[old_name])
    return output.getvalue()


def write_member(target: zipfile.ZipFile, name: str, data: bytes, members_like: zipfile.ZipInfo | None) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = members_like.compress_type if members_like else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    target.writestr(info, data)


def renumber(node, ids: dict[int, int], files: dict[str, str], members: set[str]):
    """A copy of the schema with `__id__` values numbered 0, 1, ... and member files named `<n>.<suffix>`."""
    if isinstance(node, list):
        return [renumber(item, ids, files, members) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if key == "__id__" and isinstance(value, int):
            result[key] = ids.setdefault(value, len(ids))
        elif key == "file" and isinstance(value, str) and value in members:
            suffix = Path(value).suffix
            result[key] = files.setdefault(value, f"{len(files)}{suffix}")
        else:
            result[key] = renumber(value, ids, files, members)
    return result
