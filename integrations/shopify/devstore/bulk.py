"""Bulk query operations: run a query over a whole shop and write Shopify's JSONL result."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode, FieldNode, OperationDefinitionNode, execute, get_named_type

from .models import BulkOperation, Shop, iso, next_id, utc_now
from .resolvers import Context, resolve_type
from .schema import is_connection_type, load_schema

if TYPE_CHECKING:
    from .store import DevStore

logger = logging.getLogger(__name__)

MAX_CONNECTIONS = 5
MAX_CONNECTION_DEPTH = 2


def _is_connection_value(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and ("edges" in value or "nodes" in value)
        and set(value)
        <= {
            "edges",
            "nodes",
            "pageInfo",
        }
    )


def _connection_nodes(value: dict) -> list[dict]:
    if "edges" in value:
        return [edge["node"] for edge in value["edges"] if edge.get("node") is not None]
    return [node for node in value["nodes"] if node is not None]


def flatten_to_jsonl(
    connection_value: dict, shuffle: Callable[[list], list] | None = None
) -> tuple[list[bytes], int, int]:
    """Write each node on its own line; nodes of nested connections carry `__parentId`.

    Children follow their parent directly, unless `shuffle` is given: then every root line
    comes first and the child lines follow in the order `shuffle` returns.
    Returns the lines, the number of objects and the number of top-level objects.
    """
    lines: list[bytes] = []
    child_lines: list[bytes] = []
    roots = 0

    def emit(node: dict, parent_id: str | None) -> None:
        row = {}
        children: list[dict] = []
        for key, value in node.items():
            if _is_connection_value(value):
                children.extend(_connection_nodes(value))
            else:
                row[key] = value
        if parent_id is not None:
            row["__parentId"] = parent_id
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
        if parent_id is not None and shuffle is not None:
            child_lines.append(line)
        else:
            lines.append(line)
        for child in children:
            emit(child, node.get("id"))

    for node in _connection_nodes(connection_value):
        roots += 1
        emit(node, None)
    if shuffle is not None:
        lines += shuffle(child_lines)
    return lines, len(lines), roots


class BulkRunner:
    """Starts bulk query operations in background threads and keeps their results."""

    def __init__(self, store: DevStore, delay: float = 0.05) -> None:
        self.store = store
        self.delay = delay

    def check_query(self, document: DocumentNode) -> str | None:
        """Return Shopify's reason to reject a bulk query, or None if it can run."""
        schema = load_schema()
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].operation.value != "query":
            return "Bulk queries must contain exactly one query operation."
        roots = [s for s in operations[0].selection_set.selections if isinstance(s, FieldNode)]
        if len(roots) != 1:
            return "Bulk queries must contain exactly one top-level field."
        root_field = schema.query_type.fields[roots[0].name.value]
        if not is_connection_type(get_named_type(root_field.type).name):
            return "Bulk queries must contain at least one connection."
        count = 0

        def walk(node: FieldNode, parent_type, depth: int) -> str | None:
            nonlocal count
            named = get_named_type(parent_type.fields[node.name.value].type)
            if is_connection_type(named.name):
                count += 1
                depth += 1
                if depth > MAX_CONNECTION_DEPTH + 1:
                    return (
                        "Bulk queries cannot nest connections more than "
                        f"{MAX_CONNECTION_DEPTH} levels."
                    )
                if depth > 1 and not _selects_id(parent_selection[-1]):
                    return (
                        "The parent 'node' field for a nested connection must select the "
                        "'id' field. "
                        f"Connection field: '{node.name.value}'."
                    )
            if node.selection_set is None or not hasattr(named, "fields"):
                return None
            parent_selection.append(node)
            try:
                for child in node.selection_set.selections:
                    if isinstance(child, FieldNode) and child.name.value in named.fields:
                        problem = walk(child, named, depth)
                        if problem:
                            return problem
            finally:
                parent_selection.pop()
            return None

        parent_selection: list[FieldNode] = []
        problem = walk(roots[0], schema.query_type, 0)
        if problem:
            return problem
        if count > MAX_CONNECTIONS:
            return f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
        return None

    def start(self, shop: Shop, query: str, document: DocumentNode) -> BulkOperation:
        operation = BulkOperation(id=next_id("BulkOperation"), shop_domain=shop.domain, query=query)
        shop.bulk_operations[operation.id] = operation
        thread = threading.Thread(
            target=self._run, args=(shop, operation, document), name="devstore-bulk", daemon=True
        )
        thread.start()
        return operation

    def _run(self, shop: Shop, operation: BulkOperation, document: DocumentNode) -> None:
        time.sleep(self.delay)
        with self.store.lock:
            operation.status = "RUNNING"
        time.sleep(self.delay)
        with self.store.lock:
            context = Context(store=self.store, shop=shop, base_url=self.store.base_url, bulk=True)
            result = execute(
                self.store.schema, document, context_value=context, type_resolver=resolve_type
            )
            if result.errors or not result.data:
                operation.status = "FAILED"
                operation.error_code = "INTERNAL_SERVER_ERROR"
                logger.error("Bulk operation %s failed: %s", operation.gid, result.errors)
            else:
                root_value = next(iter(result.data.values()))
                faults = self.store.faults
                shuffle = faults.shuffle if faults.faults.bulk_children_last else None
                lines, objects, roots = flatten_to_jsonl(root_value, shuffle)
                operation.object_count = objects
                operation.root_object_count = roots
                if lines:
                    operation.result = b"\n".join(lines) + b"\n"
                    operation.file_size = len(operation.result)
                    operation.url = f"{self.store.base_url}/bulk-operations/{operation.id}.jsonl"
                operation.status = "COMPLETED"
            operation.completed_at = utc_now()
            payload = {
                "admin_graphql_api_id": operation.gid,
                "completed_at": iso(operation.completed_at),
                "created_at": iso(operation.created_at),
                "error_code": operation.error_code.lower() if operation.error_code else None,
                "status": operation.status.lower(),
                "type": operation.type.lower(),
            }
        self.store.emit_webhook(shop, "bulk_operations/finish", payload)


def _selects_id(node: FieldNode) -> bool:
    if node.selection_set is None:
        return False
    for child in node.selection_set.selections:
        if isinstance(child, FieldNode):
            if child.name.value == "id":
                return True
            if child.name.value in ("edges", "node", "nodes") and _selects_id(child):
                return True
    return False
