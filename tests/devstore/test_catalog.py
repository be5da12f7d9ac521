"""Seeding, query validation, cost arithmetic, throttling and pagination of the dev store."""

from __future__ import annotations

import time

import pytest

from integrations.shopify.devstore import DevStore
from integrations.shopify.devstore.seed import image_file_name
from integrations.shopify.devstore.throttle import LeakyBucket, plan_named

from .conftest import API_KEY, API_SECRET, SHOP, write_catalog

PRODUCTS_PAGE = """
query Page($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query) {
    edges { cursor node { id handle } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture
def offline_store(catalog):
    csv_path, images = catalog
    dev_store = DevStore(API_KEY, API_SECRET)
    report = dev_store.add_shop(SHOP, csv=csv_path, images=images)
    yield dev_store, report
    dev_store.stop()


def test_image_file_name_strips_url_and_query():
    assert image_file_name("https://cdn.shopify.com/s/files/1/tee-front.jpg?v=3") == "tee-front.jpg"
    assert image_file_name("tee-back.jpg") == "tee-back.jpg"


def test_seed_groups_rows_into_variants_and_images(offline_store):
    dev_store, report = offline_store
    assert report.products == 3
    assert report.variants == 4
    assert report.images == 3
    assert report.unmatched_images == ["wool-scarf: missing-scarf.jpg"]
    shop = dev_store.shop(SHOP)
    tee = next(product for product in shop.products.values() if product.handle == "linen-tee")
    assert [variant.sku for variant in tee.variants] == ["TEE-S", "TEE-L"]
    assert [variant.price for variant in tee.variants] == ["25.00", "27.50"]
    assert tee.option_names == ["Size"]
    assert tee.tags == ["summer", "linen"]
    media = shop.product_media(tee)
    assert [item.filename for item in media] == ["tee-front.jpg", "tee-back.jpg"]
    assert media[0].alt == "Tee, front"
    assert tee.variants[0].media_ids == [media[1].id]
    assert tee.variants[1].media_ids == []


def test_seed_missing_csv_names_the_path(tmp_path):
    dev_store = DevStore(API_KEY, API_SECRET)
    try:
        with pytest.raises(ValueError, match="does not exist"):
            dev_store.add_shop(SHOP, csv=tmp_path / "absent.csv", images=tmp_path)
    finally:
        dev_store.stop()


def test_add_shop_rejects_invalid_domain():
    dev_store = DevStore(API_KEY, API_SECRET)
    try:
        for domain in ("evil.com", "x.myshopify.com.evil.com", "UPPER.myshopify.com"):
            with pytest.raises(ValueError, match="invalid"):
                dev_store.add_shop(domain)
    finally:
        dev_store.stop()


def test_graphql_undefined_field_has_shopify_shape(offline_store):
    dev_store, _ = offline_store
    body = dev_store.graphql(SHOP, "{ products(first: 1) { nodes { id colour } } }").body
    error = body["errors"][0]
    assert error["message"] == "Field 'colour' doesn't exist on type 'Product'"
    assert error["extensions"] == {
        "code": "undefinedField",
        "typeName": "Product",
        "fieldName": "colour",
    }
    assert error["locations"] == [{"line": 1, "column": 35}]
    assert "data" not in body
    assert "throttleStatus" in body["extensions"]["cost"]


def test_graphql_missing_argument_and_bad_variable(offline_store):
    dev_store, _ = offline_store
    missing = dev_store.graphql(SHOP, "{ product { id } }").body["errors"][0]
    assert missing["message"] == "Field 'product' is missing required arguments: id"
    assert missing["extensions"]["code"] == "missingRequiredArguments"
    variable = dev_store.graphql(SHOP, "query($id: ID!) { product(id: $id) { id } }", {}).body
    assert variable["errors"][0]["message"] == "Variable $id of type ID! was provided invalid value"
    assert variable["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"


def test_graphql_unserved_field_is_a_clear_error(offline_store):
    dev_store, _ = offline_store
    body = dev_store.graphql(SHOP, "{ products(first: 1) { nodes { totalInventory } } }").body
    assert body["errors"][0]["extensions"]["code"] == "NOT_SERVED_BY_DEV_STORE"
    assert "totalInventory" in body["errors"][0]["message"]


def test_connection_without_first_is_rejected(offline_store):
    dev_store, _ = offline_store
    body = dev_store.graphql(SHOP, "{ products { nodes { id } } }").body
    assert body["errors"][0]["message"] == "you must provide one of first or last"
    assert body["errors"][0]["path"] == ["products"]
    assert body["data"] is None
    last_only = dev_store.graphql(SHOP, "{ products(last: 2) { nodes { id } } }").body
    assert last_only["errors"][0]["message"] == "using last without before is not supported"
    too_many = dev_store.graphql(SHOP, "{ products(first: 251) { nodes { id } } }").body
    assert "between 0 and 250" in too_many["errors"][0]["message"]


def test_cost_requested_and_actual(offline_store):
    dev_store, _ = offline_store
    query = """{ products(first: 10) { edges { node { id
        variants(first: 2) { nodes { id sku } }
        media(first: 5) { nodes { id } } } } } }"""
    cost = dev_store.graphql(SHOP, query).body["extensions"]["cost"]
    # 2 + 10 * (product 1 + variants (2 + 2 * 1) + media (2 + 5 * 1))
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 4 + 7)
    # Three products: tee (2 variants, 2 media), scarf (1, 0), item (1, 1).
    assert cost["actualQueryCost"] == 2 + (1 + 4 + 4) + (1 + 3 + 2) + (1 + 3 + 3)


def test_cost_refund_and_mutation_price(offline_store):
    dev_store, _ = offline_store
    body = dev_store.graphql(SHOP, "{ products(first: 50) { nodes { id } } }").body
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 52
    assert cost["actualQueryCost"] == 5
    assert cost["throttleStatus"]["currentlyAvailable"] >= 2000 - 5 - 1
    mutation = (
        'mutation { productUpdate(product: {id: "gid://shopify/Product/1"}) '
        "{ userErrors { message } } }"
    )
    assert dev_store.graphql(SHOP, mutation).body["extensions"]["cost"]["requestedQueryCost"] == 10


def test_cost_over_single_query_limit(offline_store):
    dev_store, _ = offline_store
    query = "{ products(first: 250) { nodes { id variants(first: 10) { nodes { id } } } } }"
    body = dev_store.graphql(SHOP, query).body
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["errors"][0]["message"].startswith("Query cost is 3252, which exceeds")
    assert body["extensions"]["cost"]["actualQueryCost"] is None


def test_leaky_bucket_restores_at_plan_rate():
    now = [100.0]
    bucket = LeakyBucket(plan_named("standard"), clock=lambda: now[0])
    assert bucket.try_spend(2000)
    assert not bucket.try_spend(1)
    now[0] += 1.5
    assert bucket.status()["currentlyAvailable"] == 150
    assert bucket.try_spend(150)
    now[0] += 100
    assert bucket.status()["currentlyAvailable"] == 2000


def test_plan_sizes():
    assert (plan_named("advanced").bucket_size, plan_named("advanced").restore_rate) == (4000, 200)
    assert (plan_named("plus").bucket_size, plan_named("plus").restore_rate) == (20000, 1000)
    with pytest.raises(ValueError, match="Unknown plan"):
        plan_named("gold")


def test_throttled_response_when_bucket_short(offline_store):
    dev_store, _ = offline_store
    dev_store.bucket(SHOP).drain()
    body = dev_store.graphql(SHOP, "{ products(first: 5) { nodes { id } } }").body
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["errors"][0]["message"] == "Throttled"
    assert "data" not in body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 7
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 7


def test_pagination_visits_every_product_once(tmp_path):
    csv_path = write_catalog(tmp_path, products=23)
    dev_store = DevStore(API_KEY, API_SECRET)
    try:
        dev_store.add_shop(SHOP, csv=csv_path, images=tmp_path / "images")
        seen, after, pages = [], None, 0
        while True:
            body = dev_store.graphql(SHOP, PRODUCTS_PAGE, {"first": 5, "after": after}).body
            connection = body["data"]["products"]
            seen += [edge["node"]["handle"] for edge in connection["edges"]]
            pages += 1
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        assert pages == 5
        assert len(seen) == 23
        assert len(set(seen)) == 23
    finally:
        dev_store.stop()


def test_pagination_of_empty_shop():
    dev_store = DevStore(API_KEY, API_SECRET)
    try:
        dev_store.add_shop("empty.myshopify.com")
        body = dev_store.graphql("empty.myshopify.com", PRODUCTS_PAGE, {"first": 50}).body
        assert body["data"]["products"]["edges"] == []
        assert body["data"]["products"]["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    finally:
        dev_store.stop()


def test_invalid_cursor_is_an_error(offline_store):
    dev_store, _ = offline_store
    body = dev_store.graphql(SHOP, PRODUCTS_PAGE, {"first": 5, "after": "bm90LWEtY3Vyc29y"}).body
    assert body["data"] is None
    assert "Invalid cursor" in body["errors"][0]["message"]


def test_updated_at_filter(offline_store):
    dev_store, _ = offline_store
    shop = dev_store.shop(SHOP)
    time.sleep(1.1)
    scarf = next(p for p in shop.products.values() if p.handle == "wool-scarf")
    dev_store.merchant_update_product(SHOP, scarf.id, title="Wool Scarf, red")
    stamp = scarf.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = dev_store.graphql(
        SHOP, PRODUCTS_PAGE, {"first": 10, "query": f"updated_at:>='{stamp}'"}
    ).body
    assert [edge["node"]["handle"] for edge in body["data"]["products"]["edges"]] == ["wool-scarf"]
    older = dev_store.graphql(
        SHOP, PRODUCTS_PAGE, {"first": 10, "query": f"updated_at:<'{stamp}'"}
    ).body
    assert len(older["data"]["products"]["edges"]) == 2


def test_unknown_search_field_warns(offline_store):
    dev_store, _ = offline_store
    body = dev_store.graphql(SHOP, PRODUCTS_PAGE, {"first": 10, "query": "colour:red"}).body
    assert len(body["data"]["products"]["edges"]) == 3
    warning = body["extensions"]["search"][0]["warnings"][0]
    assert warning == {"field": "colour", "message": "Invalid search field for this query."}


def test_page_of_250_executes_fast(tmp_path):
    csv_path = write_catalog(tmp_path, products=260)
    dev_store = DevStore(API_KEY, API_SECRET)
    try:
        dev_store.add_shop(SHOP, csv=csv_path, images=tmp_path / "images")
        query = """{ products(first: 250) { edges { node { id title handle updatedAt
            variants(first: 2) { nodes { id sku title } }
            media(first: 3) { nodes { id alt status
                ... on MediaImage { image { url width height } } } }
        } } pageInfo { hasNextPage endCursor } } }"""
        dev_store.graphql(SHOP, query, cost_check=False)
        # CPU time of this thread, so that other processes on a busy CI machine do not count.
        timings = []
        for _ in range(5):
            started = time.thread_time()
            body = dev_store.graphql(SHOP, query, cost_check=False).body
            timings.append(time.thread_time() - started)
        assert len(body["data"]["products"]["edges"]) == 250
        assert sorted(timings)[2] < 0.1
    finally:
        dev_store.stop()


def test_sample_catalog_seeds_every_row(tmp_path):
    from integrations.shopify.devstore import write_sample_catalog

    csv_path = write_sample_catalog(
        tmp_path, products=6, variants_per_product=2, images_per_product=3
    )
    dev_store = DevStore(API_KEY, API_SECRET)
    try:
        report = dev_store.add_shop(SHOP, csv=csv_path, images=tmp_path / "images")
        assert (report.products, report.variants, report.images) == (6, 12, 18)
        assert report.unmatched_images == []
        product = next(iter(dev_store.shop(SHOP).products.values()))
        media = dev_store.shop(SHOP).product_media(product)
        assert product.variants[0].media_ids == [media[1].id]
    finally:
        dev_store.stop()


def test_backward_pagination_with_last_and_before(tmp_path):
    csv_path = write_catalog(tmp_path, products=7)
    dev_store = DevStore(API_KEY, API_SECRET)
    try:
        dev_store.add_shop(SHOP, csv=csv_path, images=tmp_path / "images")
        forward = dev_store.graphql(SHOP, PRODUCTS_PAGE, {"first": 7}).body["data"]["products"]
        handles = [edge["node"]["handle"] for edge in forward["edges"]]
        query = """query($before: String) { products(last: 3, before: $before) {
            edges { node { handle } } pageInfo { hasNextPage hasPreviousPage } } }"""
        before = forward["edges"][-1]["cursor"]
        page = dev_store.graphql(SHOP, query, {"before": before}).body["data"]["products"]
        assert [edge["node"]["handle"] for edge in page["edges"]] == handles[3:6]
        assert page["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": True}
    finally:
        dev_store.stop()
