"""The Admin API schema, query cost and Shopify-shaped GraphQL errors for the dev store."""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_client_schema,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
    visit,
)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "admin_2026-10.json.gz"

MUTATION_COST = 10
MAX_QUERY_COST = 1000
MAX_PAGE_SIZE = 250


@functools.cache
def load_schema() -> GraphQLSchema:
    """Build the Admin schema once per process; the dev store attaches its resolvers to it."""
    with gzip.open(SCHEMA_PATH, "rt", encoding="utf-8") as handle:
        introspection = json.load(handle)["data"]
    return build_client_schema(introspection)


def deprecated_fields(schema: GraphQLSchema, document: DocumentNode) -> tuple[str, ...]:
    """List the deprecated fields a document selects, as `Type.field`."""
    type_info = TypeInfo(schema)
    found: list[str] = []

    class Collector(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            field_def = type_info.get_field_def()
            parent = type_info.get_parent_type()
            if field_def is not None and field_def.deprecation_reason and parent is not None:
                found.append(f"{parent.name}.{node.name.value}")

    visit(document, TypeInfoVisitor(type_info, Collector()))
    return tuple(dict.fromkeys(found))


def is_connection_type(type_name: str) -> bool:
    return type_name.endswith("Connection")


class CostCalculator:
    """Compute Shopify's requested and actual query cost for one operation.

    Objects cost 1, scalars and enums 0, a connection 2 plus its page size times the cost of
    one node, a mutation field 10. Interfaces and fragments on different types cost the most
    expensive branch. `pageInfo` and the `edges` wrapper are free, as in Shopify's calculator.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = variables

    # --- requested cost ---------------------------------------------------------------------

    def requested(self) -> int:
        root = self._root_type()
        if self.operation.operation.value == "mutation":
            return MUTATION_COST * len(self._fields(self.operation.selection_set, root))
        return self._selection_cost(self.operation.selection_set, root)

    def _root_type(self):
        if self.operation.operation.value == "mutation":
            return self.schema.mutation_type
        return self.schema.query_type

    def _fields(self, selection_set: SelectionSetNode | None, parent_type) -> list[FieldNode]:
        fields: list[FieldNode] = []
        if selection_set is None:
            return fields
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                fields.extend(self._fields(selection.selection_set, parent_type))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    fields.extend(self._fields(fragment.selection_set, parent_type))
        return fields

    def _selection_cost(self, selection_set: SelectionSetNode | None, parent_type) -> int:
        if selection_set is None:
            return 0
        shared = 0
        per_type: dict[str, int] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                shared += self._field_cost(selection, parent_type)
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = selection.selection_set
                condition = selection.type_condition
            else:
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                inner = fragment.selection_set
                condition = fragment.type_condition
            type_name = condition.name.value if condition else parent_type.name
            fragment_type = self.schema.get_type(type_name) or parent_type
            cost = self._selection_cost(inner, fragment_type)
            if type_name == parent_type.name:
                shared += cost
            else:
                per_type[type_name] = per_type.get(type_name, 0) + cost
        return shared + max(per_type.values(), default=0)

    def _field_cost(self, node: FieldNode, parent_type) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        field_def = getattr(parent_type, "fields", {}).get(name)
        if field_def is None:
            return 0
        named = get_named_type(field_def.type)
        if is_leaf_type(named):
            return 0
        if named.name == "PageInfo":
            return 0
        if is_connection_type(named.name):
            size = self.page_size(node)
            return 2 + size * self._node_cost(node, named)
        return 1 + self._selection_cost(node.selection_set, named)

    def _node_cost(self, connection_node: FieldNode, connection_type) -> int:
        """Cost of one node of a connection: the largest of `edges.node` and `nodes`."""
        best = 0
        for child in self._fields(connection_node.selection_set, connection_type):
            child_name = child.name.value
            if child_name == "nodes":
                node_type = get_named_type(connection_type.fields["nodes"].type)
                best = max(best, 1 + self._selection_cost(child.selection_set, node_type))
            elif child_name == "edges":
                edge_type = get_named_type(connection_type.fields["edges"].type)
                for edge_child in self._fields(child.selection_set, edge_type):
                    if edge_child.name.value == "node":
                        node_type = get_named_type(edge_type.fields["node"].type)
                        cost = 1 + self._selection_cost(edge_child.selection_set, node_type)
                        best = max(best, cost)
        return best

    def page_size(self, node: FieldNode) -> int:
        for argument in node.arguments:
            if argument.name.value in ("first", "last"):
                value = value_from_ast_untyped(argument.value, self.variables)
                if isinstance(value, int):
                    return max(0, value)
        return 0

    # --- actual cost ------------------------------------------------------------------------

    def actual(self, data: dict | None) -> int:
        """Cost of what the request returned: connections count the nodes they hold."""
        if data is None:
            return 0
        if self.operation.operation.value == "mutation":
            return MUTATION_COST * len(
                self._fields(self.operation.selection_set, self._root_type())
            )
        plan = self._plan(self.operation.selection_set, self._root_type())
        return _walk_plan(plan, data)

    def _plan(self, selection_set: SelectionSetNode | None, parent_type) -> list[tuple]:
        """Compile a selection into (response key, kind, child plan) rows for `_walk_plan`.

        Kinds: "object" costs 1 plus its children, "connection" costs 2 plus its nodes, and
        "list" costs each item. Leaves, `pageInfo` and introspection fields are left out.
        """
        rows: list[tuple] = []
        for child in self._fields(selection_set, parent_type):
            name = child.name.value
            if name.startswith("__"):
                continue
            field_type = self._field_type_in(parent_type, name)
            if field_type is None or is_leaf_type(field_type) or field_type.name == "PageInfo":
                continue
            key = child.alias.value if child.alias else name
            if is_connection_type(field_type.name):
                rows.append((key, "connection", self._connection_plan(child, field_type)))
            else:
                rows.append((key, "object", self._plan(child.selection_set, field_type)))
        return rows

    def _connection_plan(self, node: FieldNode, connection_type) -> list[tuple]:
        """Rows for the ways a connection exposes nodes: `nodes` and `edges { node }`."""
        rows: list[tuple] = []
        for child in self._fields(node.selection_set, connection_type):
            key = child.alias.value if child.alias else child.name.value
            if child.name.value == "nodes":
                node_type = get_named_type(connection_type.fields["nodes"].type)
                rows.append((key, None, self._plan(child.selection_set, node_type)))
            elif child.name.value == "edges":
                edge_type = get_named_type(connection_type.fields["edges"].type)
                node_type = get_named_type(edge_type.fields["node"].type)
                for edge_child in self._fields(child.selection_set, edge_type):
                    if edge_child.name.value == "node":
                        node_key = edge_child.alias.value if edge_child.alias else "node"
                        rows.append(
                            (key, node_key, self._plan(edge_child.selection_set, node_type))
                        )
        return rows

    def _field_type_in(self, parent_type, field_name: str):
        """Return the named type of `field_name`, looking into implementations for interfaces."""
        fields = getattr(parent_type, "fields", None)
        if fields is not None and field_name in fields:
            return get_named_type(fields[field_name].type)
        # A field picked by a fragment on a concrete type of an interface or union.
        for candidate in self.schema.get_possible_types(parent_type):
            if field_name in candidate.fields:
                return get_named_type(candidate.fields[field_name].type)
        return None


def _walk_plan(plan: list[tuple], value: dict) -> int:
    total = 0
    for key, kind, child_plan in plan:
        item = value.get(key)
        if item is None:
            continue
        if kind == "connection":
            total += 2 + _connection_cost(child_plan, item)
        elif isinstance(item, list):
            total += sum(1 + _walk_plan(child_plan, entry) for entry in item if entry is not None)
        else:
            total += 1 + _walk_plan(child_plan, item)
    return total


def _connection_cost(plan: list[tuple], value: dict) -> int:
    # `nodes` and `edges` list the same items, so the dearest of the two counts once.
    best = 0
    for key, node_key, node_plan in plan:
        items = value.get(key) or []
        cost = 0
        for item in items:
            node = item if node_key is None else item.get(node_key)
            if node is not None:
                cost += 1 + _walk_plan(node_plan, node)
        best = max(best, cost)
    return best


# --- errors in Shopify's shape --------------------------------------------------------------

# NOTE: these rules cover the validation errors an app meets most. Other rules keep
# graphql-core's message, with the code `invalidDocument`, where graphql-ruby has its own.

_RULES: list[tuple[re.Pattern[str], Any]] = [
    (
        re.compile(r"^Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'\."),
        lambda m, types: (
            f"Field '{m['field']}' doesn't exist on type '{m['type']}'",
            {"code": "undefinedField", "typeName": m["type"], "fieldName": m["field"]},
        ),
    ),
    (
        re.compile(
            r"^Field '(?P<field>\w+)' argument '(?P<arg>\w+)' of type '(?P<type>[^']+)' "
            r"is required, but it was not provided\."
        ),
        lambda m, types: (
            f"Field '{m['field']}' is missing required arguments: {m['arg']}",
            {
                "code": "missingRequiredArguments",
                "className": "Field",
                "name": m["field"],
                "arguments": m["arg"],
            },
        ),
    ),
    (
        re.compile(r"^Unknown argument '(?P<arg>\w+)' on field '(?P<type>\w+)\.(?P<field>\w+)'\."),
        lambda m, types: (
            f"Field '{m['field']}' doesn't accept argument '{m['arg']}'",
            {
                "code": "argumentNotAccepted",
                "name": m["field"],
                "typeName": "Field",
                "argumentName": m["arg"],
            },
        ),
    ),
    (
        re.compile(
            r"^Field '(?P<field>\w+)' of type '(?P<type>[^']+)' must have a selection of subfields"
        ),
        lambda m, types: (
            f"Field must have selections (field '{m['field']}' returns "
            f"{m['type'].strip('[]!')} but has no selections. "
            f"Did you mean '{m['field']} {{ ... }}'?)",
            {"code": "selectionMismatch", "nodeName": f"field '{m['field']}'"},
        ),
    ),
    (
        re.compile(
            r"^Variable '\$(?P<var>\w+)' of required type '(?P<type>[^']+)' was not provided"
        ),
        lambda m, types: (
            f"Variable ${m['var']} of type {m['type']} was provided invalid value",
            {
                "code": "INVALID_VARIABLE",
                "value": None,
                "problems": [{"path": [], "explanation": "Expected value to not be null"}],
            },
        ),
    ),
    (
        re.compile(r"^Variable '\$(?P<var>\w+)' got invalid value (?P<value>.*?); (?P<why>.*)$"),
        lambda m, types: (
            f"Variable ${m['var']} of type {types.get(m['var'], 'unknown')} "
            "was provided invalid value",
            {
                "code": "INVALID_VARIABLE",
                "problems": [{"path": [], "explanation": m["why"]}],
            },
        ),
    ),
    (
        re.compile(r"^Syntax Error: (?P<why>.*)$"),
        lambda m, types: (f"syntax error, {m['why'].rstrip('.')}", {"code": "parseError"}),
    ),
]


def shopify_error(
    error: GraphQLError, variable_types: dict[str, str] | None = None, *, validation: bool = True
) -> dict:
    """Turn a graphql-core error into the message and extensions Shopify's Ruby server uses.

    Validation errors always get an extensions code; execution errors keep the code their
    resolver gave, if any.
    """
    message = error.message
    extensions: dict[str, Any] = dict(error.extensions or {})
    for pattern, build in _RULES:
        match = pattern.match(message)
        if match:
            message, rule_extensions = build(match, variable_types or {})
            extensions = {**rule_extensions, **extensions}
            break
    else:
        if validation:
            extensions.setdefault("code", "invalidDocument")
    result: dict[str, Any] = {"message": message}
    if error.locations:
        result["locations"] = [
            {"line": location.line, "column": location.column} for location in error.locations
        ]
    if error.path:
        result["path"] = list(error.path)
    if extensions:
        result["extensions"] = extensions
    return result
