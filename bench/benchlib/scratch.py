"""A dedicated PostgreSQL database for a benchmark: created fresh, dropped afterwards, never any other."""

import os
from urllib.parse import urlsplit, urlunsplit


def pg_server_url() -> str:
    url = os.environ.get("YIYANG_BENCH_PG_URL") or os.environ.get("DATABASE_URL") or ""
    if not url.startswith("postgres"):
        url = "postgres://postgres@127.0.0.1:5432/test"
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def reset_postgres(url: str, name: str, *, drop_only: bool = False, otherwise: str = "") -> bool:
    """Drop and (re)create the database `name` (only ever that one). False when PostgreSQL does not answer."""
    try:
        import psycopg

        conn = psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any connection problem means "no PostgreSQL here"
        print(f"PostgreSQL at {url} does not answer ({exc.__class__.__name__}){otherwise}")
        return False
    with conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {name}")
    return True


# Throwaway keys: benchmark databases hold generated people only and are dropped afterwards.
BENCH_ENV = {"SECRET_KEY": "bench-secret-key-not-for-production", "YIYANG_HASH_KEY": "bench-hash-key",
             "YIYANG_FIELD_KEYS": "u0F5b9xG3bX9mYk7x1o0c2p4sVq8nJt6wLzRr3hKyE0="}


def start_django(database_url: str) -> None:
    """Point Django at the benchmark's own database (with throwaway keys unless set) and set it up."""
    import os

    os.environ["DATABASE_URL"] = database_url
    for key, value in BENCH_ENV.items():
        os.environ.setdefault(key, value)
    import django

    django.setup()
