"""HTTP front of the dev store: Admin API, OAuth, upload targets, CDN, bulk results, control."""

from __future__ import annotations

import email.parser
import email.policy
import hmac
import json
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .auth import OAuthError
from .faults import Faults
from .models import API_VERSION
from .mutations import upload_signature
from .store import UNAUTHORIZED_BODY

if TYPE_CHECKING:
    from .store import DevStore

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
GRAPHQL_PATH = f"/admin/api/{API_VERSION}/graphql.json"


class DevStoreServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, store: DevStore, address: tuple[str, int]) -> None:
        self.store = store
        super().__init__(address, DevStoreHandler)


def make_server(store: DevStore, host: str, port: int) -> DevStoreServer:
    return DevStoreServer(store, (host, port))


class DevStoreHandler(BaseHTTPRequestHandler):
    server: DevStoreServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - name fixed by the base
        logger.debug("%s " + format, self.address_string(), *args)

    # --- plumbing ---------------------------------------------------------------------------------

    @property
    def store(self) -> DevStore:
        return self.server.store

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _not_found(self) -> None:
        self._json(404, {"errors": "Not Found"})

    def _split(self) -> tuple[str | None, str, dict[str, str]]:
        """Return the shop named by a `/shops/<domain>` prefix or the Host header, and the rest."""
        parts = urlsplit(self.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path.startswith("/shops/"):
            rest = path[len("/shops/") :]
            domain, _, tail = rest.partition("/")
            return domain, "/" + tail, query
        host = (self.headers.get("Host") or "").split(":")[0]
        return (host if host in self.store.shops else None), path, query

    # --- verbs ------------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        shop, path, query = self._split()
        try:
            if path == GRAPHQL_PATH and method == "POST":
                return self._graphql(shop)
            if path == "/admin/oauth/access_token" and method == "POST":
                return self._access_token(shop)
            if path == "/admin/oauth/authorize" and method == "GET":
                return self._authorize(shop, query)
            if path == "/staged-uploads" and method == "POST":
                return self._upload_form()
            if path.startswith("/staged-uploads/") and method == "PUT":
                return self._upload_put(path[len("/staged-uploads/") :], query)
            if path.startswith("/cdn/shop/files/") and method == "GET":
                return self._cdn(path)
            if path.startswith("/bulk-operations/") and method == "GET":
                return self._bulk_result(path)
            if path.startswith("/devstore/"):
                return self._control(method, path, query)
        except (BrokenPipeError, ConnectionResetError):
            return None
        self._body()
        return self._not_found()

    # --- Admin API --------------------------------------------------------------------------------

    def _graphql(self, shop: str | None) -> None:
        raw = self._body()
        if shop is None or shop not in self.store.shops:
            return self._not_found()
        token = self.headers.get("X-Shopify-Access-Token")
        if not self.store.tokens.shop_for_access_token(token, shop):
            logger.info("Rejected Admin request for %s: missing, expired or revoked token", shop)
            return self._json(401, UNAUTHORIZED_BODY)

        fault = self.store.faults.request_fault()
        if fault is not None:
            logger.info("Injected fault %s into an Admin request for %s", fault, shop)
        if fault == "timeout":
            time.sleep(self.store.faults.faults.timeout_seconds)
            self.close_connection = True
            return None
        if fault == "server_error":
            status = self.store.faults.choice([500, 502, 503])
            return self._json(status, {"errors": "Internal Server Error"})
        if fault == "http_429":
            message = (
                "Exceeded 2 calls per second for api client. "
                "Reduce request rates to resume uninterrupted service."
            )
            return self._json(429, {"errors": message}, {"Retry-After": "2.0"})

        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            if content_type == "application/graphql":
                request = {"query": raw.decode("utf-8")}
            else:
                request = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError):
            request = {}
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return self._json(400, {"errors": {"query": "Required parameter missing or invalid"}})

        variables = request.get("variables") or {}
        if not isinstance(variables, dict):
            return self._json(400, {"errors": {"variables": "Must be a JSON object"}})
        response = self.store.graphql(
            shop,
            request["query"],
            variables,
            request.get("operationName"),
            force_throttle=fault == "throttled",
        )
        return self._json(response.status, response.body, response.headers)

    def _request_params(self) -> dict[str, str]:
        raw = self._body()
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type == "application/json":
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                return {}
            return (
                {key: str(value) for key, value in data.items()} if isinstance(data, dict) else {}
            )
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))

    def _access_token(self, shop: str | None) -> None:
        params = self._request_params()
        if shop is None or shop not in self.store.shops:
            return self._not_found()
        try:
            body = self.store.tokens.token_request(params, shop)
        except OAuthError as error:
            return self._json(error.status, error.body)
        return self._json(200, body)

    def _authorize(self, shop: str | None, query: dict[str, str]) -> None:
        if shop is None or shop not in self.store.shops:
            return self._not_found()
        try:
            location = self.store.tokens.authorize_redirect(shop, query)
        except OAuthError as error:
            return self._json(error.status, error.body)
        return self._send(302, b"", "text/plain", {"Location": location})

    # --- uploads, files, bulk results -------------------------------------------------------------

    def _upload_fault(self) -> bool:
        """Return 503 for a share of uploads set by `upload_error_rate`; True when it did."""
        if not self.store.faults.draw(self.store.faults.faults.upload_error_rate):
            return False
        self._body()
        logger.info("Injected fault upload_error into a staged upload")
        self._xml(503, "ServiceUnavailable", "Service is unavailable. Please retry.")
        return True

    def _upload_form(self) -> None:
        if self._upload_fault():
            return None
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_UPLOAD_BYTES:
            self.close_connection = True
            return self._xml(
                400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."
            )
        raw = self._body()
        content_type = self.headers.get("Content-Type") or ""
        if not content_type.startswith("multipart/form-data"):
            return self._xml(400, "InvalidArgument", "POST requires a multipart/form-data body.")

        # The email parser reads multipart bodies once they carry their Content-Type header.
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
        )
        fields: dict[str, str] = {}
        file_content: bytes | None = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if name == "file":
                file_content = payload
            elif name:
                fields[name] = payload.decode("utf-8", "replace")

        key = fields.get("key", "")
        staged = self.store.find_staged(key)
        signature = fields.get("x-goog-signature", "")
        if staged is None or staged.http_method != "POST":
            return self._xml(400, "InvalidArgument", f"No staged upload target for key {key!r}.")
        if not hmac.compare_digest(signature, upload_signature(self.store.api_secret, key)):
            return self._xml(403, "SignatureDoesNotMatch", "The request signature does not match.")
        if file_content is None:
            return self._xml(400, "InvalidArgument", "The form has no field named 'file'.")

        staged.content = file_content
        status = int(fields.get("success_action_status") or 204)
        location = f"{self.store.base_url}/staged-uploads/{key}"
        xml = (
            f"<?xml version='1.0' encoding='UTF-8'?><PostResponse><Location>{location}</Location>"
            f"<Bucket>devstore</Bucket><Key>{key}</Key></PostResponse>"
        )
        return self._send(status, xml.encode() if status == 201 else b"", "application/xml")

    def _upload_put(self, key: str, query: dict[str, str]) -> None:
        if self._upload_fault():
            return None
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_UPLOAD_BYTES:
            self.close_connection = True
            return self._xml(
                400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."
            )
        raw = self._body()
        staged = self.store.find_staged(key)
        if staged is None or staged.http_method != "PUT":
            return self._xml(404, "NoSuchKey", "The specified staged upload does not exist.")
        signature = query.get("X-Goog-Signature", "")
        if not hmac.compare_digest(signature, upload_signature(self.store.api_secret, key)):
            return self._xml(403, "SignatureDoesNotMatch", "The request signature does not match.")
        staged.content = raw
        return self._send(200, b"", "text/plain")

    def _xml(self, status: int, code: str, message: str) -> None:
        logger.info("Rejected upload: %s %s", code, message)
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error>"
        ).encode()
        self._send(status, body, "application/xml")

    def _cdn(self, path: str) -> None:
        with self.store.lock:
            media = self.store.find_media_by_cdn_path(path)
            content = (
                media.read_content() if media is not None and media.status == "READY" else None
            )
            mime_type = media.mime_type if media is not None else None
        if content is None:
            return self._not_found()
        return self._send(
            200,
            content,
            mime_type or "application/octet-stream",
            {"Cache-Control": "public, max-age=31536000"},
        )

    def _bulk_result(self, path: str) -> None:
        name = path[len("/bulk-operations/") :]
        if not name.endswith(".jsonl") or not name[:-6].isdigit():
            return self._not_found()
        operation_id = int(name[:-6])
        for shop in self.store.shops.values():
            operation = shop.bulk_operations.get(operation_id)
            if operation is not None and operation.result is not None:
                return self._send(200, operation.result, "application/jsonl")
        return self._not_found()

    # --- control endpoint -------------------------------------------------------------------------

    def _control(self, method: str, path: str, query: dict[str, str]) -> None:
        raw = self._body()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return self._json(400, {"error": "Body must be JSON."})
        store = self.store
        try:
            if path == "/devstore/faults" and method == "POST":
                faults = store.set_faults(Faults(**data))
                return self._json(200, faults.as_dict())
            if path == "/devstore/faults" and method == "GET":
                return self._json(200, store.faults.faults.as_dict())
            if path == "/devstore/deliveries" and method == "GET":
                return self._json(200, [_attempt_json(attempt) for attempt in store.deliveries])
            if path == "/devstore/session-token" and method == "POST":
                return self._json(200, {"token": store.mint_session_token(data["shop"])})
            if path == "/devstore/install" and method == "POST":
                return self._json(
                    200, store.install(data["shop"], expiring=bool(data.get("expiring")))
                )
            if path == "/devstore/uninstall" and method == "POST":
                store.uninstall(data["shop"])
                return self._json(200, {"uninstalled": data["shop"]})
            if path == "/devstore/wait-idle" and method == "POST":
                return self._json(200, {"idle": store.wait_idle(float(data.get("timeout", 10)))})
            if path == "/devstore/products" and method == "POST":
                product = store.merchant_create_product(
                    data["shop"],
                    data["title"],
                    handle=data.get("handle"),
                    variants=data.get("variants"),
                )
                return self._json(200, {"id": product.id, "admin_graphql_api_id": product.gid})
            if path == "/devstore/products/update" and method == "POST":
                changes = dict(data.get("changes") or {})
                product = store.merchant_update_product(data["shop"], int(data["id"]), **changes)
                return self._json(
                    200, {"id": product.id, "updated_at": product.updated_at.isoformat()}
                )
            if path == "/devstore/products/delete" and method == "POST":
                store.merchant_delete_product(data["shop"], int(data["id"]))
                return self._json(200, {"deleted": int(data["id"])})
        except (TypeError, KeyError, ValueError) as error:
            return self._json(400, {"error": f"Invalid control request: {error}"})
        return self._not_found()


def _attempt_json(attempt) -> dict:
    return {
        "webhook_id": attempt.webhook_id,
        "event_id": attempt.event_id,
        "topic": attempt.topic,
        "shop": attempt.shop,
        "url": attempt.url,
        "attempt": attempt.attempt,
        "status": attempt.status,
        "error": attempt.error,
        "ok": attempt.ok,
        "sent_at": attempt.sent_at,
        "headers": attempt.headers,
        "body": attempt.body.decode("utf-8"),
    }
