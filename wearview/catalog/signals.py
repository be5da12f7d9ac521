"""Signals the catalog sends after its rows change, so the studio can react without the Shopify
integration importing it.

Both are sent after the surrounding transaction commits (`transaction.on_commit`), with keyword
arguments `shop_id: int`, `product_ids: list[int]` and `cause: str` (`"sync"`, `"webhook"`,
`"publish"`).
"""

from django.dispatch import Signal

products_synced = Signal()
products_deleted = Signal()
