"""Data minimisation: keep only the fields an authorization names.

Fields are dotted paths into the JSON answer (`address.street`); naming an object keeps all of
it. Lists are traversed: `periods.start` keeps `start` in every element of `periods`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PathTree = dict[str, "PathTree"]
KEEP_ALL: PathTree = {}


def path_tree(paths: Iterable[str]) -> PathTree:
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        parts = path.split(".")
        for i, part in enumerate(parts):
            if node.get(part) is KEEP_ALL:
                break  # an ancestor is kept whole already
            if i == len(parts) - 1:
                node[part] = KEEP_ALL
            else:
                node = node.setdefault(part, {})
    return tree


def minimise(data: Any, tree: PathTree) -> Any:
    if tree is KEEP_ALL:
        return data
    if isinstance(data, list):
        return [minimise(item, tree) for item in data]
    if not isinstance(data, dict):
        # a scalar where the authorization expects an object: nothing nameable to keep
        return None
    return {key: minimise(data[key], sub) for key, sub in tree.items() if key in data}
