"""Benchmark of alarm ingest (issue #16): signed events through the real webhook (gunicorn on PostgreSQL) and the
real MQTT broker (Mosquitto and `manage.py alarm_listener`), at a sustained rate, counted end to end.

For `--seconds` (60) at `--rate` (1,000) signed events per second in all:

- HTTP: a vendor gateway posting `{"events": [...]}` batches of `--batch` (20) events to
  `/api/v1/alarms/webhooks/<vendor>`, from `--clients` (4) keep-alive connections; one batch in 50 is sent twice
  (a replay: every event of it must come back as a duplicate);
- MQTT: `--mqtt-share` (20 %) of the events, published QoS 1 to `yiyang/alarms/<vendor>/events` in messages of
  `--mqtt-batch` (5) events (a home controller reporting its sensors); half-way through, the listener is killed
  (SIGKILL) and started again: the broker keeps what it did not acknowledge and redelivers it;
- the events are heartbeats of 2,000 devices, one SOS in 200 (each from a device of its own, so each must open
  one alarm), and one device flooding: an SOS every 0.1 s (they must fold into one alarm, every event counted).

Measured: events sent, stored, lost (sent and never stored) and duplicated (stored or counted twice); the rate
achieved; from sending an SOS to its alarm visible in the console's queue (a watcher reads the queue's table every
20 ms), p50/p99/max; escalations (acknowledgement deadline 10 s, nobody acknowledges) fired by the task worker
under that load, lateness against their deadline p50/p99/max. The baseline: a naive synchronous handler
(benchlib/naive_alarm_wsgi.py: one event per request, ORM row by row, processed before answering) on the same
server, driven as hard as the same clients can for `--baseline-seconds` (15); the ratio is our sustained rate
over the baseline's maximum.

Targets: ≥ 1,000 events/s for 60 s, zero lost, zero duplicated, p99 receipt → visible < 1 s, escalations within
5 s of their deadline. It never fails on speed. The database is a dedicated one (`yiyang_bench_alarms`), dropped
and created at the start and dropped at the end (unless --keep). The last line is
``summary: sent=N stored=N lost=N duplicated=N rate=R p99_visible_ms=P escalation_p99_s=E baseline_rate=B ratio=X``.

Usage: python bench/alarms.py [--rate 1000] [--seconds 60] [--batch 20] [--clients 4] [--mqtt-share 0.2]
                              [--mqtt-batch 5] [--workers 2] [--baseline-seconds 15] [--no-kill] [--keep]
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import itertools
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiyang.settings")

from benchlib.scratch import pg_server_url, reset_postgres, start_django, with_database  # noqa: E402
from benchlib.server import server_env, start_gunicorn, stop  # noqa: E402

BENCH_DB = "yiyang_bench_alarms"
DEVICES = 2000
SOS_EVERY = 200
ACK_SECONDS = 10
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    ordered = sorted(samples)

    def at(q):
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": at(0.5), "p99": at(0.99), "max": ordered[-1]}


# ------------------------------------------------------------------------------------------------- the world


def build_world() -> dict:
    """恩阳区's regions, 2,000 elders (set-based, bench/api_list.py's generator), a vendor per channel, a device
    per elder, an operator on duty, and the county's service level with a 10 s acknowledgement deadline."""
    from api_list import generate
    from django.utils import timezone

    from yiyang.alarms import services
    from yiyang.alarms.models import Device, DeviceKind, VendorFormat
    from yiyang.core.models import Region, Role, User
    from yiyang.core.services import load_regions
    from yiyang.registry.models import Elder

    load_regions(prefix="5119")
    generate(DEVICES, seed=16)
    # The generator's ID numbers are dummy tokens the list never decrypts; ingest loads the elder with the device,
    # so give them one real (encrypted) dummy number.
    from django.db import connection

    from yiyang.core import pii

    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Elder._meta.db_table} SET id_number = %s", [pii.encrypt("bench")])
    county = Region.objects.get(code="511903")
    bureau = User.objects.create(username="bench-bureau", role=Role.BUREAU, region=county)
    operator = User.objects.create(username="bench-operator", role=Role.OPERATOR, region=county)
    now = timezone.now()
    services.add_shift(actor=bureau, region=county, user=operator, duty_role="operator",
                       starts_at=now - datetime.timedelta(hours=1), ends_at=now + datetime.timedelta(hours=6))
    services.set_service_level(actor=bureau, jurisdiction=county, ack_seconds=ACK_SECONDS, arrive_minutes=45,
                               chain=services.DEFAULT_CHAIN)
    http_vendor, http_secret = services.create_vendor(actor=bureau, code="bench-http", name="HTTP 网关",
                                                      format=VendorFormat.YIYANG_JSON, jurisdiction=county)
    mqtt_vendor, mqtt_secret = services.create_vendor(actor=bureau, code="bench-mqtt", name="MQTT 网关",
                                                      format=VendorFormat.YIYANG_JSON, jurisdiction=county)
    elders = list(Elder.objects.filter(county_code="511903").values_list("pk", "residence_region_id", "address"))
    today = timezone.localdate()
    devices = []
    for i, (pk, region, address) in enumerate(elders[:DEVICES]):
        vendor = http_vendor if i % 2 == 0 else mqtt_vendor
        devices.append(Device(vendor=vendor, serial=f"D{i:05d}", kind=DeviceKind.SOS_BUTTON, elder_id=pk,
                              region_code=region, address=address or "登科街道", installed_on=today))
    Device.objects.bulk_create(devices, batch_size=1000)
    return {"secrets": {"bench-http": http_secret, "bench-mqtt": mqtt_secret},
            "serials": {"bench-http": [d.serial for d in devices if d.vendor_id == http_vendor.pk],
                        "bench-mqtt": [d.serial for d in devices if d.vendor_id == mqtt_vendor.pk]}}


