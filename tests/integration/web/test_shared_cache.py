"""Every web replica shares one cache (the web database's ``web_cache`` table), so what allauth keeps
there holds across replicas: a TOTP code used through one replica is refused through another
(45 CFR 164.312(d)), and failed sign-ins count towards one limit. Two processes stand for two replicas."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PYTHONPATH = os.pathsep.join(str(REPO / p) for p in (
    "shared", "app", "services/notes", "services/disclosures", "services/audit", "services/gateway",
    "services/directory", "services/web"))
# allauth's own marker of a used TOTP code (allauth.mfa.totp.internal.auth.TOTP._mark_code_used).
MARK_USED = """
from django.core.cache import cache
print("fresh" if cache.add({key!r}, "y", timeout=90) else "replayed")
"""


def _replica(web_db_dsn: str, code: str) -> str:
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, "CONFIDE_WEB_SECRET_KEY": "shared-cache-test",
           "CONFIDE_WEB_DB_DSN": web_db_dsn, "DJANGO_SETTINGS_MODULE": "web.settings", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "web", "shell", "-c", code], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_totp_code_used_on_one_replica_is_refused_on_another(web_db_dsn):
    key = f"allauth.mfa.totp.used?user=42&code={uuid.uuid4().int % 10**6:06d}"
    assert _replica(web_db_dsn, MARK_USED.format(key=key)) == "fresh"
    assert _replica(web_db_dsn, MARK_USED.format(key=key)) == "replayed"
    other = key + "-another-code"
    assert _replica(web_db_dsn, MARK_USED.format(key=other)) == "fresh"

