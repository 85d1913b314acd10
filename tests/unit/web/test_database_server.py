"""Where the web's database is: 127.0.0.1:5432 by default, or the server ``CONFIDE_WEB_DB_DSN`` names (a
cluster's primary, with TLS verified), its password still the one set-up generated into the key
directory, never written in the DSN (deploy/k8s)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from psycopg.conninfo import conninfo_to_dict

from confide import config
from web import dbsetup

CLUSTER = "postgresql://confide_web@confide-pg:6432/confide_web?sslmode=verify-full&sslrootcert=/etc/ca/pg.crt"


def test_set_up_migrates_on_this_machine_unless_told_where():
    assert dbsetup.dsn("confide_web", "pw") == "postgresql://confide_web:pw@127.0.0.1:5432/confide_web"


def test_set_up_migrates_on_the_configured_server_as_the_web_role_with_the_generated_password():
    params = conninfo_to_dict(dbsetup.dsn("confide_web", "generated", CLUSTER))
    assert params == {"host": "confide-pg", "port": "6432", "sslmode": "verify-full", "sslrootcert": "/etc/ca/pg.crt",
                      "user": "confide_web", "password": "generated", "dbname": "confide_web"}


def test_the_servers_own_login_and_database_are_never_taken():
    params = conninfo_to_dict(dbsetup.dsn("confide_web_test", "generated", "postgresql://postgres:admin@db:5432/postgres"))
    assert (params["user"], params["password"], params["dbname"], params["host"]) == (
        "confide_web", "generated", "confide_web_test", "db")


def _databases(tmp_path, dsn: str) -> dict:
    env = {**os.environ, config.KEY_DIR_KEY: str(tmp_path), "CONFIDE_WEB_SECRET_KEY": "unit-test-only",
           "DJANGO_SETTINGS_MODULE": "web.settings", "CONFIDE_WEB_DB_DSN": dsn}
    out = subprocess.run([sys.executable, "-c", "import json, django; django.setup(); from django.conf import settings; "
                          "print(json.dumps(settings.DATABASES['default']))"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_dsn_without_a_password_gets_the_generated_one_and_keeps_its_tls_settings(tmp_path):
    (tmp_path / "web-db.secret").write_text("generated-secret\n")
    db = _databases(tmp_path, CLUSTER)
    assert (db["HOST"], db["PORT"], db["USER"], db["PASSWORD"], db["NAME"]) == (
        "confide-pg", "6432", "confide_web", "generated-secret", "confide_web")
    assert db["OPTIONS"] == {"sslmode": "verify-full", "sslrootcert": "/etc/ca/pg.crt"}


def test_a_dsn_with_its_own_password_is_used_as_it_is(tmp_path):
    (tmp_path / "web-db.secret").write_text("generated-secret\n")
    db = _databases(tmp_path, "postgresql://confide_web:given@127.0.0.1:5432/confide_web")
    assert (db["PASSWORD"], db["OPTIONS"]) == ("given", {})


def test_a_multi_host_dsn_keeps_its_failover_and_tls_settings_together(tmp_path):
    """After a failover the web must reach the new primary: libpq gets every host and
    ``target_session_attrs`` beside the TLS settings (two settings blocks once dropped one)."""
    (tmp_path / "web-db.secret").write_text("generated-secret\n")
    db = _databases(tmp_path, "host=127.0.0.1,127.0.0.1 port=7001,7002 dbname=confide_web user=confide_web "
                              "target_session_attrs=read-write connect_timeout=3 sslmode=require")
    assert (db["HOST"], db["PORT"]) == ("127.0.0.1,127.0.0.1", "7001,7002")
    assert db["OPTIONS"] == {"target_session_attrs": "read-write", "connect_timeout": "3", "sslmode": "require"}
