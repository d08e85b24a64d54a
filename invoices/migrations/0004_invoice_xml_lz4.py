"""PostgreSQL: compress the stored XML (and KSeF's metadata) with LZ4 instead of pglz.

An invoice's XML is a few kilobytes, so PostgreSQL compresses it into TOAST on every
insert; with the default pglz that compression was the largest part of the database's
CPU while a sync stores a 10,000-invoice package. LZ4 compresses XML nearly as well at a
fraction of the CPU. Only new values use it; a server built without LZ4 keeps pglz (the
statement is skipped with a notice). Other databases: nothing to do.
"""

from django.db import migrations

COLUMNS = [("invoices_invoice", "xml"), ("invoices_invoice", "metadata")]


def _lz4(apps, schema_editor, method: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in COLUMNS:
        schema_editor.execute(
            f"""
            DO $$ BEGIN
                ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method};
            EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
                RAISE NOTICE 'compression {method} is not available here';
            END $$;
            """
        )


def forwards(apps, schema_editor):
    _lz4(apps, schema_editor, "lz4")


def backwards(apps, schema_editor):
    _lz4(apps, schema_editor, "pglz")


class Migration(migrations.Migration):
    dependencies = [("invoices", "0003_sync_beat_schedule")]

    operations = [migrations.RunPython(forwards, backwards)]
