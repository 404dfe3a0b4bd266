#!/usr/bin/env python3
"""Delivers N inbound text webhooks, one per new contact, the way Meta does: signed with
the app secret, spread round-robin over several server URLs at a fixed rate, and each
one not answered 200 (refused, reset, timed out: the instance died) delivered again to
the next URL until one acknowledges it. Used by two_instance_kill.sh.

Usage: deliver.py N RATE RUN_DIGITS URL [URL...]   (SWITCHBOARD_APP_SECRET, SWITCHBOARD_PHONE_NUMBER_ID)
Prints one JSON line: acknowledgements per URL, redeliveries, deliveries never acknowledged.
"""
import concurrent.futures
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

n, rate, run, urls = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4:]
secret = os.environ["SWITCHBOARD_APP_SECRET"].encode()
phone_number_id = os.environ.get("SWITCHBOARD_PHONE_NUMBER_ID", "100000000000001")
lock = threading.Lock()
acked = {u: 0 for u in urls}
redelivered = 0
lost = 0


def body(i):
    wa_id = f"999{run}{i:05d}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550100", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": f"Kill {i}"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": f"wamid.KILL.{run}.{i}", "timestamp": str(int(time.time())),
                      "type": "text", "text": {"body": "Hello, is anyone there?"}}],
    }
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "100000000000000", "changes": [{"field": "messages", "value": value}]}]}).encode()


def deliver(i):
    global redelivered, lost
    data = body(i)
    signature = "sha256=" + hmac.new(secret, data, hashlib.sha256).hexdigest()
    deadline = time.monotonic() + 120
    attempt = 0
    while time.monotonic() < deadline:
        url = urls[(i + attempt) % len(urls)]
        request = urllib.request.Request(url + "/webhooks/whatsapp", data=data, method="POST", headers={
            "content-type": "application/json", "x-hub-signature-256": signature})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                if r.status == 200:
                    with lock:
                        acked[url] += 1
                        redelivered += attempt > 0
                    return
        except (urllib.error.URLError, OSError):
            pass
        attempt += 1
        if attempt % len(urls) == 0:
            time.sleep(0.5)
    with lock:
        lost += 1


start = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(32) as pool:
    for i in range(n):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pool.submit(deliver, i)
print(json.dumps({"acked": acked, "redelivered": redelivered, "never_acked": lost,
                  "seconds": round(time.monotonic() - start, 1)}))
