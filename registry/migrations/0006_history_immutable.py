"""Make the audit trail append-only in PostgreSQL itself.

A trigger on every historical table (``registry_historical*``,
``complications_historical*``, many-to-many history included) refuses UPDATE
and DELETE, so that not even SQL run by hand, a buggy migration or a leaked
application password can rewrite who changed what. INSERT stays open (the
history is written by the application), and so does TRUNCATE, which fires no
row trigger: the test suite's flush of a ``transactional_db`` still works.

A consequence: deleting a user who made changes is refused too (simple-history
would null the entries' user); deactivate them instead.

SQLite (the embedded registry and the fast tests) has no such guard; the
admin and the services are the only writers there.
"""

from django.db import migrations

FUNCTION = "registry_history_immutable"
TRIGGER = "history_immutable"
APPS = ("registry", "complications")


def _historical_tables(apps) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(
        model._meta.db_table
        for label in APPS
        for model in apps.get_app_config(label).get_models()
        if model.__name__.startswith("Historical")
    )


def forbid_rewrites(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING HINT = 'History rows are never changed or deleted; deactivate a user '
                             'instead of deleting them.';
        END
        $$;
    """,
        params=None,
    )  # None: the "%" placeholders are PL/pgSQL's, not the driver's
    quote = schema_editor.quote_name
    for table in _historical_tables(apps):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {quote(table)}")
        schema_editor.execute(
            f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON {quote(table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        )


def allow_rewrites(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for table in _historical_tables(apps):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {quote(table)}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_fracture_screws_validator"),
        # The complication's historical tables must exist to be guarded.
        ("complications", "0002_outcome_facts"),
    ]

    operations = [migrations.RunPython(forbid_rewrites, allow_rewrites)]
