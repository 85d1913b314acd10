"""Django settings of the front door, every one read from a ``CONFIDE_WEB_*`` environment variable.

Defaults are the production ones (secure cookies, 15 min idle, 12 h absolute, 5 failures before
lockout); tests and local plain-HTTP development change them through the environment only. The
variables are listed in ``services/web/README.md``.
"""
from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from confide import config

BASE_DIR = Path(__file__).resolve().parent


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: expected 1/0, true/false, yes/no or on/off")


def _seconds(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number of seconds") from None
    if value < 1:
        raise ImproperlyConfigured(f"{name}={raw!r}: must be at least 1")
    return value


KEY_DIR = config.key_dir()
SECRET_FILE = "web-secret-key"
DB_SECRET_FILE = "web-db.secret"


def _secret_key() -> str:
    if os.environ.get("CONFIDE_WEB_SECRET_KEY"):
        return os.environ["CONFIDE_WEB_SECRET_KEY"]
    path = KEY_DIR / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise ImproperlyConfigured(f"{path} is missing: run deploy/setup.sh (or set CONFIDE_WEB_SECRET_KEY)") from None


def _generated_db_password() -> str:
    """The password set-up generated (web.dbsetup); never an empty or default one. Raises
    ImproperlyConfigured naming the file when it is missing or empty."""
    secret = KEY_DIR / DB_SECRET_FILE
    try:
        password = secret.read_text().strip()
    except FileNotFoundError:
        raise ImproperlyConfigured(f"{secret} is missing: run deploy/setup.sh (or set CONFIDE_WEB_DB_DSN)") from None
    if not password:
        raise ImproperlyConfigured(f"{secret} is empty: remove it and run deploy/setup.sh")
    return password


def _database() -> dict:
    from psycopg.conninfo import conninfo_to_dict

    dsn = os.environ.get("CONFIDE_WEB_DB_DSN")
    if not dsn:
        password = _generated_db_password()
        from urllib.parse import quote

        dsn = f"postgresql://confide_web:{quote(password, safe='')}@127.0.0.1:5432/confide_web"
    params = conninfo_to_dict(dsn)
    if not params.get("password") and (KEY_DIR / DB_SECRET_FILE).exists():
        # A DSN naming only where the database is (a cluster's): the password set-up generated, as
        # confide.config does for the event store's logins (without the file: a trust or peer login).
        params["password"] = _generated_db_password()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params.get("dbname", "confide_web"),
        "USER": params.get("user", "confide_web"),
        "PASSWORD": params.get("password", ""),
        "HOST": params.get("host", "127.0.0.1"),
        "PORT": params.get("port", "5432"),
        # The rest of the DSN (a cluster's ``target_session_attrs=read-write`` beside its multi-host
        # ``host=a,b port=x,y``, ``connect_timeout``, how to trust the server: ``sslmode``, ``sslrootcert``) reaches libpq as it is.
        "OPTIONS": {k: v for k, v in params.items() if k not in ("dbname", "user", "password", "host", "port")},
        # A connection kept across requests is checked before reuse: after a failover it is dead.
        "CONN_HEALTH_CHECKS": True,
        "CONN_MAX_AGE": 60,
        "TEST": {"NAME": "confide_web_test"},
    }


def _tls_files():
    from confide import https

    try:
        return https.tls_files(os.environ.get(https.WEB_TLS_CERT_KEY), os.environ.get(https.WEB_TLS_KEY_KEY),
                               cert_setting=https.WEB_TLS_CERT_KEY, key_setting=https.WEB_TLS_KEY_KEY)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None


SECRET_KEY = _secret_key()
DEBUG = False
ADDRESS = _env("CONFIDE_WEB_ADDRESS", "127.0.0.1:8080")
# HTTPS on ADDRESS, and nothing else there, when CONFIDE_WEB_TLS_CERT and CONFIDE_WEB_TLS_KEY are set
# (web.serve; `confide tls init` makes a pair for a pilot); (cert, key) or None.
TLS_FILES = _tls_files()
BASE_URL = _env("CONFIDE_WEB_BASE_URL", f"{'https' if TLS_FILES else 'http'}://{ADDRESS}").rstrip("/")
ALLOWED_HOSTS = [h for h in _env("CONFIDE_WEB_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "axes",
    "csp",
    "web.apps.WebConfig",
]

MIDDLEWARE = [
    # Outermost: also the answers the session policy and the second-factor check give without going
    # further (sign-in and TOTP redirects, the 503 when the directory cannot be asked) are no-store.
    "web.middleware.NoStoreMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "web.middleware.SessionPolicyMiddleware",
    "web.middleware.RequireSecondFactorMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "web.urls"
WSGI_APPLICATION = "web.wsgi.application"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "web.context.session_policy",
    ]},
}]
DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"

