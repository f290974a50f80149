"""The MQTT subscriber for device alarms: `yiyang/alarms/+/events` (the `+` is the vendor's code) with QoS 1 on a
persistent session (a fixed client id, clean start off), so messages published while it is down wait at the
broker. Each message goes through alarms.mqtt.handle_message (the webhook's signature check and ingest) and is
acknowledged only after its events are committed: a crash before that makes the broker deliver it again, and
ingest's idempotency (once per vendor event id) absorbs the repeat. A bad message is logged on
`yiyang.security` and acknowledged (dropped) so it cannot block the queue; a database error is not
acknowledged: the listener disconnects, waits and reconnects, and the broker redelivers.

    manage.py alarm_listener [--host H] [--port P] [--client-id ID] [--topic T] [--once N] [--timeout S]

Defaults from settings: ALARMS_MQTT_URL (env YIYANG_MQTT_URL, mqtt://127.0.0.1:1883; mqtts:// for TLS;
user:password@ if the broker wants them), ALARMS_MQTT_CLIENT_ID, ALARMS_MQTT_TOPIC. Reconnects with a backoff
of 1, 2, 4 … 60 seconds. --once N exits after N messages (tests, scripts).
"""

from __future__ import annotations

import logging
import signal
import time
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connection

log = logging.getLogger("yiyang.alarms")

MAX_BACKOFF = 60.0


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--host", help="Broker host (default: from ALARMS_MQTT_URL).")
        parser.add_argument("--port", type=int, help="Broker port (default: from ALARMS_MQTT_URL, else 1883).")
        parser.add_argument("--client-id", help="The persistent session's client id (ALARMS_MQTT_CLIENT_ID).")
        parser.add_argument("--topic", help="The subscription; its one `+` is the vendor code (ALARMS_MQTT_TOPIC).")
        parser.add_argument("--once", type=int, metavar="N", help="Exit after N messages (handled or dropped).")
        parser.add_argument("--timeout", type=float, metavar="S", help="Exit after S seconds whatever came.")
        parser.add_argument("--session-expiry", type=int, default=7 * 86400,
                            help="Seconds the broker keeps the session (and its queued messages) while we are away.")
        parser.add_argument("--keepalive", type=int, default=30)

    def handle(self, *args, **options):
        try:
            import paho.mqtt.client as paho
        except ImportError as exc:  # pragma: no cover - it is in requirements.txt
            raise CommandError("paho-mqtt is not installed (pip install -r requirements.txt)") from exc
        Listener(self, paho, options).run()


class Listener:
    def __init__(self, command, paho, options):
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        url = urlsplit(settings.ALARMS_MQTT_URL)
        self.command, self.paho = command, paho
        self.verbosity = options.get("verbosity", 1)
        self.host = options.get("host") or url.hostname or "127.0.0.1"
        self.port = options.get("port") or url.port or (8883 if url.scheme == "mqtts" else 1883)
        self.topic = options.get("topic") or settings.ALARMS_MQTT_TOPIC
        self.once = options.get("once")
        self.deadline = time.monotonic() + options["timeout"] if options.get("timeout") else None
        self.keepalive = options.get("keepalive") or 30
        self.handled = 0
        self.backoff = 1.0
        self.done = False
        self.redeliver = False  # a database error: leave the message unacknowledged and reconnect
        client_id = options.get("client_id") or settings.ALARMS_MQTT_CLIENT_ID
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5,
                                  manual_ack=True)
        if url.username:
            self.client.username_pw_set(unquote(url.username), unquote(url.password or "") or None)
        if url.scheme == "mqtts":
            self.client.tls_set()
        self.properties = Properties(PacketTypes.CONNECT)
        self.properties.SessionExpiryInterval = options.get("session_expiry") or 7 * 86400
        self.client.on_connect = self.on_connect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = self.on_message
        self.client.on_disconnect = self.on_disconnect

    def say(self, text: str, level: int = 1) -> None:
        if self.verbosity >= level:
            self.command.stdout.write(text)

    # -------------------------------------------------------------------------------------- paho's callbacks

    def on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("MQTT connection refused by %s:%s: %s", self.host, self.port, reason_code)
            return
        self.backoff = 1.0
        self.say(f"connected to {self.host}:{self.port} (session present: {flags.session_present})")
        client.subscribe(self.topic, qos=1)

    def on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self.say(f"subscribed to {self.topic} ({', '.join(str(rc) for rc in reason_codes)})")

    def on_disconnect(self, client, userdata, flags, reason_code, properties):
        if not self.done:
            log.warning("MQTT disconnected from %s:%s: %s", self.host, self.port, reason_code)

    def on_message(self, client, userdata, message):
        from yiyang.alarms.mqtt import handle_message

        if self.done or self.redeliver:
            return  # not acknowledged: delivered again on the next connection
        if not connection.in_atomic_block:
            close_old_connections()  # as a request does: a connection the database dropped is replaced
        try:
            outcome = handle_message(message.topic, message.payload, topic_filter=self.topic)
        except DatabaseError:
            log.exception("database error on an MQTT message; not acknowledged, reconnecting")
            self.redeliver = True
            client.disconnect()
            return
        except Exception:
            # A fault of ours, not of the database: acknowledge rather than have the message block the queue
            # forever. Its events, if stored, are processed by process_pending (alarms_tick).
            log.exception("unexpected error on an MQTT message on %s; acknowledged", message.topic)
            outcome = None
        client.ack(message.mid, message.qos)
        self.handled += 1
        if outcome is None:
            self.say(f"{message.topic}: error (logged)")
        elif outcome.ingested:
            r = outcome.result
            self.say(f"{message.topic}: accepted={r.accepted} duplicates={r.duplicates} "
                     f"quarantined={r.quarantined} alarms_raised={r.alarms_raised}",
                     1 if r.alarms_raised else 2)
        else:
            self.say(f"{message.topic}: dropped ({outcome.reason})")
        if self.once and self.handled >= self.once:
            self.done = True
            client.disconnect()

    # ----------------------------------------------------------------------------------------------- the loop

    def _stop(self, signum, frame):
        self.done = True
        self.client.disconnect()

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def connect(self, first: bool) -> bool:
        try:
            if first:
                self.client.connect(self.host, self.port, keepalive=self.keepalive, clean_start=False,
                                    properties=self.properties)
            else:
                self.client.reconnect()
        except OSError as exc:
            log.warning("MQTT broker %s:%s does not answer (%s); retrying in %.0f s", self.host, self.port, exc,
                        self.backoff)
            return False
        return True

    def wait(self) -> None:
        end = time.monotonic() + self.backoff
        while time.monotonic() < end and not self.done and not self.expired():
            time.sleep(min(0.2, self.backoff))
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    def run(self) -> None:
        previous = {}
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self._stop)
        except ValueError:
            previous = {}  # not the main thread: no signal handlers
        self.backoff = 1.0
        first, connected = True, False
        try:
            while not self.done and not self.expired():
                if not connected:
                    connected = self.connect(first)
                    if not connected:
                        self.wait()
                        continue
                    first = False
                rc = self.client.loop(timeout=0.5)
                if self.done:
                    break
                if self.redeliver or rc != self.paho.MQTT_ERR_SUCCESS:
                    connected, self.redeliver = False, False
                    self.wait()
            if connected:
                self.client.loop(timeout=0.5)  # the last acknowledgements and the DISCONNECT go out
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if not self.done:
                self.client.disconnect()
        self.say(f"handled {self.handled} message(s)")