# ------------------------------------------------------------------------------------------------- processes


def _env(database_url: str) -> dict:
    return server_env(database_url, LOG_LEVEL="ERROR", YIYANG_MQTT_URL=f"mqtt://{MQTT_HOST}:{MQTT_PORT}")


def start_manage(database_url: str, *args: str, log: str):
    out = open(log, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=_env(database_url),
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def start_listener(database_url: str, log: str):
    with open(log + ".listener", "a") as out:
        out.write("--- start\n")
    return subprocess.Popen([sys.executable, "-u", "manage.py", "alarm_listener"], cwd=ROOT, env=_env(database_url),
                            stdout=open(log + ".listener", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
                            start_new_session=True)


def wait_subscribed(log: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = Path(log + ".listener").read_text(errors="replace")
        if "subscribed to" in text.rsplit("--- start", 1)[-1]:
            return
        time.sleep(0.2)
    raise SystemExit("the alarm listener did not subscribe")


# ------------------------------------------------------------------------------------------------- load


class Ledger:
    """What was sent, what the server said, when each SOS went out and when its alarm became visible."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent_unique = 0
        self.replayed = 0
        self.accepted = 0
        self.duplicates = 0
        self.errors: list[str] = []
        self.sos_sent: dict[str, float] = {}
        self.sos_made: dict[str, float] = {}  # webhook SOS: when the pacer made it (before the client queue)
        self.flood_events = 0
        self.published = 0
        self.outage: tuple[float, float] | None = None  # the listener's restart: killed → subscribed again

    def add(self, **counts):
        with self.lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)


def sign_headers(secret: str, body: bytes) -> dict:
    from yiyang.alarms.events import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

    ts = int(time.time())
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body), "Content-Type": "application/json"}


def post(conn: http.client.HTTPConnection, path: str, secret: str, body: bytes) -> tuple[int, dict]:
    conn.request("POST", path, body=body, headers=sign_headers(secret, body))
    response = conn.getresponse()
    data = response.read()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, {"raw": data[:200].decode(errors="replace")}


class EventMaker:
    """Event ids, heartbeats in turn over the devices, an SOS now and then from a device not used for one yet."""

    def __init__(self, serials: list[str], prefix: str, flooder: str):
        self.serials = serials
        self.prefix = prefix
        self.flooder = flooder
        self.ids = itertools.count(1)
        self.turn = itertools.cycle(serials)
        self.sos_pool = iter([s for s in serials if s != flooder])
        self.n = 0

    def events(self, count: int, ledger: Ledger) -> list[dict]:
        out = []
        now = datetime.datetime.now(datetime.UTC).isoformat()
        for _ in range(count):
            self.n += 1
            serial, kind = next(self.turn), "heartbeat"
            if self.n % SOS_EVERY == 0:
                serial, kind = next(self.sos_pool, serial), "sos"
                with ledger.lock:
                    ledger.sos_sent[serial] = time.monotonic()
            if serial == self.flooder:
                serial = next(self.turn)
            out.append({"event_id": f"{self.prefix}-{next(self.ids)}", "device_id": serial, "type": kind,
                        "occurred_at": now, "battery": 50 + self.n % 50})
        return out


def http_load(port: int, secret: str, maker: EventMaker, ledger: Ledger, *, rate: float, seconds: float,
              batch: int, clients: int, stop_at: float) -> None:
    """A pacer puts a batch on the queue every batch/rate seconds; `clients` connections send them."""
    work: queue.Queue = queue.Queue(maxsize=clients * 4)
    path = "/api/v1/alarms/webhooks/bench-http"

    def sender():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            item = work.get()
            if item is None:
                return
            body, replay, sos = item
            with ledger.lock:  # receipt: the request leaves now (localhost), whatever it waited in our queue
                for serial in sos:
                    ledger.sos_made.setdefault(serial, ledger.sos_sent[serial])
                    ledger.sos_sent[serial] = time.monotonic()
            for _attempt in range(2 if replay else 1):
                try:
                    status, answer = post(conn, path, secret, body)
                except (OSError, http.client.HTTPException) as exc:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    ledger.errors.append(f"http {exc.__class__.__name__}")
                    continue
                if status != 202:
                    ledger.errors.append(f"http {status} {answer}")
                    continue
                ledger.add(accepted=answer["accepted"], duplicates=answer["duplicates"])

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    interval = batch / rate
    next_at = time.monotonic()
    k = 0
    while time.monotonic() < stop_at:
        k += 1
        events = maker.events(batch, ledger)
        replay = k % 50 == 0
        ledger.add(sent_unique=len(events), replayed=len(events) if replay else 0)
        sos = [e["device_id"] for e in events if e["type"] == "sos"]
        work.put((json.dumps({"events": events}).encode(), replay, sos))
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()


def flood(port: int, secret: str, serial: str, ledger: Ledger, stop_at: float) -> None:
    """One device pressing SOS ten times a second."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    n = 0
    while time.monotonic() < stop_at:
        n += 1
        event = {"event_id": f"flood-{n}", "device_id": serial, "type": "sos",
                 "occurred_at": datetime.datetime.now(datetime.UTC).isoformat()}
        if n == 1:
            with ledger.lock:
                ledger.sos_sent[serial] = time.monotonic()
        status, answer = post(conn, "/api/v1/alarms/webhooks/bench-http", secret, json.dumps(event).encode())
        if status == 202:
            ledger.add(accepted=answer["accepted"], duplicates=answer["duplicates"], sent_unique=1, flood_events=1)
        else:
            ledger.errors.append(f"flood {status} {answer}")
        time.sleep(0.1)


def mqtt_load(secret: str, maker: EventMaker, ledger: Ledger, *, rate: float, batch: int, stop_at: float,
              on_half=None) -> None:
    import paho.mqtt.client as mqtt

    from yiyang.alarms.events import sign

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    client.connect(MQTT_HOST, MQTT_PORT)
    client.loop_start()
    topic = "yiyang/alarms/bench-mqtt/events"
    interval = batch / rate
    start = time.monotonic()
    half = start + (stop_at - start) / 2
    next_at = start
    pending = []
    while time.monotonic() < stop_at:
        if on_half and time.monotonic() >= half:
            on_half()
            on_half = None
        events = maker.events(batch, ledger)
        body = json.dumps({"events": events})
        ts = int(time.time())
        envelope = json.dumps({"ts": ts, "sig": sign(secret, ts, body.encode()), "body": body})
        pending.append(client.publish(topic, envelope, qos=1))
        ledger.add(sent_unique=len(events), published=1)
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for info in pending:
        info.wait_for_publish(timeout=30)
    client.loop_stop()
    client.disconnect()


def watch(database_url: str, ledger: Ledger, seen: dict, stop_event: threading.Event) -> None:
    """Read the console queue's table every 20 ms: when does each SOS device's alarm appear?"""
    import psycopg

    conn = psycopg.connect(database_url.replace("postgres://", "postgresql://", 1), autocommit=True)
    last = 0
    while not stop_event.is_set():
        rows = conn.execute("SELECT a.id, d.serial FROM alarms_alarm a JOIN alarms_device d ON d.id = a.device_id "
                            "WHERE a.id > %s ORDER BY a.id", [last]).fetchall()
        now = time.monotonic()
        for pk, serial in rows:
            seen.setdefault(serial, now)
            last = max(last, pk)
        time.sleep(0.02)
    conn.close()


def run_load(args, database_url: str, port: int, world: dict, listener_box: list) -> tuple[Ledger, dict, float]:
    ledger = Ledger()
    seen: dict[str, float] = {}
    stop_event = threading.Event()
    watcher = threading.Thread(target=watch, args=(database_url, ledger, seen, stop_event), daemon=True)
    watcher.start()
    http_serials, mqtt_serials = world["serials"]["bench-http"], world["serials"]["bench-mqtt"]
    flooder = http_serials[-1]
    http_maker = EventMaker(http_serials, "h", flooder)
    mqtt_maker = EventMaker(mqtt_serials, "m", "")
    share = max(0.0, min(1.0, args.mqtt_share))
    started = time.monotonic()
    stop_at = started + args.seconds

    def restart_listener():
        if args.no_kill:
            return
        killed = time.monotonic()
        stop(listener_box[0], signal.SIGKILL)
        listener_box[0] = start_listener(database_url, args.log)

        def until_subscribed():
            wait_subscribed(args.log)
            ledger.outage = (killed, time.monotonic())

        threading.Thread(target=until_subscribed, daemon=True).start()

    jobs = [threading.Thread(target=http_load, args=(port, world["secrets"]["bench-http"], http_maker, ledger),
                             kwargs={"rate": args.rate * (1 - share), "seconds": args.seconds, "batch": args.batch,
                                     "clients": args.clients, "stop_at": stop_at}),
            threading.Thread(target=flood, args=(port, world["secrets"]["bench-http"], flooder, ledger, stop_at))]
    if share:
        jobs.append(threading.Thread(target=mqtt_load, args=(world["secrets"]["bench-mqtt"], mqtt_maker, ledger),
                                     kwargs={"rate": args.rate * share, "batch": args.mqtt_batch,
                                             "stop_at": stop_at, "on_half": restart_listener}))
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    sending = time.monotonic() - started
    # Drain: wait until what was sent is stored (the listener may still be catching up after its restart).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and stored_count(database_url) < ledger.sent_unique:
        time.sleep(0.5)
    time.sleep(1)
    stop_event.set()
    watcher.join()
    return ledger, seen, sending


def stored_count(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as conn:
        return conn.execute("SELECT count(*) FROM alarms_deviceevent").fetchone()[0]


def baseline(args, database_url: str, world: dict) -> float:
    """The naive handler: one event per request, as fast as `--clients` connections can."""
    proc, port = start_gunicorn(database_url, args.workers, app="benchlib.naive_alarm_wsgi:application", threads=2,
                                 env=_env(database_url))
    secret = world["secrets"]["bench-http"]
    serials = world["serials"]["bench-http"]
    done = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + args.baseline_seconds

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            event = {"event_id": f"naive-{k}-{n}", "device_id": serials[(k * 7919 + n) % len(serials)],
                     "type": "sos" if n % SOS_EVERY == 0 else "heartbeat",
                     "occurred_at": datetime.datetime.now(datetime.UTC).isoformat(), "battery": 70}
            status, _answer = post(conn, "/naive/bench-http", secret, json.dumps(event).encode())
            if status == 202:
                with lock:
                    done[0] += 1
    try:
        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients * 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return done[0] / (time.monotonic() - started)
    finally:
        stop(proc)


# ------------------------------------------------------------------------------------------------- checks


def count_results(ledger: Ledger, world: dict, flooder: str) -> dict:
    from django.db.models import Count

    from yiyang.alarms.models import Alarm, AlarmStep, DeviceEvent, StepKind

    stored = DeviceEvent.objects.exclude(event_id__startswith="naive-").count()
    unprocessed = DeviceEvent.objects.filter(processed_at__isnull=True, quarantined=False).count()
    per_device = dict(Alarm.objects.exclude(device=None).values_list("device__serial").annotate(n=Count("id")))
    sos = set(ledger.sos_sent)
    flood_alarm = Alarm.objects.filter(device__serial=flooder).first()
    escalations = []
    for alarm_raised, step_at in (AlarmStep.objects.filter(kind=StepKind.ESCALATED, alarm__escalation_level__gte=1)
                                  .order_by("alarm_id", "at").distinct("alarm_id")
                                  .values_list("alarm__raised_at", "at")):
        escalations.append((step_at - alarm_raised).total_seconds() - ACK_SECONDS)
    return {
        "stored": stored, "unprocessed": unprocessed,
        "lost": max(0, ledger.sent_unique - stored),
        "alarms_expected": len(sos), "alarms": sum(per_device.get(s, 0) for s in sos),
        "double_alarms": sum(1 for s in sos if per_device.get(s, 0) > 1),
        "missing_alarms": sum(1 for s in sos if per_device.get(s, 0) == 0),
        "flood_count": flood_alarm.event_count if flood_alarm else 0,
        "escalations": escalations,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="signed events per second, in all")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch", type=int, default=20, help="events per webhook request")
    parser.add_argument("--clients", type=int, default=4, help="HTTP connections")
    parser.add_argument("--mqtt-share", type=float, default=0.2)
    parser.add_argument("--mqtt-batch", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--baseline-seconds", type=float, default=15.0)
    parser.add_argument("--no-kill", action="store_true", help="do not kill and restart the listener mid-run")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--log", default=str(ROOT / "var" / "bench-alarms.log"))
    args = parser.parse_args()

    server = pg_server_url()
    if not reset_postgres(server, BENCH_DB, otherwise="; this benchmark needs PostgreSQL"):
        print("summary: skipped (no PostgreSQL)")
        return 0
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2):
            pass
    except OSError:
        print(f"the MQTT broker at {MQTT_HOST}:{MQTT_PORT} does not answer: running HTTP only")
        args.mqtt_share = 0.0
    database_url = with_database(server, BENCH_DB)
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    start_django(database_url)
    from django.core.management import call_command

    procs = []
    listener_box = [None]
    try:
        print(f"database: PostgreSQL ({urlsplit(server).hostname}, database {BENCH_DB}); {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}")
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        world = build_world()
        print(f"world: {DEVICES} devices in 恩阳区 homes, two vendors, in {time.perf_counter() - started:.1f} s")
        gunicorn, port = start_gunicorn(database_url, args.workers, threads=2, env=_env(database_url))
        procs.append(gunicorn)
        procs.append(start_manage(database_url, "db_worker", "--queue-name", "*", log=args.log))
        if args.mqtt_share:
            listener_box[0] = start_listener(database_url, args.log)
            wait_subscribed(args.log)  # a message published before the first subscription has nobody to go to
        time.sleep(2)  # the worker starts polling
        killed = ", listener killed and restarted half-way" if args.mqtt_share and not args.no_kill else ""
        print(f"load: {args.rate:.0f} events/s for {args.seconds:.0f} s ({1 - args.mqtt_share:.0%} HTTP in batches "
              f"of {args.batch} over {args.clients} connections, {args.mqtt_share:.0%} MQTT in messages of "
              f"{args.mqtt_batch}{killed}), one SOS in {SOS_EVERY}, one device flooding")
        ledger, seen, sending = run_load(args, database_url, port, world, listener_box)
        # Escalations fire 10 s after each unacknowledged alarm: wait for the last ones.
        time.sleep(ACK_SECONDS + 6)
        flooder = world["serials"]["bench-http"][-1]
        results = count_results(ledger, world, flooder)
        mqtt_serials = set(world["serials"]["bench-mqtt"])
        outage = ledger.outage or (0.0, 0.0)
        lat = {"http": [], "mqtt": [], "outage": []}
        for serial, sent_at in ledger.sos_sent.items():
            if serial in seen:
                kind = "http" if serial not in mqtt_serials else (
                    "outage" if outage[0] - 1 <= sent_at <= outage[1] else "mqtt")
                lat[kind].append((seen[serial] - sent_at) * 1000)
        visible = lat["http"] + lat["mqtt"]  # the outage is the deliberate kill, reported on its own
        vis = percentiles(visible)
        late = percentiles(results["escalations"])
        rate = ledger.sent_unique / sending
        within = sum(1 for x in results["escalations"] if x <= 5)
        print(f"sent: {ledger.sent_unique} unique events in {sending:.1f} s = {rate:.0f} events/s "
              f"(+{ledger.replayed} replayed; {ledger.published} MQTT messages)")
        print(f"stored: {results['stored']} (lost {results['lost']}, unprocessed {results['unprocessed']}); "
              f"server counted {ledger.accepted} accepted over HTTP + the listener's, {ledger.duplicates} duplicates "
              f"(replayed {ledger.replayed})")
        print(f"alarms: {results['alarms']} for {results['alarms_expected']} SOS devices (double "
              f"{results['double_alarms']}, missing {results['missing_alarms']}); the flooding device: one alarm "
              f"counting {results['flood_count']} of {ledger.flood_events} events")
        ph, pm, po = percentiles(lat["http"]), percentiles(lat["mqtt"]), percentiles(lat["outage"])
        queued = percentiles([(seen[s] - t) * 1000 for s, t in ledger.sos_made.items() if s in seen])
        print(f"receipt → visible on the console: p50 {vis['p50']:.0f} ms, p99 {vis['p99']:.0f} ms, max "
              f"{vis['max']:.0f} ms over {len(visible)} alarms (watcher polls every 20 ms); webhook p99 "
              f"{ph['p99']:.0f} ms ({len(lat['http'])}), MQTT p99 {pm['p99']:.0f} ms ({len(lat['mqtt'])}); "
              f"{len(lat['outage'])} sent while the listener was down ({outage[1] - outage[0]:.1f} s), visible "
              f"after at most {po['max']:.0f} ms")
        print(f"  webhook SOS counted from when the load generator made them (its own send queue included): p50 "
              f"{queued['p50']:.0f} ms, p99 {queued['p99']:.0f} ms")
        print(f"escalations: {len(results['escalations'])} fired, lateness p50 {late['p50']:.2f} s, p99 "
              f"{late['p99']:.2f} s, max {late['max']:.2f} s; {within} within 5 s")
        if ledger.errors:
            print(f"errors: {len(ledger.errors)}, first: {ledger.errors[:3]}")
        stop(gunicorn)
        procs.remove(gunicorn)
        stop(listener_box[0])
        base = baseline(args, database_url, world)
        print(f"baseline: naive synchronous handler (one event per request, ORM row by row) {base:.0f} events/s "
              f"with {args.clients * 2} connections; ratio {rate / base:.1f}×")
        duplicated = results["double_alarms"] + max(0, ledger.duplicates - ledger.replayed)
        print(f"summary: sent={ledger.sent_unique} stored={results['stored']} lost={results['lost']} "
              f"duplicated={duplicated} rate={rate:.0f} p99_visible_ms={vis['p99']:.0f} "
              f"escalation_p99_s={late['p99']:.2f} baseline_rate={base:.0f} ratio={rate / base:.1f}")
    finally:
        for proc in procs:
            stop(proc)
        stop(listener_box[0])
        from django.db import connections

        connections.close_all()
        if not args.keep:
            reset_postgres(server, BENCH_DB, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