# -- passwords: argon2id first ----------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",  # argon2id (Django >= 4.0)
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username before any check
    "django.contrib.auth.backends.ModelBackend",
    "web.backends.ExactUsernameBackend",  # allauth's, without its case-insensitive username match
]

# -- allauth: local accounts (username = member or patient id), no self sign-up ----------------
ACCOUNT_ADAPTER = "web.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "web.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_FORMS = {"login": "web.forms.LoginForm"}
ACCOUNT_PRESERVE_USERNAME_CASING = True
ACCOUNT_SESSION_REMEMBER = False  # the session ends with the browser, never "remember me"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_USERNAME_MIN_LENGTH = 1
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# django-axes owns failed *password* lockout (AccountAdapter.pre_authenticate skips allauth's own
# counter, which would race it). The same action also limits wrong second-factor codes per user
# (allauth.mfa keys it on the user): it must stay on, or the TOTP step can be guessed without end.
# Same numbers as the password lockout: CONFIDE_WEB_LOCKOUT_FAILURES per CONFIDE_WEB_LOCKOUT_COOLOFF.
ACCOUNT_RATE_LIMITS = {"login_failed": (f"{int(_env('CONFIDE_WEB_LOCKOUT_FAILURES', '5'))}/"
                                        f"{_seconds('CONFIDE_WEB_LOCKOUT_COOLOFF', 900)}s/key")}
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = _env("CONFIDE_WEB_TOTP_ISSUER", "Confide")
MFA_RECOVERY_CODE_COUNT = 10
# One 30 s step either side (clock drift); allauth still refuses a code used before.
MFA_TOTP_TOLERANCE = int(_env("CONFIDE_WEB_TOTP_TOLERANCE", "1"))

# -- SSO: OpenID Connect, authorization code + PKCE ---------------------------------------------
OIDC_ISSUER = _env("CONFIDE_WEB_OIDC_ISSUER", "").rstrip("/")
OIDC_PROVIDER_ID = _env("CONFIDE_WEB_OIDC_PROVIDER_ID", "idp")
OIDC_GROUPS_CLAIM = _env("CONFIDE_WEB_OIDC_GROUPS_CLAIM", "groups")
OIDC_USERNAME_CLAIM = _env("CONFIDE_WEB_OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_AUTO_PROVISION = _flag("CONFIDE_WEB_OIDC_AUTO_PROVISION", False)
try:
    OIDC_ROLE_MAP: dict[str, list[str]] = json.loads(_env("CONFIDE_WEB_OIDC_ROLE_MAP", "{}"))
except ValueError as exc:
    raise ImproperlyConfigured(f"CONFIDE_WEB_OIDC_ROLE_MAP is not JSON: {exc}") from None
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False  # a POST (CSRF-protected) starts the redirect to the IdP
SOCIALACCOUNT_PROVIDERS: dict = {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": []}}
if OIDC_ISSUER:
    SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"].append({
        "provider_id": OIDC_PROVIDER_ID,
        "name": _env("CONFIDE_WEB_OIDC_NAME", "Practice sign-in"),
        "client_id": _env("CONFIDE_WEB_OIDC_CLIENT_ID", ""),
        "secret": _env("CONFIDE_WEB_OIDC_CLIENT_SECRET", ""),
        "settings": {
            "server_url": OIDC_ISSUER,
            "oauth_pkce_enabled": True,
            "token_auth_method": _env("CONFIDE_WEB_OIDC_TOKEN_AUTH", "client_secret_basic"),
            "scope": _env("CONFIDE_WEB_OIDC_SCOPE", "openid profile groups").split(),
        },
    })

