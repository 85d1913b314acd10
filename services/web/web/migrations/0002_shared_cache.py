"""The cache table every web replica shares (settings.CACHES: allauth's used TOTP codes and rate
limits), made by Django's own ``createcachetable``; dropped on the way back."""
from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def drop_cache_table(apps, schema_editor):
    from django.conf import settings

    table = schema_editor.quote_name(settings.CACHES["default"]["LOCATION"])
    schema_editor.execute(f"DROP TABLE IF EXISTS {table}")


class Migration(migrations.Migration):
    dependencies = [("web", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
