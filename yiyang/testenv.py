"""Loaded by pytest with `-p yiyang.testenv` (see pyproject.toml) before pytest-django configures Django.

Test configuration comes from the environment like everywhere else; these defaults make a bare `pytest`
work. The keys are throwaway test keys, never used outside test databases.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiyang.settings")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("YIYANG_FIELD_KEYS", "u0F5b9xG3bX9mYk7x1o0c2p4sVq8nJt6wLzRr3hKyE0=")
os.environ.setdefault("YIYANG_HASH_KEY", "test-hash-key")
os.environ.setdefault("YIYANG_PLAIN_STATIC", "1")
os.environ.setdefault("YIYANG_HTTPS", "0")
os.environ.setdefault("YIYANG_VAR_DIR", "/tmp/yiyang-test-var")
# Playwright's sync API runs an event loop in the test thread; the ORM calls there are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
