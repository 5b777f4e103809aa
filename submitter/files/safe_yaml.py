"""YAML for files people write (targets.yaml, job.yaml): the safe loader, with limits.

yaml.safe_load runs no code, but an alias bomb ("billion laughs": nine aliases of nine
aliases of ...) is a few hundred bytes that expand to billions of nodes once anything walks
the result (json.dumps, a deep copy, a dict() per level). Anchors and aliases stay allowed
(profiles share settings with them); what is refused is a document that would expand to more
than MAX_NODES nodes, or a file above MAX_BYTES, before anything walks it.
"""

from __future__ import annotations

from typing import Any

MAX_BYTES = 1 << 20  # 1 MiB: a targets.yaml or job.yaml is a few KiB
MAX_NODES = 100_000  # scalars, lists and mappings after expanding every alias


class YamlLimitError(ValueError):
    """The document is bigger than a configuration file can reasonably be."""


def load(text: str, where: str) -> Any:
    """The document in `text` as Python data; yaml.YAMLError when it is not valid YAML,
    YamlLimitError when it is too big (in bytes, or in nodes once aliases are expanded)."""
    import yaml

    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"{where}: {len(text)} characters; a configuration file this big "
                             f"is refused (at most {MAX_BYTES})")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {})
        if size > MAX_NODES:
            raise YamlLimitError(f"{where}: its aliases expand to more than {MAX_NODES} values "
                                 "(an alias bomb?); refused")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: Any, seen: dict[int, int]) -> int:
    """Nodes in the tree under `node` with every alias expanded (each distinct node counted
    once per use; memoised, so the walk itself stays as small as the document)."""
    import yaml

    key = id(node)
    if key in seen:
        return seen[key]
    seen[key] = MAX_NODES + 1  # a node inside itself (recursive alias) expands forever
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, seen)
            if total > MAX_NODES:
                break
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, seen) + _expanded_size(v, seen)
            if total > MAX_NODES:
                break
    seen[key] = total
    return total
