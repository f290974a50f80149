"""Yiyang settings. Everything that differs between deployments comes from the environment.

Production defaults are the safe ones: DEBUG off, HTTPS-only cookies, no default secret keys.
`make demo` and `make test` set the variables they need (see README.md, "Configuration").
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("YIYANG_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"The environment variable {name} must be set (see README.md).")
    return value


DEBUG = env_bool("DEBUG", False)
# Demo mode allows the demo_city command to create accounts with the published demo password.
DEMO_MODE = env_bool("YIYANG_DEMO", False)
# Cookies are HTTPS-only unless explicitly switched off (the local demo serves plain HTTP on 127.0.0.1).
HTTPS = env_bool("YIYANG_HTTPS", not DEBUG)

SECRET_KEY = env_required("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1" if DEBUG or DEMO_MODE else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# PII encryption: a comma-separated list of Fernet keys, newest first. Old keys stay readable, so keys can
# be rotated by prepending a new one and running `manage.py rotate_pii_keys`.
FIELD_ENCRYPTION_KEYS = env_list("YIYANG_FIELD_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("The environment variable YIYANG_FIELD_KEYS must be set (see README.md).")
# Keyed hash (HMAC-SHA256) for exact lookups of encrypted identifiers such as ID numbers.
FIELD_HASH_KEY = env_required("YIYANG_HASH_KEY")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "yiyang.core",
    "yiyang.registry",
    "yiyang.assessment",
    "yiyang.benefits",
    "yiyang.services",
    "yiyang.routing",
    "yiyang.visits",
    "yiyang.alarms",
    "yiyang.institutions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "yiyang.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "yiyang.core.middleware.PreferredLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "yiyang.api.middleware.RejectNulMiddleware",
    "yiyang.api.middleware.ApiErrorFormatMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "yiyang.core.middleware.RequestContextMiddleware",
    "yiyang.core.conflicts.IntegrityErrorMiddleware",
]

ROOT_URLCONF = "yiyang.urls"
WSGI_APPLICATION = "yiyang.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "yiyang" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "yiyang.core.context_processors.shell",
            ],
        },
    },
]

# Embedded default: SQLite under var/. Production: DATABASE_URL=postgres://...
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'yiyang.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the task worker and the web server use the file at once; IMMEDIATE avoids lock upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "yiyang.core.passwords.CharacterClassValidator"},
]
# Login throttling within the window: LIMIT failures lock one username from one address (so anonymous guesses
# from elsewhere cannot lock the real person out); USERNAME_LIMIT failures from all addresses together lock the
# username everywhere (a slow guess spread over many addresses); LIMIT x 4 lock one address for all usernames.
LOGIN_FAILURE_LIMIT = int(os.environ.get("YIYANG_LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_USERNAME_LIMIT = int(os.environ.get("YIYANG_LOGIN_FAILURE_USERNAME_LIMIT", "30"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("YIYANG_LOGIN_FAILURE_WINDOW", "900"))
API_TOKEN_LIFETIME_DAYS = int(os.environ.get("YIYANG_API_TOKEN_DAYS", "30"))

# Sessions and cookies.
SESSION_COOKIE_AGE = 8 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie; kept default-compatible
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only our own files run or style a page. img-src allows data: for the SVG icons Swagger UI (/api/docs) and
# ECharts' exports embed; frame-ancestors repeats X-Frame-Options for browsers that honour only CSP.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
])
SECURE_SSL_REDIRECT = env_bool("YIYANG_SSL_REDIRECT", False)  # usually done by the reverse proxy
SECURE_HSTS_SECONDS = int(os.environ.get("YIYANG_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# How many reverse proxies stand in front of us: the client address is that many entries from the right of
# X-Forwarded-For (each proxy appends what it saw; everything further left is the client's own claim and can be
# forged). 0: REMOTE_ADDR only. YIYANG_BEHIND_PROXY alone means one proxy.
BEHIND_PROXY = env_bool("YIYANG_BEHIND_PROXY", False)
TRUSTED_PROXIES = int(os.environ.get("YIYANG_TRUSTED_PROXIES", "1" if BEHIND_PROXY else "0"))
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Request size limits: oversized requests are refused with 413 before they reach a view.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("YIYANG_MAX_REQUEST_BYTES", str(2 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

# Internationalisation: Simplified Chinese by default, English available.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "yiyang" / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "yiyang" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(VAR_DIR / "media")}},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or env_bool("YIYANG_PLAIN_STATIC", False)
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Background work: Django's tasks API with a database queue (works on SQLite and PostgreSQL).
TASKS = {
    "default": {
        "BACKEND": os.environ.get("YIYANG_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# The jurisdiction this deployment serves by default (the demo: 恩阳区, Bazhong).
DEFAULT_JURISDICTION_CODE = os.environ.get("YIYANG_JURISDICTION", "511903")

# Alarms over MQTT (manage.py alarm_listener): the broker, the fixed client id of the persistent session (QoS 1
# messages wait there while the listener is down), and the topic whose `+` is the vendor's code.
ALARMS_MQTT_URL = os.environ.get("YIYANG_MQTT_URL", "mqtt://127.0.0.1:1883")
ALARMS_MQTT_CLIENT_ID = os.environ.get("YIYANG_MQTT_CLIENT_ID", "yiyang-alarm-listener")
ALARMS_MQTT_TOPIC = os.environ.get("YIYANG_MQTT_TOPIC", "yiyang/alarms/+/events")