# -- lockout (django-axes) ------------------------------------------------------------------------
AXES_FAILURE_LIMIT = int(_env("CONFIDE_WEB_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(seconds=_seconds("CONFIDE_WEB_LOCKOUT_COOLOFF", 900))
AXES_LOCKOUT_PARAMETERS = ["username"]  # per account: an attacker rotating addresses is still stopped
# axes.W006 asks for ip_address too; locking per username alone is the point (a guesser on many
# addresses is stopped; a shared clinic NAT does not lock out everyone behind it).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "login"
# allauth authenticates with username=..., the form posts login=...: read whichever is there.
AXES_USERNAME_CALLABLE = "web.lockout.username_of"
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password", "password1", "password2", "login"]

# -- sessions: idle timeout, absolute lifetime, revocable ----------------------------------------
IDLE_TIMEOUT_SECONDS = _seconds("CONFIDE_WEB_IDLE_TIMEOUT", 15 * 60)
IDLE_WARNING_SECONDS = min(_seconds("CONFIDE_WEB_IDLE_WARNING", 120), IDLE_TIMEOUT_SECONDS)
SESSION_LIFETIME_SECONDS = _seconds("CONFIDE_WEB_SESSION_LIFETIME", 12 * 60 * 60)
ROLE_CACHE_SECONDS = _seconds("CONFIDE_WEB_ROLE_CACHE", 30)
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Django's cache holds what allauth must share across every web replica behind HAProxy: the TOTP
# codes already used (refused a second time, 45 CFR 164.312(d)) and the rate limits on failed
# sign-ins and second-factor codes. The default, a per-process memory cache, would let a code used
# on one replica be used again on another, and give each replica its own count of guesses. So the
# cache is the web's own database (table web_cache, made by migration 0002), as sessions are.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "web_cache",
                      "TIMEOUT": 300, "OPTIONS": {"MAX_ENTRIES": 100_000}}}
SESSION_COOKIE_AGE = SESSION_LIFETIME_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_SAVE_EVERY_REQUEST = False

# -- the directory and the assertions minted for the services -------------------------------------
DIRECTORY = _env("CONFIDE_WEB_DIRECTORY", "rpc")  # "rpc", or "file:<dir>" (tests, demos)
# The broker: confide.config.amqp_uri("web"), read when a call is made (web.rpc), not at start.
ORG = _env("CONFIDE_ORG", "practice")
ASSERTION_ISSUER = "confide-web"
ASSERTION_AUDIENCE = "confide-services"
ASSERTION_TTL_SECONDS = min(_seconds("CONFIDE_WEB_ASSERTION_TTL", 120), 300)
ENROLMENT_TTL_SECONDS = _seconds("CONFIDE_WEB_ENROLMENT_TTL", 24 * 60 * 60)

# -- cookies and headers ------------------------------------------------------------------------
# Secure cookies are on unless CONFIDE_WEB_SECURE_COOKIES=0, which is for plain-HTTP local
# development and the tests only: in production the front door is reached over HTTPS.
SECURE_COOKIES = _flag("CONFIDE_WEB_SECURE_COOKIES", True)
if TLS_FILES and not SECURE_COOKIES:
    raise ImproperlyConfigured("CONFIDE_WEB_SECURE_COOKIES=0 with CONFIDE_WEB_TLS_CERT set: served over HTTPS, "
                               "the session and CSRF cookies must be Secure (unset CONFIDE_WEB_SECURE_COOKIES)")
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"  # Lax, not Strict: the IdP's redirect back must carry the session
CSRF_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_NAME = "__Host-confide-session" if SECURE_COOKIES else "confide-session"
CSRF_COOKIE_NAME = "__Host-confide-csrf" if SECURE_COOKIES else "confide-csrf"
CSRF_TRUSTED_ORIGINS = [BASE_URL]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_HSTS_SECONDS = 31536000 if SECURE_COOKIES else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _flag("CONFIDE_WEB_BEHIND_TLS_PROXY", False) else None
X_FRAME_OPTIONS = "DENY"

_form_action = [SELF]
if OIDC_ISSUER:
    # Starting SSO is a POST answered by a redirect to the IdP; form-action governs that redirect.
    from urllib.parse import urlsplit

    _issuer = urlsplit(OIDC_ISSUER)
    _form_action.append(f"{_issuer.scheme}://{_issuer.netloc}")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [NONCE],
        "style-src": [NONCE],
        "img-src": [SELF, "data:"],  # the TOTP QR code is an SVG data: URI
        "connect-src": [SELF],
        "form-action": _form_action,
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _env("CONFIDE_WEB_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
