"""The GraphQL documents the app sends, kept as `.graphql` files next to this module."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graphql import OperationDefinitionNode, parse

DOCUMENTS_DIR = Path(__file__).resolve().parent / "graphql"


@dataclass(frozen=True)
class Document:
    """One GraphQL document: its file name without suffix, its text and its operation name."""

    name: str
    text: str
    operation_name: str


@cache
def load_document(name: str) -> Document:
    """Read and parse `graphql/<name>.graphql`, which must hold exactly one operation.

    Raises:
        FileNotFoundError: no such document; the message lists the existing ones.
        ValueError: the file does not hold exactly one named operation.
    """
    path = DOCUMENTS_DIR / f"{name}.graphql"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in DOCUMENTS_DIR.glob("*.graphql")))
        raise FileNotFoundError(
            f"GraphQL document {name!r} not found in {DOCUMENTS_DIR}; known: {known}."
        )
    text = path.read_text(encoding="utf-8")
    operations = [
        definition
        for definition in parse(text).definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    if len(operations) != 1 or operations[0].name is None:
        raise ValueError(
            f"{path} must contain exactly one named operation, found {len(operations)}."
        )
    return Document(name=name, text=text, operation_name=operations[0].name.value)


def document_names() -> list[str]:
    """Names of every document in the `graphql` folder."""
    return sorted(p.stem for p in DOCUMENTS_DIR.glob("*.graphql"))
