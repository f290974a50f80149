"""The schema fuzz (api/tests/test_fuzz.py) cannot sign, so it only ever meets the webhook's 401. Here the
bodies are signed: whatever a vendor sends, properly signed, the answer is 202, 413 or 422, never a 5xx."""

import datetime
import json

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yiyang.alarms.adapters import JSON_TYPES, SCAIP_STATUS
from yiyang.alarms.models import VendorFormat

from .factories import make_vendor, signed_post

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

# Within ingest's window (at most 7 days old), from the tests' clock, in UTC or China's offset.
moments = st.builds(lambda seconds, tz: (timezone.now() - datetime.timedelta(seconds=seconds)).astimezone(tz),
                    st.integers(0, 6 * 86400),
                    st.sampled_from([datetime.UTC, datetime.timezone(datetime.timedelta(hours=8))]))
texts = st.text(max_size=80)
scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | texts
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                        max_leaves=20)
ids = st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=64)
plausible_events = st.fixed_dictionaries(
    {"event_id": ids, "device_id": st.sampled_from(["SOS-1", "DOOR-1", "NOBODY"]),
     "type": st.sampled_from(list(JSON_TYPES)), "occurred_at": moments.map(datetime.datetime.isoformat)},
    optional={"battery": st.integers(0, 100), "lat": st.floats(-90, 90), "lng": st.floats(-180, 180),
              "status": st.integers(0, 999), "extra": anything})
broken_events = st.fixed_dictionaries(
    {"event_id": texts | st.integers(), "device_id": st.sampled_from(["SOS-1", "DOOR-1", "NOBODY"]) | texts,
     "type": st.sampled_from(list(JSON_TYPES)) | texts,
     "occurred_at": moments.map(datetime.datetime.isoformat) | texts},
    optional={"battery": scalars, "lat": scalars, "lng": scalars, "status": scalars, "extra": anything})
json_events = plausible_events | broken_events
json_bodies = (plausible_events | st.fixed_dictionaries({"events": st.lists(plausible_events, max_size=6)})
               | json_events | st.fixed_dictionaries({"events": st.lists(json_events | anything, max_size=6)})
               | anything).map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200)


def _expected(resp):
    assert resp.status_code in (202, 413, 422), (resp.status_code, resp.content[:500])
    body = resp.json()
    if resp.status_code == 202:
        assert set(body) == {"accepted", "duplicates", "quarantined"}
    else:
        assert body["errors"] or body["code"] == "request_too_large"


def test_any_signed_json_is_answered_202_or_422(client, alarm_world):
    secret = alarm_world["secret"]

    @FUZZ
    @given(body=json_bodies)
    def run(body):
        _expected(signed_post(client, "anxin", secret, body))

    run()


def _xml_value(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


plausible_xml = st.builds(
    lambda ref, cid, stc, time, bat: (f"<msg><ref>{ref}</ref><cid>{cid}</cid><stc>{stc}</stc><time>{time}</time>"
                                      f"<bat>{bat}</bat></msg>"),
    ids, st.sampled_from(["CTRL-1", "PENDANT-1"]), st.sampled_from(list(SCAIP_STATUS)),
    moments.map(datetime.datetime.isoformat), st.integers(0, 100))
xml_messages = st.builds(
    lambda ref, cid, stc, time, bat, tail: (f"<msg><ref>{_xml_value(ref)}</ref><cid>{_xml_value(cid)}</cid>"
                                            f"<stc>{_xml_value(stc)}</stc><time>{_xml_value(time)}</time>"
                                            f"<bat>{_xml_value(bat)}</bat>{tail}</msg>"),
    ids | texts, st.sampled_from(["CTRL-1", "PENDANT-1"]) | texts, st.sampled_from(list(SCAIP_STATUS)) | texts,
    moments.map(datetime.datetime.isoformat) | texts, st.integers(0, 100).map(str) | st.integers(-5, 200).map(str)
    | texts,
    st.sampled_from(["", "<loc><lat>31.9</lat><lon>106.6</lon></loc>", "<loc><lat>x</lat></loc>", "<x/>"]))
xml_bodies = (plausible_xml | xml_messages | st.lists(plausible_xml | xml_messages, max_size=5).map(
    lambda m: "<scaip>" + "".join(m) + "</scaip>") | texts).map(str.encode) | st.binary(max_size=200)


def test_any_signed_xml_is_answered_202_or_422(client, alarm_world):
    w = alarm_world
    _vendor, secret = make_vendor(w["bureau"], "huaxia", format=VendorFormat.SCAIP_XML)

    @FUZZ
    @given(body=xml_bodies)
    def run(body):
        _expected(signed_post(client, "huaxia", secret, body, content_type="application/xml"))

    run()
