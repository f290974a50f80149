"""The demo's devices, simulated: the registered devices of the demo vendors send signed messages to the
running demo as their vendors would, `anxin` by the webhook (HTTP POST to --url) and `huaxia` over MQTT (to the
broker the alarm listener reads). Mostly heartbeats for many devices at once, now and then an SOS or a fall.

    manage.py simulate_devices                       # a minute at two messages a second
    manage.py simulate_devices --rate 5 --duration 0 # until Ctrl-C
    manage.py simulate_devices --once                # one SOS, then exit

Messages are signed with the demo secrets (alarms.demo_secrets); against a deployment whose vendors have other
secrets they are refused (401, or dropped by the listener), and the simulator says so.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from urllib import error, request
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

ALARMING = {"sos_button": ("sos",), "smartwatch": ("sos", "fall"), "fall_sensor": ("fall",)}
BATCH = 20  # heartbeats per message


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The demo's address (webhooks).")
        parser.add_argument("--mqtt-host", help="Broker host (default: from ALARMS_MQTT_URL).")
        parser.add_argument("--mqtt-port", type=int, help="Broker port (default: from ALARMS_MQTT_URL).")
        parser.add_argument("--topic", help="The listener's topic filter; its `+` becomes the vendor code "
                                            "(default: ALARMS_MQTT_TOPIC).")
        parser.add_argument("--rate", type=float, default=2.0, help="Messages a second (default 2).")
        parser.add_argument("--duration", type=float, default=60.0, help="Seconds to run; 0 until stopped.")
        parser.add_argument("--alarm-chance", type=float, default=0.05,
                            help="The share of messages that are an SOS or a fall (default 0.05).")
        parser.add_argument("--once", action="store_true", help="Send one SOS and exit.")
        parser.add_argument("--vendor", action="append", help="Only this demo vendor's devices (repeatable).")
        parser.add_argument("--seed", type=int, help="For a repeatable run.")

    def handle(self, *args, **options):
        from yiyang.alarms.demo_secrets import DEMO_VENDOR_CHANNELS

        codes = options["vendor"] or list(DEMO_VENDOR_CHANNELS)
        unknown = set(codes) - set(DEMO_VENDOR_CHANNELS)
        if unknown:
            raise CommandError(f"not a demo vendor: {', '.join(sorted(unknown))} (the demo's: "
                               f"{', '.join(DEMO_VENDOR_CHANNELS)})")
        if options["rate"] <= 0:
            raise CommandError("--rate must be above 0")
        self.sim = Simulator(self, options, codes)
        try:
            if options["once"]:
                self.sim.send_one_sos()
            else:
                self.sim.run()
        finally:
            self.sim.close()


class Simulator:
    def __init__(self, command, options, codes):
        from yiyang.alarms.demo_secrets import DEMO_VENDOR_CHANNELS, demo_vendor_secret
        from yiyang.alarms.models import Device, DeviceStatus

        self.command, self.options = command, options
        self.random = random.Random(options.get("seed"))
        self.base = options["url"].rstrip("/")
        self.devices = list(Device.objects.filter(vendor__code__in=codes, vendor__active=True,
                                                  status=DeviceStatus.ACTIVE)
                            .select_related("vendor").order_by("vendor__code", "serial"))
        if not self.devices:
            raise CommandError(f"no registered devices of the demo vendors ({', '.join(codes)}): load the demo "
                               "first (make demo, or manage.py demo_city)")
        self.secrets = {}
        for device in self.devices:
            vendor = device.vendor
            if vendor.code not in self.secrets:
                self.secrets[vendor.code] = demo_vendor_secret(vendor.code)
                if vendor.secret != self.secrets[vendor.code]:
                    self.say(f"! {vendor.code}: its secret is not the demo's; its messages will be refused",
                             style="WARNING")
        self.channels = DEMO_VENDOR_CHANNELS
        self.mqtt = None
        self.mqtt_failed = False
        self.sent = 0

    def say(self, text: str, style: str = "") -> None:
        styler = getattr(self.command.style, style, None) if style else None
        self.command.stdout.write(styler(text) if styler else text)

    # --------------------------------------------------------------------------------------------- messages

    def _event(self, device, kind: str) -> dict:
        return {"id": f"sim-{uuid.uuid4().hex[:20]}", "serial": device.serial, "kind": kind,
                "at": timezone.now().isoformat(timespec="seconds"),
                "battery": self.random.randint(30, 100) if kind == "heartbeat" else None}

    def _payload(self, vendor, events: list[dict]) -> bytes:
        from yiyang.alarms.adapters import SCAIP_STATUS
        from yiyang.alarms.models import VendorFormat

        if vendor.format == VendorFormat.SCAIP_XML:
            codes = {(alarm_kind or kind): code for code, (kind, alarm_kind) in SCAIP_STATUS.items()}
            msgs = []
            for e in events:
                status = codes[e["kind"]]
                battery = f"<bat>{e['battery']}</bat>" if e["battery"] is not None else ""
                msgs.append(f"<msg><ref>{escape(e['id'])}</ref><cid>{escape(e['serial'])}</cid>"
                            f"<stc>{status}</stc><time>{e['at']}</time>{battery}</msg>")
            return ('<?xml version="1.0" encoding="UTF-8"?><scaip>' + "".join(msgs) + "</scaip>").encode()
        items = [{"event_id": e["id"], "device_id": e["serial"], "type": e["kind"], "occurred_at": e["at"],
                  **({"battery": e["battery"]} if e["battery"] is not None else {})} for e in events]
        return json.dumps(items[0] if len(items) == 1 else {"events": items}, ensure_ascii=False).encode()

    def send(self, vendor, events: list[dict]) -> None:
        body = self._payload(vendor, events)
        what = (f"{len(events)} heartbeats" if all(e["kind"] == "heartbeat" for e in events) and len(events) > 1
                else ", ".join(f"{e['kind']} {e['serial']}" for e in events))
        if self.channels[vendor.code] == "mqtt":
            answer = self._publish(vendor, body)
        else:
            answer = self._post(vendor, body)
        self.sent += 1
        alarm = any(e["kind"] != "heartbeat" for e in events)
        self.say(f"{self.channels[vendor.code]} {vendor.code}: {what} → {answer}", style="WARNING" if alarm else "")

    def _post(self, vendor, body: bytes) -> str:
        from yiyang.alarms.events import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

        ts = int(timezone.now().timestamp())
        req = request.Request(f"{self.base}/api/v1/alarms/webhooks/{vendor.code}", data=body, method="POST",
                              headers={"Content-Type": "application/xml" if body.startswith(b"<") else
                                       "application/json", TIMESTAMP_HEADER: str(ts),
                                       SIGNATURE_HEADER: sign(self.secrets[vendor.code], ts, body)})
        try:
            with request.urlopen(req, timeout=10) as resp:  # noqa: S310 - the demo's own address
                return f"{resp.status} {resp.read().decode()}"
        except error.HTTPError as exc:
            return f"{exc.code} {exc.read().decode()[:200]}"
        except (error.URLError, OSError) as exc:
            return f"not sent: {self.base} does not answer ({getattr(exc, 'reason', exc)})"

    def _publish(self, vendor, body: bytes) -> str:
        from yiyang.alarms.mqtt import envelope

        client = self._mqtt()
        if client is None:
            return "not sent: no MQTT broker"
        topic = (self.options.get("topic") or settings.ALARMS_MQTT_TOPIC).replace("+", vendor.code)
        info = client.publish(topic, envelope(vendor.code, self.secrets[vendor.code], body), qos=1)
        try:
            info.wait_for_publish(timeout=5)
        except (RuntimeError, ValueError) as exc:
            return f"not sent: {exc}"
        return f"published to {topic}" if info.is_published() else "not acknowledged by the broker"

    def _mqtt(self):
        if self.mqtt is not None or self.mqtt_failed:
            return self.mqtt
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        url = urlsplit(settings.ALARMS_MQTT_URL)
        host = self.options.get("mqtt_host") or url.hostname or "127.0.0.1"
        port = self.options.get("mqtt_port") or url.port or (8883 if url.scheme == "mqtts" else 1883)
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"yiyang-simulator-{uuid.uuid4().hex[:8]}",
                             protocol=paho.MQTTv5)
        if url.username:
            client.username_pw_set(url.username, url.password)
        if url.scheme == "mqtts":
            client.tls_set()
        try:
            client.connect(host, port)
        except OSError as exc:
            self.say(f"! MQTT broker {host}:{port} does not answer ({exc}): MQTT devices stay silent",
                     style="ERROR")
            self.mqtt_failed = True
            return None
        client.loop_start()
        self.mqtt = client
        return client

    def close(self) -> None:
        if self.mqtt is not None:
            self.mqtt.disconnect()
            self.mqtt.loop_stop()

    # ----------------------------------------------------------------------------------------------- a run

    def _alarm(self) -> tuple | None:
        able = [d for d in self.devices if d.kind in ALARMING]
        if not able:
            return None
        device = self.random.choice(able)
        return device, self.random.choice(ALARMING[device.kind])

    def send_one_sos(self) -> None:
        buttons = [d for d in self.devices if "sos" in ALARMING.get(d.kind, ())]
        if not buttons:
            raise CommandError("no SOS button or watch among the demo vendors' devices")
        device = self.random.choice(buttons)
        self.send(device.vendor, [self._event(device, "sos")])

    def run(self) -> None:
        duration = self.options["duration"]
        end = time.monotonic() + duration if duration > 0 else None
        pause = 1.0 / self.options["rate"]
        by_vendor = {}
        for device in self.devices:
            by_vendor.setdefault(device.vendor.code, []).append(device)
        self.say(f"simulating {len(self.devices)} devices of {', '.join(by_vendor)} at {self.options['rate']:g} "
                 f"messages a second" + (f" for {duration:g} s" if end else " (Ctrl-C stops)"))
        try:
            while end is None or time.monotonic() < end:
                started = time.monotonic()
                alarm = self._alarm() if self.random.random() < self.options["alarm_chance"] else None
                if alarm:
                    device, kind = alarm
                    self.send(device.vendor, [self._event(device, kind)])
                else:
                    devices = by_vendor[self.random.choice(list(by_vendor))]
                    sample = self.random.sample(devices, min(BATCH, len(devices)))
                    self.send(sample[0].vendor, [self._event(d, "heartbeat") for d in sample])
                time.sleep(max(0.0, pause - (time.monotonic() - started)))
        except KeyboardInterrupt:
            pass
        self.say(f"sent {self.sent} message(s)")
