# Sourced by the scripts: configuration for local runs. Production sets these in its own environment.
# Keys for the local demo are generated once into var/local.env and kept, so the demo data stays readable.
mkdir -p var
if [ ! -f var/local.env ]; then
  .venv/bin/python - > var/local.env <<'PY'
import base64, os, secrets
print(f"SECRET_KEY={secrets.token_urlsafe(50)}")
print(f"YIYANG_FIELD_KEYS={base64.urlsafe_b64encode(os.urandom(32)).decode()}")
print(f"YIYANG_HASH_KEY={secrets.token_urlsafe(32)}")
PY
  chmod 600 var/local.env
fi
set -a
. var/local.env
set +a
export DJANGO_SETTINGS_MODULE=yiyang.settings
