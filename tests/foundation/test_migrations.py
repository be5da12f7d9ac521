from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db
def test_migrations_fully_applied():
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    assert plan == []


@pytest.mark.django_db
def test_migrations_match_models():
    output = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=output)
    except SystemExit as exc:
        pytest.fail(f"Models have changes without a migration:\n{output.getvalue()}")
        raise exc


@pytest.mark.django_db(transaction=True)
def test_migrations_reverse_and_reapply():
    call_command("migrate", "studio", "zero", verbosity=0)
    call_command("migrate", verbosity=0)
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
