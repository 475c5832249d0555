"""A reverse proxy that makes a bad day: between Endpoint Gate and a local
AWS endpoint (moto or DynamoDB Local) it injects, at a configurable rate,
the failures AWS clients must survive:

- throttle:   the service's own throttling error (DynamoDB JSON
              ThrottlingException, Organizations JSON TooManyRequestsException,
              EC2 RequestLimitExceeded, Query-protocol Throttling), HTTP 400
- error5xx:   HTTP 500 or 503 with an InternalError body
- slow:       the request is forwarded after a delay (SLOW_SECONDS)
- drop:       the connection is closed before the request is forwarded
- lost_reply: the request IS forwarded (it takes effect) and the connection
              is closed before the answer: the client cannot know it worked
- conflict:   DynamoDB writes only, as when another transaction holds the
              item, which DynamoDB Local never reports: a PutItem, UpdateItem
              or DeleteItem gets TransactionConflictException, a
              TransactWriteItems is cancelled with one item's reason
              TransactionConflict ("Transaction conflict handling in
              DynamoDB", Amazon DynamoDB Developer Guide), HTTP 400
- hang:       only when asked for (--kinds): the request is read, not
              forwarded, and never answered; the connection is held until
              the client hangs up (at most HANG_SECONDS), as on a network
              path gone silent

    python tests/localenv/fault_proxy.py --upstream http://127.0.0.1:5000 --rate 0.2 --seed 7
    # prints `READY http://127.0.0.1:<port>`

With --writes-only, only DynamoDB writes meet faults: a test can aim
them at the writes (a claim's transaction) and let the reads before pass.
The emulator's own control routes (/_gate/...) pass untouched. GET /_faults
returns the counts of what was injected; POST /_faults {"rate": r} changes
the rate. Standard library only; binds
127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import select
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ["throttle", "error5xx", "slow", "drop", "lost_reply", "conflict"]
# Kinds a test must name: a client without timeouts would wait out each one.
OPT_IN = ["hang"]
HANG_SECONDS = 120
DYNAMODB = "com.amazonaws.dynamodb.v20120810#"
DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")
SLOW_SECONDS = 0.4


def throttle_body(headers, body: bytes) -> tuple[str, bytes]:
    target = headers.get("X-Amz-Target") or ""
    if target.startswith("DynamoDB"):
        return "application/x-amz-json-1.0", json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded"}
        ).encode()
    if target.startswith("AWSOrganizations"):  # AWS JSON 1.1, Organizations' own throttling error
        return "application/x-amz-json-1.1", json.dumps(
            {"__type": "TooManyRequestsException", "Message": "AWS Organizations can't complete your request"}
        ).encode()
    form = urllib.parse.parse_qs(body.decode(errors="replace"))
    if form.get("Version", [""])[0] == "2016-11-15":  # EC2's query protocol
        return "text/xml", (
            b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
            b"</Message></Error></Errors><RequestID>fault</RequestID></Response>"
        )
    return "text/xml", (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
        b"</Error><RequestId>fault</RequestId></ErrorResponse>"
    )


def dynamodb_write(headers) -> str | None:
    """The operation of a DynamoDB write, else None."""
    target = headers.get("X-Amz-Target") or ""
    operation = target.rsplit(".", 1)[-1]
    return operation if target.startswith("DynamoDB") and operation in DYNAMODB_WRITES else None


def conflict_body(operation: str, body: bytes, pick_index) -> bytes:
    """DynamoDB's answer when another transaction holds an item the write
    names. A cancelled transaction gives a reason per item, in order, `None`
    where the item was not at fault."""
    if operation != "TransactWriteItems":
        return json.dumps({"__type": DYNAMODB + "TransactionConflictException",
                           "message": "Transaction is ongoing for the item"}).encode()
    items = json.loads(body or b"{}").get("TransactItems") or [{}]
    reasons = [{"Code": "None"} for _ in items]
    reasons[pick_index(len(items))] = {"Code": "TransactionConflict",
                                       "Message": "Transaction is ongoing for the item"}
    codes = ", ".join(r["Code"] for r in reasons)
    return json.dumps({"__type": DYNAMODB + "TransactionCanceledException",
                       "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                       "CancellationReasons": reasons}).encode()


class Proxy:
    def __init__(self, upstream: str, rate: float, seed: int, kinds: list[str], writes_only: bool = False):
        parsed = urllib.parse.urlparse(upstream)
        self.host, self.port = parsed.hostname, parsed.port
        self.rate = rate
        self.kinds = kinds
        self.writes_only = writes_only
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.counts = {k: 0 for k in KINDS + OPT_IN} | {"requests": 0}

    def pick(self, writes_dynamodb: bool) -> str | None:
        """The fault for this request, if any, among the kinds that apply to it."""
        with self.lock:
            self.counts["requests"] += 1
            if self.writes_only and not writes_dynamodb:
                kinds = []
            else:
                kinds = [k for k in self.kinds if k != "conflict" or writes_dynamodb]
            if not kinds or self.random.random() >= self.rate:
                return None
            kind = self.random.choice(kinds)
            self.counts[kind] += 1
            return kind

    def index(self, n: int) -> int:
        with self.lock:
            return self.random.randrange(n)


def handler_for(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            conn.close()
            return response.status, response.getheaders(), data

        def hold(self) -> None:
            """Answers nothing; returns when the client hangs up."""
            self.close_connection = True
            deadline = time.monotonic() + HANG_SECONDS
            while time.monotonic() < deadline:
                readable, _, _ = select.select([self.connection], [], [], 0.2)
                try:
                    if readable and not self.connection.recv(1, socket.MSG_PEEK):
                        return
                except OSError:  # a reset is a hang-up too (a client dropping a pooled connection)
                    return
                if readable:  # bytes the client sent after its request: not an answer
                    time.sleep(0.2)

        def handle_any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/_faults"):
                with proxy.lock:
                    if self.command == "POST":
                        # {"rate": 0.0}: the bad day ends (or starts) mid-test.
                        proxy.rate = float(json.loads(body or b"{}").get("rate", proxy.rate))
                    return self.send(200, json.dumps(proxy.counts).encode(), "application/json")
            write = dynamodb_write(self.headers)
            kind = None if self.path.startswith("/_gate") else proxy.pick(write is not None)
            if kind == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if kind == "hang":
                return self.hold()
            if kind == "throttle":
                content_type, payload = throttle_body(self.headers, body)
                return self.send(400, payload, content_type)
            if kind == "conflict":  # picked only for a DynamoDB write
                return self.send(400, conflict_body(write or "", body, proxy.index), "application/x-amz-json-1.0")
            if kind == "error5xx":
                status = proxy.random.choice([500, 503])
                return self.send(status, b"<Error><Code>InternalError</Code></Error>", "text/xml")
            if kind == "slow":
                time.sleep(SLOW_SECONDS)
            status, headers, data = self.forward(body)
            if kind == "lost_reply":
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any

    return Handler


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--rate", type=float, default=0.2, help="share of requests that fail somehow")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--writes-only", action="store_true", help="faults on DynamoDB writes only")
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    if not 0 <= args.rate <= 1 or any(k not in KINDS + OPT_IN for k in kinds):
        parser.error(f"--rate in [0, 1], --kinds from {KINDS + OPT_IN}")
    proxy = Proxy(args.upstream, args.rate, args.seed, kinds, args.writes_only)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(proxy))
    server.daemon_threads = True
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
