"""Validation of shop domains, the one value a request names that selects a tenant."""

import re

from django.core.exceptions import ValidationError

# Shopify's own domains are lowercase; anything else (another host, a userinfo or fragment
# trick, a trailing dot, uppercase) is rejected rather than normalised, so two spellings can
# never map to one shop.
SHOP_DOMAIN_RE = re.compile(r"\A[a-z0-9][a-z0-9-]*\.myshopify\.com\Z")


class InvalidShopDomain(ValueError):
    pass


def normalize_shop_domain(value: object) -> str:
    """Return `value` if it is a valid myshopify.com domain, else raise InvalidShopDomain."""
    if not isinstance(value, str) or not SHOP_DOMAIN_RE.match(value):
        raise InvalidShopDomain(
            f"Invalid shop domain {value!r}: expected a name like 'example.myshopify.com' "
            f"(lowercase letters, digits and hyphens, then .myshopify.com)."
        )
    return value


def validate_shop_domain(value: str) -> None:
    """Django validator form of normalize_shop_domain."""
    try:
        normalize_shop_domain(value)
    except InvalidShopDomain as exc:
        raise ValidationError(str(exc), code="invalid_shop_domain") from None
