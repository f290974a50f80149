"""The demo vendors' signing secrets, derived from the deployment's SECRET_KEY so that the demo data and the
device simulator (manage.py simulate_devices) agree without a secret written anywhere. Demo only: a real
vendor's secret is random (services.create_vendor) and shown once.

The demo build (demo.py) sets the demo vendors' secrets from here, the simulator signs with it: one derivation.
"""

import hashlib
import hmac

from django.conf import settings

# The demo's vendors and how their devices reach us.
DEMO_VENDOR_CHANNELS = {"anxin": "webhook", "huaxia": "mqtt"}


def demo_vendor_secret(code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"yiyang-demo-vendor:{code}".encode(), hashlib.sha256).hexdigest()
