"""``fg.tree_util`` (also ``fg.tree``): pytrees, as ``jax.tree_util``."""

from funcgrad.core.pytree import PyTreeDef as PyTreeDef
from funcgrad.core.pytree import register_dataclass as register_dataclass
from funcgrad.core.pytree import register_pytree_node as register_pytree_node
from funcgrad.core.pytree import register_pytree_node_class as register_pytree_node_class
from funcgrad.core.pytree import register_static as register_static
from funcgrad.core.pytree import tree_flatten as tree_flatten
from funcgrad.core.pytree import tree_key_paths as tree_key_paths
from funcgrad.core.pytree import tree_leaves as tree_leaves
from funcgrad.core.pytree import tree_map as tree_map
from funcgrad.core.pytree import tree_structure as tree_structure
from funcgrad.core.pytree import tree_unflatten as tree_unflatten

# jax.tree.* short names
flatten = tree_flatten
unflatten = tree_unflatten
leaves = tree_leaves
structure = tree_structure
map = tree_map

__all__ = [
    "PyTreeDef", "flatten", "leaves", "map", "register_dataclass", "register_pytree_node",
    "register_pytree_node_class", "register_static", "structure", "tree_flatten",
    "tree_key_paths", "tree_leaves", "tree_map", "tree_structure", "tree_unflatten", "unflatten",
]
