"""A webhook receiver that checks every message with the `standardwebhooks` library
(the reference implementation of Standard Webhooks), as an app would.

usage: webhook_receiver.py PORT SECRET OUTFILE [FAIL_FIRST] [MODE]

Each verified message is appended to OUTFILE as a JSON line {"id", "type", "data",
"timestamp"}; one that does not verify as {"invalid": "<why>"} (answered 400). The first
FAIL_FIRST messages are answered 500 (to test retries). MODE "hang" answers nothing.
Prints "ready" once listening.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

port, secret, outfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
mode = sys.argv[5] if len(sys.argv) > 5 else ""
hook = Webhook(secret)
lock = threading.Lock()
seen = {"n": 0}


def record(line):
    with lock:
        with open(outfile, "a") as f:
            f.write(json.dumps(line) + "\n")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if mode == "hang":
            time.sleep(3600)
            return
        with lock:
            seen["n"] += 1
            n = seen["n"]
        if n <= fail_first:
            self.send_response(500)
            self.end_headers()
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = hook.verify(body, headers)
        except Exception as e:  # the library's WebhookVerificationError
            record({"invalid": str(e)})
            self.send_response(400)
            self.end_headers()
            return
        record(
            {
                "id": headers["webhook-id"],
                "type": payload["type"],
                "timestamp": payload["timestamp"],
                "data": payload["data"],
            }
        )
        self.send_response(204)
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
