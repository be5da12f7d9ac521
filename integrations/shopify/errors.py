"""Errors of the Shopify integration, each naming the shop and, where there is one, the
GraphQL operation."""

from wearview.errors import PermanentError, TransientError


class ShopifyTransientError(TransientError):
    """Throttling, 429, 5xx or a timeout that outlasted the client's own retries."""

    code = "shopify_transient"


class ShopifyRequestError(PermanentError):
    """A request Shopify rejected for a reason a retry cannot fix (a 4xx or a GraphQL error)."""

    code = "shopify_request"


class ShopifyUserErrors(PermanentError):
    """A mutation whose response lists `userErrors`."""

    code = "shopify_user_errors"

    def __init__(self, message: str, *, user_errors: list[dict]) -> None:
        super().__init__(message)
        self.user_errors = user_errors


class ShopNotConnected(PermanentError):
    """The shop has no usable access token: uninstalled, revoked or never installed.

    Tasks treat this as a final state for the shop's work and stop without retrying. The shop
    becomes usable again when the app is installed again.
    """

    code = "shop_not_connected"


class WebhookVerificationError(Exception):
    """A webhook request without a valid signature or with invalid Shopify headers."""


class OAuthCallbackError(PermanentError):
    """An authorization-code callback that fails a check (hmac, state, timestamp or shop)."""

    code = "oauth_callback"


class SessionTokenError(Exception):
    """A session token that is invalid, expired, or names a shop that is not installed."""
