"""Rewrites the estimator names of one Python source on its concrete syntax tree (libcst).

Two passes. `_analyze` follows every import of `tensorflow` / `tensorflow_estimator` through libcst's
scope analysis (so a parameter named `tf` is not mistaken for the module), resolves each use to a
fully qualified old name and asks `mapping.classify` what it becomes. It then decides, per import:
  * rebind: the import now binds the same local name to our namespace and its uses stay as written
    (`from tensorflow.compat.v1.estimator import tpu` -> `from estimator_lib import tpu`);
  * rewrite uses: each use is replaced by our full name (`tf.estimator.Estimator` ->
    `estimator_lib.Estimator`) and an old-only import is dropped once nothing needs it;
  * keep and report: a use this library cannot serve.
`_Rewriter` then applies the plan; everything it does not touch keeps its exact text and comments.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

with warnings.catch_warnings():
    # libcst imports its type-inference provider, which warns that mypy_extensions.TypedDict is deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst as cst
    import libcst.metadata as md
    from libcst.helpers import get_full_name_for_node

from estimator_lib.migrate import mapping, tf1
from estimator_lib.migrate.report import Change, FileResult, Unmapped, one_line

_ImportStatement = cst.Import | cst.ImportFrom
_PACKAGE = mapping.PACKAGE


class UpgradeError(ValueError):
    """A source the tool cannot upgrade (it does not parse)."""


@dataclasses.dataclass
class _Binding:
    statement: _ImportStatement
    alias: cst.ImportAlias
    local: str  # the name code uses: 'tf', or 'tensorflow.compat.v1' for `import tensorflow.compat.v1`
    qualified: str  # the module path the alias imports
    # (assigned name, module path it stands for, referencing node): `import a.b.c` assigns a, a.b, a.b.c.
    references: list[tuple[str, str, cst.CSTNode]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Use:
    node: cst.CSTNode  # the part of the dotted chain the resolution covers (what gets replaced)
    chain: cst.CSTNode  # the whole dotted chain, for the report
    qualified: str  # fully qualified old name of the whole chain
    resolution: mapping.Resolution
    new_node_name: str | None  # our dotted name for `node` when mapped
    new_chain_name: str | None  # our dotted name for the whole chain when mapped


@dataclasses.dataclass(frozen=True)
class _Rebind:
    target: str  # our dotted name the local name must now refer to
    local: str


_DROP = "drop"


def upgrade_source(source: str, path: str = "<string>", *, layers_route: str = "estimator_lib") -> FileResult:
    """Upgrades one file's text; returns the new text and the report. Raises UpgradeError if it does not parse.

    layers_route: "estimator_lib" rewrites tf.layers / tf.compat.v1.layers to estimator_lib.layers;
    "tf-keras" leaves them for tf-keras with TF_USE_LEGACY_KERAS=1.
    """
    if not isinstance(source, str):
        raise TypeError(f"upgrade_source expects the file's text as str, received {type(source).__name__}.")
    if layers_route not in mapping.LAYERS_ROUTES:
        raise ValueError(f"layers_route must be one of {mapping.LAYERS_ROUTES}; received {layers_route!r}.")
    if "tensorflow" not in source:
        # Nothing can import an estimator name without saying `tensorflow`: skip the (slow) parse.
        return FileResult(path=path, original=source, upgraded=source, changes=(), unmapped=())
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise UpgradeError(f"{path}: cannot parse as Python ({one_line(str(error))}); fix the syntax first.") from None
    wrapper = md.MetadataWrapper(module)
    plan = _analyze(wrapper, layers_route)
    upgraded = wrapper.module.visit(_Rewriter(plan))
    return FileResult(
        path=path,
        original=source,
        upgraded=upgraded.code,
        # dict.fromkeys: a name imported twice (try/except ImportError) reports each use once.
        changes=tuple(sorted(dict.fromkeys(plan.changes), key=lambda c: c.line)),
        unmapped=tuple(sorted(dict.fromkeys(plan.unmapped), key=lambda u: u.line)),
    )


@dataclasses.dataclass
class _Plan:
    replacements: dict[int, str] = dataclasses.field(default_factory=dict)  # id(node) -> our dotted name
    aliases: dict[int, object] = dataclasses.field(default_factory=dict)  # id(alias) -> _Rebind | _DROP
    statements: set[int] = dataclasses.field(default_factory=set)  # ids of import statements to rebuild
    add_import: bool = False
    anchor_line: int | None = None  # id of the module-level line after which `import estimator_lib` goes
    anchor_line_number: int = 1
    changes: list[Change] = dataclasses.field(default_factory=list)
    unmapped: list[Unmapped] = dataclasses.field(default_factory=list)
    lines: dict[int, int] = dataclasses.field(default_factory=dict)  # id(statement) -> its line, for reports
    codes: dict[int, str] = dataclasses.field(default_factory=dict)  # id(statement) -> its original code


def _analyze(wrapper: md.MetadataWrapper, layers_route: str) -> _Plan:
    plan = _Plan()
    module = wrapper.module
    positions = wrapper.resolve(md.PositionProvider)
    parents = wrapper.resolve(md.ParentNodeProvider)
    scopes = wrapper.resolve(md.ScopeProvider)

    def line_of(node: cst.CSTNode) -> int:
        return positions[node].start.line

    def code_of(node: cst.CSTNode) -> str:
        if isinstance(node, cst.BaseSmallStatement):
            node = node.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return one_line(module.code_for_node(node))

    bindings = _collect_bindings(scopes)
    _report_star_imports(module, plan, line_of, code_of)

    for binding in bindings:
        own = mapping.classify(binding.qualified, layers_route)
        replaceable = _statement_is_editable(binding.statement, parents)
        must_go = mapping.must_replace_import(binding.qualified, layers_route)
        # Through an import that cannot stay, even a name the table does not know must be reported.
        uses = [
            use for ref in binding.references
            if (use := _resolve_use(binding, ref, parents, report_all=must_go, layers_route=layers_route))
        ]
        tf1_uses = tf1.tf1_names(binding.references, parents) if binding.qualified == "tensorflow" else []
        rebound = bool(tf1_uses) and replaceable and tf1.can_rebind(binding.statement, binding.alias, binding.qualified)
        if tf1_uses and not rebound:
            for node, name in tf1_uses:
                plan.unmapped.append(Unmapped(line_of(node), code_of(node), (
                    f"a TF1 name that TensorFlow 2 dropped from the root module: import tensorflow.compat.v1 as tf "
                    f"(the tool does this for `import tensorflow as <alias>` on its own line) or write "
                    f"tensorflow.compat.v1{name[len('tensorflow'):]}")))

        if must_go and own is not None and not own.mapped and "." not in binding.local:
            plan.unmapped.append(Unmapped(line_of(binding.alias), f"import of {binding.qualified}", own.advice or ""))
            continue  # its uses would only repeat this line of the report

        rebind_target = _rebind_target(binding, own, uses) if (must_go and replaceable) else None
        if rebind_target is not None:
            plan.aliases[id(binding.alias)] = _Rebind(rebind_target, binding.local)
            _mark_statement(plan, binding.statement, line_of, code_of)
            continue

        unmapped_uses = [use for use in uses if not use.resolution.mapped]
        for use in uses:
            if use.resolution.mapped:
                new_name = use.new_node_name or ""
                if new_name.startswith(mapping.TF_V1):
                    spelled = tf1.v1_spelling(new_name, binding.qualified, binding.local, rebound)
                    if spelled is None:
                        advice = f"use {use.new_chain_name}"
                        plan.unmapped.append(Unmapped(line_of(use.chain), code_of(use.chain), advice))
                        continue
                    new_name = spelled
                else:
                    plan.add_import = True
                if code_of(use.node) == new_name:
                    continue  # already reads `estimator_lib.X` (a clash, if any, is reported below)
                plan.replacements[id(use.node)] = new_name
                plan.changes.append(Change(line_of(use.node), code_of(use.node), new_name))
            else:
                plan.unmapped.append(Unmapped(line_of(use.chain), code_of(use.chain), use.resolution.advice or ""))
        if rebound:
            plan.aliases[id(binding.alias)] = tf1.ModuleRebind(mapping.TF_V1, binding.local)
            _mark_statement(plan, binding.statement, line_of, code_of)
        if must_go:
            if unmapped_uses or not replaceable:
                advice = (
                    "this import fails on TensorFlow 2.16+; remove it once the uses reported here are ported"
                    if replaceable
                    else "rewrite this import by hand (the tool edits only imports on their own line)"
                )
                plan.unmapped.append(Unmapped(line_of(binding.statement), code_of(binding.statement), advice))
            else:
                plan.aliases[id(binding.alias)] = _DROP
                _mark_statement(plan, binding.statement, line_of, code_of)

    _rewrite_dimension_values(plan, module, bindings, parents, line_of, code_of)
    if plan.add_import:
        _check_name_clash(plan, bindings, line_of)
        _choose_anchor(plan, module, bindings, parents, line_of)
    return plan


def _rewrite_dimension_values(plan: _Plan, module: cst.Module, bindings: list[_Binding], parents, line_of,
                              code_of) -> None:
    """`x.shape[i].value` -> `tf.dimension_value(x.shape[i])` (TF 2.x shapes hold ints, not Dimensions)."""
    reads = tf1.dimension_value_reads(module)
    if not reads:
        return
    spelling = None
    for binding in bindings:
        if parents.get(parents.get(binding.statement)) is not module or "." in binding.local:
            continue
        rebound = isinstance(plan.aliases.get(id(binding.alias)), tf1.ModuleRebind)
        spelling = tf1.v1_spelling(f"{mapping.TF_V1}.dimension_value", binding.qualified, binding.local, rebound)
        if spelling is not None:
            break
    for attribute, subscript in reads:
        if spelling is None:
            plan.unmapped.append(Unmapped(line_of(attribute), code_of(attribute), (
                "TF 2.x shapes hold ints, not Dimensions: drop `.value`, or use "
                "tf.compat.v1.dimension_value(...) (import tensorflow at module level to let the tool do it)")))
            continue
        new = f"{spelling}({module.code_for_node(subscript)})"
        plan.replacements[id(attribute)] = new
        plan.changes.append(Change(line_of(attribute), code_of(attribute), one_line(new)))


def _check_name_clash(plan: _Plan, bindings: list[_Binding], line_of) -> None:
    """Rewritten uses need the name `estimator_lib`; an old import keeping that name would shadow it."""
    for binding in bindings:
        action = plan.aliases.get(id(binding.alias))
        if binding.local == _PACKAGE and not (isinstance(action, _Rebind) and action.target == _PACKAGE):
            plan.unmapped.append(Unmapped(
                line_of(binding.alias),
                f"import of {binding.qualified} as {_PACKAGE}",
                f"this import binds the name {_PACKAGE}, which the upgraded code uses for the library; rename it",
            ))


def _collect_bindings(scopes) -> list[_Binding]:
    """Every import of a tensorflow/tensorflow_estimator path, one binding per import alias."""
    by_alias: dict[int, _Binding] = {}
    seen_scopes = {id(scope): scope for scope in scopes.values() if scope is not None}
    for scope in seen_scopes.values():
        for assignment in scope.assignments:
            if not isinstance(assignment, md.ImportAssignment):
                continue
            statement = assignment.node
            alias = _alias_for(statement, assignment.as_name)
            if alias is None:
                continue
            qualified = _qualified_for(statement, alias, assignment.name)
            if qualified is None or not mapping.is_tensorflow_name(qualified):
                continue
            binding = by_alias.get(id(alias))
            if binding is None:
                binding = _Binding(statement, alias, _local_name(alias), _alias_qualified(statement, alias))
                by_alias[id(alias)] = binding
            # `import a.b.c` records a, a.b and a.b.c; a reference through any of them is a use.
            for access in assignment.references:
                binding.references.append((assignment.name, qualified, access.node))
    return list(by_alias.values())


def _alias_for(statement: cst.CSTNode, as_name: cst.CSTNode) -> cst.ImportAlias | None:
    if not isinstance(statement, (cst.Import, cst.ImportFrom)) or isinstance(statement.names, cst.ImportStar):
        return None
    for alias in statement.names:
        if alias.asname is not None and alias.asname.name is as_name:
            return alias
        if alias.name is as_name:
            return alias
    return None


def _alias_qualified(statement: _ImportStatement, alias: cst.ImportAlias) -> str:
    name = get_full_name_for_node(alias.name) or ""
    if isinstance(statement, cst.ImportFrom):
        return f"{get_full_name_for_node(statement.module)}.{name}"
    return name


def _qualified_for(statement: _ImportStatement, alias: cst.ImportAlias, assigned: str) -> str | None:
    """The module path an assignment binds: the alias path, or a prefix of it for `import a.b.c`."""
    if isinstance(statement, cst.ImportFrom):
        if statement.relative or statement.module is None:
            return None
        return _alias_qualified(statement, alias)
    if alias.asname is not None:
        return get_full_name_for_node(alias.name)
    return assigned


def _local_name(alias: cst.ImportAlias) -> str:
    if alias.asname is not None:
        return get_full_name_for_node(alias.asname.name) or ""
    return get_full_name_for_node(alias.name) or ""


def _resolve_use(
    binding: _Binding, reference: tuple[str, str, cst.CSTNode], parents, *, report_all: bool, layers_route: str
) -> _Use | None:
    """Walks from a reference up its dotted chain and classifies the whole chain.

    With report_all, a chain the table does not know becomes an unmapped use instead of None.
    """
    local, qualified, node = reference
    chain = tf1.dotted_chain(node, parents)
    names = [get_full_name_for_node(n) for n in chain]
    if any(name is None or not name.startswith(local) for name in names):
        return None
    full = [qualified + name[len(local):] for name in names]
    resolution = mapping.classify(full[-1], layers_route)
    if resolution is None and report_all:
        resolution = mapping.Resolution("unmapped", len(full[-1].split(".")), advice=mapping.OLD_PACKAGE_ADVICE)
    if resolution is None:
        return None
    parts = full[-1].split(".")
    base = len(full[0].split("."))
    covered = max(resolution.consumed, base)
    index = min(covered - base, len(chain) - 1)
    target_node = chain[index]
    if not resolution.mapped:
        return _Use(target_node, chain[-1], full[-1], resolution, None, None)
    tail_for_node = parts[resolution.consumed : base + index]
    tail_for_chain = parts[resolution.consumed :]
    new_node = ".".join([resolution.new or "", *tail_for_node])
    new_chain = ".".join([resolution.new or "", *tail_for_chain])
    return _Use(target_node, chain[-1], full[-1], resolution, new_node, new_chain)


def _rebind_target(binding: _Binding, own: mapping.Resolution | None, uses: list[_Use]) -> str | None:
    """Our name the import can bind instead, if every use then keeps its meaning unchanged."""
    if own is None or not own.mapped or "." in binding.local:
        return None
    if own.consumed != len(binding.qualified.split(".")):
        return None
    target = own.new or ""
    for use in uses:
        if not use.resolution.mapped:
            return None
        tail = use.qualified[len(binding.qualified) :]
        if use.new_chain_name != target + tail:
            return None
    return target


def _statement_is_editable(statement: cst.CSTNode, parents) -> bool:
    """Imports on their own line (possibly with `;` neighbours) are rebuilt; one-line suites are not."""
    return isinstance(parents.get(statement), cst.SimpleStatementLine)


def _mark_statement(plan: _Plan, statement: _ImportStatement, line_of, code_of) -> None:
    if id(statement) not in plan.statements:
        plan.statements.add(id(statement))
        plan.lines[id(statement)] = line_of(statement)
        plan.codes[id(statement)] = code_of(statement)


def _report_star_imports(module: cst.Module, plan: _Plan, line_of, code_of) -> None:
    class Finder(cst.CSTVisitor):
        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            if isinstance(node.names, cst.ImportStar) and node.module is not None and not node.relative:
                name = get_full_name_for_node(node.module) or ""
                if mapping.must_replace_import(name):
                    plan.unmapped.append(Unmapped(line_of(node), code_of(node), mapping.star_import_advice()))

    module.visit(Finder())


def _choose_anchor(plan: _Plan, module: cst.Module, bindings: list[_Binding], parents, line_of) -> None:
    """`import estimator_lib` goes after the first module-level TensorFlow import (or after the header)."""
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import) and any(get_full_name_for_node(a.name) == _PACKAGE and a.asname is None
                                                     for a in small.names):
                plan.add_import = False  # already imported at module level
                return
    for binding in bindings:
        action = plan.aliases.get(id(binding.alias))
        line = parents.get(binding.statement)
        if isinstance(action, _Rebind) and action.target == action.local == _PACKAGE and parents.get(line) is module:
            plan.add_import = False  # the rebuilt import is exactly `import estimator_lib`
            return
    tf_lines = [parents.get(b.statement) for b in bindings]
    for statement in module.body:
        if any(statement is line for line in tf_lines):
            plan.anchor_line = id(statement)
            plan.anchor_line_number = line_of(statement)
            return
    plan.anchor_line = None


class _Rewriter(cst.CSTTransformer):
    """Applies a _Plan: replaces names, rebuilds planned imports, inserts `import estimator_lib`."""

    def __init__(self, plan: _Plan) -> None:
        super().__init__()
        self._plan = plan
        # Keyed by id() of nodes this transformer returned; the value keeps the node alive so that its
        # id cannot be reused by a later node (which would then be expanded by mistake).
        self._expansions: dict[int, tuple[cst.CSTNode, list[cst.SimpleStatementLine], list[cst.EmptyLine]]] = {}
        self._anchor: cst.CSTNode | None = None

    # -- names ------------------------------------------------------------------------------------
    def _replace(self, original: cst.BaseExpression, updated: cst.BaseExpression) -> cst.BaseExpression:
        new_name = self._plan.replacements.get(id(original))
        if new_name is None:
            return updated
        expression = cst.parse_expression(new_name)
        return expression.with_changes(lpar=original.lpar, rpar=original.rpar)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self._replace(original_node, updated_node)

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.BaseExpression:
        return self._replace(original_node, updated_node)

    # -- import lines -----------------------------------------------------------------------------
    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        result = updated_node
        if any(id(small) in self._plan.statements for small in original_node.body):
            lines, carry = self._rebuild_line(original_node)
            self._expansions[id(result)] = (result, lines, carry)
        if self._plan.anchor_line is not None and id(original_node) == self._plan.anchor_line:
            self._anchor = result
        return result

    def _rebuild_line(
        self, line: cst.SimpleStatementLine
    ) -> tuple[list[cst.SimpleStatementLine], list[cst.EmptyLine]]:
        kept: list[cst.BaseSmallStatement] = []
        extra: list[cst.BaseSmallStatement] = []
        for small in line.body:
            if id(small) not in self._plan.statements:
                kept.append(small)
                continue
            replacement, more = self._rebuild_statement(small)
            old_code = self._plan.codes[id(small)]
            new_codes = [_statement_code(s) for s in ([replacement] if replacement else [])]
            new_codes += [_statement_code(s) for s in more]
            self._plan.changes.append(
                Change(self._plan.lines[id(small)], old_code, "; ".join(new_codes) if new_codes else "(removed)")
            )
            if replacement is not None:
                kept.append(replacement)
            extra.extend(more)
        if not kept and extra:
            kept.append(extra.pop(0))
        if not kept:
            carry = list(line.leading_lines)
            comment = line.trailing_whitespace.comment
            if comment is not None:
                carry.append(cst.EmptyLine(comment=comment))
            return [], carry
        kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        first = line.with_changes(body=kept)
        return [first, *[cst.SimpleStatementLine(body=[statement]) for statement in extra]], []

    def _rebuild_statement(
        self, statement: _ImportStatement
    ) -> tuple[_ImportStatement | None, list[_ImportStatement]]:
        """The statement as it stays on its line (or None) and the new import statements that follow it."""
        keep: list[cst.ImportAlias] = []
        groups: dict[str | None, list[tuple[cst.ImportAlias, str, str]]] = {}
        for alias in statement.names:
            action = self._plan.aliases.get(id(alias))
            if action is None:
                keep.append(alias)
            elif isinstance(action, tf1.ModuleRebind):
                keep.append(alias.with_changes(name=cst.parse_expression(action.module)))
            elif isinstance(action, _Rebind):
                parent, _, name = action.target.rpartition(".")
                groups.setdefault(parent or None, []).append((alias, name, action.local))
        more: list[_ImportStatement] = []
        if isinstance(statement, cst.Import):
            for alias, _name, local in groups.pop(None, []):
                keep.append(_package_alias(alias, local))
            in_place = statement.with_changes(names=_fix_commas(keep, parenthesized=False)) if keep else None
            more.extend(_from_import(parent, members) for parent, members in groups.items())
            return in_place, more

        ordered = list(groups.items())
        in_place_group = next(((p, m) for p, m in ordered if p is not None), None)
        if in_place_group is not None:
            # Our names take the original statement (its parentheses and comments); the rest follows it.
            parent, members = in_place_group
            renamed = [_renamed_alias(alias, name, local) for alias, name, local in members]
            in_place = _with_names(statement.with_changes(module=cst.parse_expression(parent)), renamed)
            ordered.remove(in_place_group)
            if keep:
                plain = _fix_commas([_plain(a) for a in keep], False)
                more.append(cst.ImportFrom(module=statement.module, names=plain))
        elif keep:
            in_place = _with_names(statement, keep)
        elif ordered:
            in_place = None
        else:
            return None, []
        for parent, members in ordered:
            if parent is None:
                more.append(cst.Import(names=_fix_commas([_package_alias(a, local) for a, _, local in members], False)))
            else:
                more.append(_from_import(parent, members))
        if in_place is None:
            in_place = more.pop(0)
        return in_place, more

    # -- bodies -----------------------------------------------------------------------------------
    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        body, carry = self._expand(updated_node.body, insert_after=None)
        if not body:
            body = [cst.SimpleStatementLine(body=[cst.Pass()], leading_lines=carry)]
            carry = []
        return updated_node.with_changes(body=body, footer=[*carry, *updated_node.footer])

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        insert_after = self._anchor if self._plan.add_import else None
        body, carry = self._expand(updated_node.body, insert_after=insert_after)
        if self._plan.add_import and self._anchor is None:
            body = _insert_after_header(body)
            self._plan.changes.append(Change(1, "(added)", f"import {_PACKAGE}"))
        return updated_node.with_changes(body=body, footer=[*carry, *updated_node.footer])

    def _expand(self, statements: Sequence[cst.BaseStatement], insert_after: cst.CSTNode | None):
        body: list[cst.BaseStatement] = []
        carry: list[cst.EmptyLine] = []
        for statement in statements:
            node, lines, dropped_comments = self._expansions.get(id(statement), (statement, [statement], []))
            if node is not statement:
                lines, dropped_comments = [statement], []
            is_anchor = insert_after is not None and statement is insert_after
            if is_anchor:
                self._plan.changes.append(Change(self._plan.anchor_line_number, "(added)", f"import {_PACKAGE}"))
                if not lines:
                    lines = [cst.SimpleStatementLine(body=[_package_import()], leading_lines=dropped_comments)]
                    dropped_comments = []
                else:
                    lines = [*lines, cst.SimpleStatementLine(body=[_package_import()])]
            if not lines:
                carry.extend(dropped_comments)
                continue
            first = lines[0]
            if carry:
                first = first.with_changes(leading_lines=[*carry, *first.leading_lines])
                carry = []
            body.append(first)
            body.extend(lines[1:])
        return body, carry


def _statement_code(statement: cst.BaseSmallStatement) -> str:
    statement = statement.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
    return one_line(cst.Module(body=[]).code_for_node(statement))


def _package_import() -> cst.Import:
    return cst.Import(names=[cst.ImportAlias(name=cst.Name(_PACKAGE))])


def _package_alias(alias: cst.ImportAlias, local: str) -> cst.ImportAlias:
    asname = None if local == _PACKAGE else cst.AsName(name=cst.Name(local))
    return cst.ImportAlias(name=cst.Name(_PACKAGE), asname=asname, comma=alias.comma)


def _renamed_alias(alias: cst.ImportAlias, name: str, local: str) -> cst.ImportAlias:
    if get_full_name_for_node(alias.name) == name and (alias.asname is not None or local == name):
        return alias  # unchanged: keeps its comments and spacing
    asname = None if local == name else cst.AsName(name=cst.Name(local))
    return alias.with_changes(name=cst.Name(name), asname=asname)


def _with_names(statement: cst.ImportFrom, aliases: list[cst.ImportAlias]) -> cst.ImportFrom:
    """The from-import with fewer names; inside parentheses the closing line keeps its place."""
    if statement.lpar is None:
        return statement.with_changes(names=_fix_commas(aliases, parenthesized=False))
    original_last = statement.names[-1]
    aliases = _fix_commas(aliases, parenthesized=True)
    if aliases[-1] is original_last:
        return statement.with_changes(names=aliases)
    last = aliases[-1]
    closing = original_last.comma
    if isinstance(closing, cst.Comma):
        # The old last name's comma ended with the indentation of `)`: move that ending onto the new last.
        if (
            isinstance(last.comma, cst.Comma)
            and isinstance(last.comma.whitespace_after, cst.ParenthesizedWhitespace)
            and isinstance(closing.whitespace_after, cst.ParenthesizedWhitespace)
        ):
            ending = last.comma.whitespace_after.with_changes(last_line=closing.whitespace_after.last_line)
            last = last.with_changes(comma=last.comma.with_changes(whitespace_after=ending))
        else:
            last = last.with_changes(comma=closing)
        return statement.with_changes(names=[*aliases[:-1], last])
    # No trailing comma before `)`: the new last name drops its comma (and what followed it).
    last = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return statement.with_changes(names=[*aliases[:-1], last])


def _plain(alias: cst.ImportAlias) -> cst.ImportAlias:
    """The alias without its comma and surrounding whitespace, for a new single-line statement."""
    return cst.ImportAlias(name=alias.name, asname=alias.asname)


def _from_import(parent: str, members: list[tuple[cst.ImportAlias, str, str]]) -> cst.ImportFrom:
    names = [
        cst.ImportAlias(name=cst.Name(name), asname=None if local == name else cst.AsName(name=cst.Name(local)))
        for _, name, local in members
    ]
    return cst.ImportFrom(module=cst.parse_expression(parent), names=_fix_commas(names, parenthesized=False))


def _fix_commas(aliases: list[cst.ImportAlias], parenthesized: bool) -> list[cst.ImportAlias]:
    """Every alias but the last needs a comma; the last keeps one only inside parentheses."""
    fixed = []
    for index, alias in enumerate(aliases):
        last = index == len(aliases) - 1
        if not last and alias.comma is cst.MaybeSentinel.DEFAULT:
            alias = alias.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        elif last and not parenthesized:
            alias = alias.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        fixed.append(alias)
    return fixed


def _insert_after_header(body: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """Puts `import estimator_lib` after the docstring, `from __future__` imports and the leading imports."""
    index = 0
    if body and _is_docstring(body[0]):
        index = 1
    while index < len(body) and _is_import_line(body[index]):
        index += 1
    rest = list(body[index:])
    if rest and not _is_import_line(rest[0]) and not rest[0].leading_lines:
        rest[0] = rest[0].with_changes(leading_lines=[cst.EmptyLine()])  # keep code apart from the imports
    return [*body[:index], cst.SimpleStatementLine(body=[_package_import()]), *rest]


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_import_line(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )
