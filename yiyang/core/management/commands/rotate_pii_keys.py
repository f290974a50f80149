from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from yiyang.core import pii
from yiyang.core.fields import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column with the newest key in YIYANG_FIELD_KEYS (run after prepending one)."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            table = connection.ops.quote_name(model._meta.db_table)
            pk = connection.ops.quote_name(model._meta.pk.column)
            for field in fields:
                col = connection.ops.quote_name(field.column)
                with transaction.atomic(), connection.cursor() as cur:
                    cur.execute(f"SELECT {pk}, {col} FROM {table} WHERE {col} IS NOT NULL AND {col} <> ''")
                    rows = [(pii.rotate(token), key) for key, token in cur.fetchall()]
                    cur.executemany(f"UPDATE {table} SET {col} = %s WHERE {pk} = %s", rows)
                    total += len(rows)
            self.stdout.write(f"{model._meta.label}: {', '.join(f.name for f in fields)}")
        self.stdout.write(f"re-encrypted {total} values")
