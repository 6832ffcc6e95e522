"""The TF1 half of an upgrade: which uses of `import tensorflow as tf` are TF1-only names, and the
`Dimension.value` reads that TF 2.x shapes (plain ints) no longer allow.

A file that uses a TF1-only name through the root `tensorflow` module (`tf.flags`, `tf.gfile`,
`tf.logging`, `tf.app.run`, `tf.get_variable`, `tf.contrib...`, ...) is a TF1 program: the tool then
imports `tensorflow.compat.v1` under the same alias, so every `tf.X` keeps its TF1 meaning, including
names that exist in both APIs with other arguments (`tf.nn.dropout(x, keep_prob)`). That is exact where
a name-by-name rewrite (tf_upgrade_v2's way) needs a rule per function.
"""

from __future__ import annotations

import dataclasses

import libcst as cst
from libcst.helpers import get_full_name_for_node

from estimator_lib.migrate import mapping


@dataclasses.dataclass(frozen=True)
class ModuleRebind:
    """`import tensorflow as tf` becomes `import tensorflow.compat.v1 as tf`."""

    module: str
    local: str


def dotted_chain(node: cst.CSTNode, parents) -> list[cst.CSTNode]:
    """The node and the attribute accesses built on it: `tf`, `tf.flags`, `tf.flags.FLAGS`."""
    chain = [node]
    while True:
        parent = parents.get(chain[-1])
        if isinstance(parent, cst.Attribute) and parent.value is chain[-1]:
            chain.append(parent)
        else:
            return chain


def tf1_names(references, parents) -> list[tuple[cst.CSTNode, str]]:
    """(node, qualified name) of every reference chain that reaches a TF1-only name."""
    found = []
    for local, qualified, node in references:
        chain = dotted_chain(node, parents)
        name = get_full_name_for_node(chain[-1])
        if name is None or not name.startswith(local):
            continue
        full = qualified + name[len(local):]
        if mapping.is_tf1_only(full):
            found.append((chain[-1], full))
    return found


def can_rebind(statement: cst.CSTNode, alias: cst.ImportAlias, qualified: str) -> bool:
    """Only `import tensorflow as <name>` is rebound; other imports keep their text."""
    return isinstance(statement, cst.Import) and qualified == "tensorflow" and alias.asname is not None


def v1_spelling(new_name: str, binding_qualified: str, local: str, rebound: bool) -> str | None:
    """`tensorflow.compat.v1.X` written through the file's alias, or None when the alias cannot say it."""
    rest = new_name[len(mapping.TF_V1):]
    if binding_qualified == mapping.TF_V1 or (binding_qualified == "tensorflow" and rebound):
        return local + rest
    if binding_qualified == "tensorflow":
        return f"{local}.compat.v1{rest}"
    return None


def dimension_value_reads(module: cst.Module) -> list[tuple[cst.Attribute, cst.Subscript]]:
    """`x.shape[i].value` and `x.get_shape()[i].value`: TF1 Dimension reads that fail on TF 2.x ints."""

    class Finder(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[tuple[cst.Attribute, cst.Subscript]] = []

        def visit_Attribute(self, node: cst.Attribute) -> None:
            if node.attr.value != "value" or not isinstance(node.value, cst.Subscript):
                return
            base = node.value.value
            is_shape = isinstance(base, cst.Attribute) and base.attr.value == "shape"
            is_get_shape = (isinstance(base, cst.Call) and isinstance(base.func, cst.Attribute)
                            and base.func.attr.value == "get_shape" and not base.args)
            if is_shape or is_get_shape:
                self.found.append((node, node.value))

    finder = Finder()
    module.visit(finder)
    return finder.found
