"""Relay connections, cursors and the product search syntax of the dev store."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError

from .schema import MAX_PAGE_SIZE


def encode_cursor(item_id: int, sort_value: Any) -> str:
    raw = json.dumps({"last_id": item_id, "last_value": sort_value}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded.encode()))["last_id"])
    except (ValueError, KeyError, TypeError):
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from None


def connection(
    items: Sequence[Any],
    args: dict[str, Any],
    *,
    bulk: bool,
    field_name: str,
    sort_value: Callable[[Any], Any] = lambda item: item.id,
) -> dict[str, Any]:
    """Slice `items` by the Relay arguments and return the connection as a dict.

    Outside bulk operations Shopify requires `first` or `last`, at most 250; bulk queries
    take every item.
    """
    # Bulk operations ignore page sizes and return every item.
    first = None if bulk else args.get("first")
    last = None if bulk else args.get("last")
    after = args.get("after")
    before = args.get("before")
    if not bulk:
        if first is None and last is None:
            raise GraphQLError("you must provide one of first or last")
        if first is not None and last is not None:
            raise GraphQLError("providing both first and last is not supported")
        if last is not None and before is None:
            raise GraphQLError("using last without before is not supported")
        for name, value in (("first", first), ("last", last)):
            # NOTE: the limit of 250 is Shopify's; the wording of this message is not.
            if value is not None and (value < 0 or value > MAX_PAGE_SIZE):
                raise GraphQLError(
                    f"The {name} argument on {field_name} must be between 0 and {MAX_PAGE_SIZE}; "
                    f"got {value}."
                )
    if args.get("reverse"):
        items = list(reversed(items))
    start, end = 0, len(items)
    if after is not None or before is not None:
        positions = {item.id: index for index, item in enumerate(items)}
        if after is not None:
            after_id = decode_cursor(after)
            if after_id not in positions:
                raise GraphQLError(f"Invalid cursor for current pagination sort: {after!r}")
            start = positions[after_id] + 1
        if before is not None:
            before_id = decode_cursor(before)
            if before_id not in positions:
                raise GraphQLError(f"Invalid cursor for current pagination sort: {before!r}")
            end = positions[before_id]
    window = list(items[start:end])
    has_next = False
    has_previous = start > 0
    if first is not None and len(window) > first:
        window = window[:first]
        has_next = True
    elif first is None and end < len(items):
        has_next = True
    if last is not None and len(window) > last:
        window = window[len(window) - last :]
        has_previous = True

    def cursor_of(item: Any) -> str:
        return encode_cursor(item.id, _json_safe(sort_value(item)))

    return ConnectionSlice(
        cursor_of,
        nodes=window,
        pageInfo={
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursor_of(window[0]) if window else None,
            "endCursor": cursor_of(window[-1]) if window else None,
        },
    )


class ConnectionSlice(dict):
    """A connection as a dict whose `edges` are built only when a query selects them.

    Most documents select `nodes` or only a few edges, and encoding a cursor for every node
    of a 250-item page costs more than resolving its fields.
    """

    def __init__(self, cursor_of: Callable[[Any], str], **values: Any) -> None:
        super().__init__(**values)
        self._cursor_of = cursor_of

    def __missing__(self, key: str) -> Any:
        if key != "edges":
            raise KeyError(key)
        edges = [{"cursor": self._cursor_of(item), "node": item} for item in self["nodes"]]
        self["edges"] = edges
        return edges


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# --- search syntax ----------------------------------------------------------------------------

_TERM = re.compile(
    r"""(?P<neg>-)?(?:(?P<field>[a-z_]+):(?P<op><=|>=|<|>|=)?)?"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s()]+)""",
)
SEARCH_FIELDS = {
    "updated_at",
    "created_at",
    "published_at",
    "id",
    "handle",
    "title",
    "status",
    "vendor",
    "product_type",
    "tag",
    "sku",
}


def parse_time(text: str) -> datetime:
    value = text.strip()
    if value.lower() == "now":
        return datetime.now(UTC)
    if len(value) == 10:
        value += "T00:00:00Z"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(f"Invalid date in search query: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ProductSearch:
    """A parsed `query` argument of `products`: terms joined by AND, with Shopify's warnings."""

    def __init__(self, query: str | None) -> None:
        self.query = query or ""
        self.terms: list[tuple[bool, str | None, str, str]] = []
        self.warnings: list[dict[str, str]] = []
        for match in _TERM.finditer(self.query):
            value = match["value"].strip("'\"")
            field = match["field"]
            if field is None and value.upper() in ("AND", "OR", "NOT"):
                if value.upper() != "AND":
                    self.warnings.append(
                        {"field": value, "message": f"{value} is not supported by the dev store."}
                    )
                continue
            if field is not None and field not in SEARCH_FIELDS:
                self.warnings.append(
                    {"field": field, "message": "Invalid search field for this query."}
                )
                continue
            self.terms.append((bool(match["neg"]), field, match["op"] or "=", value))

    def matches(self, product, variants_sku: Callable[[Any], list[str]]) -> bool:
        for negated, field, op, value in self.terms:
            if self._match(product, field, op, value, variants_sku) == negated:
                return False
        return True

    def _match(self, product, field, op, value, variants_sku) -> bool:
        if field in ("updated_at", "created_at", "published_at"):
            actual = getattr(product, field)
            if actual is None:
                return False
            return _compare(actual, op, parse_time(value))
        if field == "id":
            return _compare(product.id, op, int(value)) if value.isdigit() else False
        lowered = value.lower()
        if field is None or field == "title":
            return lowered.rstrip("*") in product.title.lower()
        if field == "handle":
            return product.handle == value
        if field == "status":
            return product.status.lower() in lowered.split(",")
        if field == "vendor":
            return product.vendor.lower() == lowered
        if field == "product_type":
            return product.product_type.lower() == lowered
        if field == "tag":
            return lowered in (tag.lower() for tag in product.tags)
        if field == "sku":
            return value in variants_sku(product)
        return True

    def as_extension(self, path: list[str]) -> dict:
        return {"path": path, "query": self.query, "warnings": self.warnings}


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == ">":
        return actual > expected
    if op == ">=":
        return actual >= expected
    if op == "<":
        return actual < expected
    if op == "<=":
        return actual <= expected
    return actual == expected
