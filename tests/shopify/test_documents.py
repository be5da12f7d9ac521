import gzip
import json
from pathlib import Path

import pytest
from graphql import build_client_schema, parse, validate

from integrations.shopify.documents import DOCUMENTS_DIR, document_names, load_document
from integrations.shopify.sync import PAGE_SIZE

SCHEMA_PATH = Path(DOCUMENTS_DIR).parent / "schema" / "admin_2026-10.json.gz"


@pytest.fixture(scope="module")
def admin_schema():
    with gzip.open(SCHEMA_PATH) as handle:
        return build_client_schema(json.load(handle)["data"])


def test_documents_folder_not_empty():
    assert len(document_names()) >= 10


@pytest.mark.parametrize("name", document_names())
def test_document_validates_against_schema(admin_schema, name):
    document = parse(load_document(name).text)
    errors = validate(admin_schema, document)
    assert [error.message for error in errors] == []


def test_every_graphql_file_in_repository_validates(admin_schema):
    root = Path(__file__).resolve().parents[2]
    paths = [
        p
        for p in root.rglob("*.graphql")
        if ".venv" not in p.parts and "node_modules" not in p.parts
    ]
    assert paths
    for path in paths:
        errors = validate(admin_schema, parse(path.read_text(encoding="utf-8")))
        assert [e.message for e in errors] == [], path


def test_documents_use_no_deprecated_fields(admin_schema):
    from graphql import TypeInfo, TypeInfoVisitor, Visitor, visit

    class Deprecated(Visitor):
        def __init__(self, info):
            super().__init__()
            self.info = info
            self.found = []

        def enter_field(self, node, *_):
            definition = self.info.get_field_def()
            if definition is not None and definition.deprecation_reason:
                self.found.append(node.name.value)

    for name in document_names():
        info = TypeInfo(admin_schema)
        visitor = Deprecated(info)
        visit(parse(load_document(name).text), TypeInfoVisitor(info, visitor))
        assert visitor.found == [], name


def test_products_page_requested_cost_within_limit():
    from integrations.shopify.devstore.schema import MAX_QUERY_COST, CostCalculator, load_schema

    document = parse(load_document("products_page").text)
    calculator = CostCalculator(load_schema(), document.definitions[0], {}, {"first": PAGE_SIZE})
    assert calculator.requested() <= MAX_QUERY_COST
    larger = CostCalculator(load_schema(), document.definitions[0], {}, {"first": PAGE_SIZE + 1})
    assert larger.requested() > MAX_QUERY_COST


def test_load_document_unknown_name():
    with pytest.raises(FileNotFoundError, match="products_page"):
        load_document("no_such_document")
