"""Tests of fault_proxy.py's `conflict` faults: they must read as DynamoDB's
own, or the Rust client's handling of a transaction conflict is tested
against a fiction. Only DynamoDB writes can meet one. And of its `hang`
faults, which only a test that names them gets."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from serving import serving


class Upstream(BaseHTTPRequestHandler):
    """Answers every request 200, counting them."""

    calls = 0

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Upstream.calls += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture(scope="module")
def proxy_url():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    upstream_url = f"http://127.0.0.1:{upstream.server_address[1]}"
    try:
        with serving("fault_proxy.py", "--upstream", upstream_url, "--rate", "1", "--kinds", "conflict",
                     "--seed", "5") as (url, _):
            yield url
    finally:
        upstream.shutdown()


def call(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def dynamodb(url: str, operation: str, body: dict) -> tuple[int, dict]:
    headers = {"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0"}
    return call(url, json.dumps(body).encode(), headers)


def test_a_transaction_is_cancelled_with_one_reason_per_item_one_of_them_a_conflict(proxy_url):
    before = Upstream.calls
    items = [{"Put": {"TableName": "t", "Item": {}}}, {"Put": {"TableName": "t", "Item": {}}},
             {"ConditionCheck": {"TableName": "t", "Key": {}}}]
    status, body = dynamodb(proxy_url, "TransactWriteItems", {"TransactItems": items})
    assert status == 400
    assert body["__type"] == "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"
    codes = [r["Code"] for r in body["CancellationReasons"]]
    assert len(codes) == 3 and codes.count("TransactionConflict") == 1 and codes.count("None") == 2, codes
    assert Upstream.calls == before, "a cancelled transaction never reaches the table"


@pytest.mark.parametrize("operation", ["PutItem", "UpdateItem", "DeleteItem"])
def test_a_single_write_meets_a_transaction_conflict_exception(proxy_url, operation):
    status, body = dynamodb(proxy_url, operation, {"TableName": "t"})
    assert status == 400
    assert body["__type"] == "com.amazonaws.dynamodb.v20120810#TransactionConflictException"


@pytest.mark.parametrize("operation", ["GetItem", "BatchGetItem", "Query"])
def test_reads_pass_even_at_a_rate_of_one(proxy_url, operation):
    assert dynamodb(proxy_url, operation, {"TableName": "t"})[0] == 200


def test_other_services_pass_even_at_a_rate_of_one(proxy_url):
    form = b"Action=AcceptVpcEndpointConnections&Version=2016-11-15"
    assert call(proxy_url, form, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 200


def counts(url: str) -> dict:
    return json.loads(urllib.request.urlopen(url + "/_faults", timeout=10).read())


def test_the_counts_name_only_the_conflicts_injected(proxy_url):
    before = counts(proxy_url)
    dynamodb(proxy_url, "PutItem", {"TableName": "t"})
    dynamodb(proxy_url, "GetItem", {"TableName": "t"})
    after = counts(proxy_url)
    assert after["conflict"] - before["conflict"] == 1, (before, after)
    assert after["requests"] - before["requests"] == 2, (before, after)


@pytest.fixture(scope="module")
def upstream_url():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{upstream.server_address[1]}"
    finally:
        upstream.shutdown()


def test_a_hang_answers_nothing_forwards_nothing_and_lets_go_when_the_client_does(upstream_url):
    with serving("fault_proxy.py", "--upstream", upstream_url, "--rate", "1", "--kinds", "hang") as (url, _):
        before = Upstream.calls
        port = int(url.rsplit(":", 1)[1])
        body = b'{"TableName": "t"}'
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            client.settimeout(1.5)
            with pytest.raises(socket.timeout):
                client.recv(1)
        assert Upstream.calls == before, "a hung request never reaches the service"
        assert counts(url)["hang"] == 1
        # Another client meanwhile is served, and held the same way.
        with pytest.raises(socket.timeout):
            urllib.request.urlopen(url + "/", data=body, timeout=1)


def test_a_client_resetting_a_hung_connection_is_let_go_quietly(upstream_url):
    """The SDK drops a timed-out connection, sometimes with a reset: the
    proxy lets go of it, as of a hang-up, and prints no error."""
    with serving("fault_proxy.py", "--upstream", upstream_url, "--rate", "1", "--kinds", "hang",
                 stderr=subprocess.PIPE) as (url, proxy):
        port = int(url.rsplit(":", 1)[1])
        body = b'{"TableName": "t"}'
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        deadline = time.monotonic() + 5
        while counts(url)["hang"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        # Linger 0: close sends a reset, not a FIN.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        time.sleep(1.0)  # five of the hold's polls
        assert counts(url)["hang"] == 1
    errors = proxy.stderr.read()
    assert "Traceback" not in errors and "Error" not in errors, errors


def test_no_hang_unless_a_test_asks_for_one(upstream_url):
    with serving("fault_proxy.py", "--upstream", upstream_url, "--rate", "1", "--seed", "3") as (url, _):
        for _ in range(40):
            try:
                dynamodb(url, "PutItem", {"TableName": "t"})
            except (urllib.error.URLError, ConnectionError, json.JSONDecodeError, socket.timeout):
                pass  # the default kinds drop connections and lose replies
        injected = counts(url)
        assert injected["hang"] == 0 and sum(injected[k] for k in injected if k != "requests") == 40, injected


def test_writes_only_spares_every_read_and_fails_every_write(upstream_url):
    with serving("fault_proxy.py", "--upstream", upstream_url, "--rate", "1", "--kinds", "throttle,lost_reply",
                 "--writes-only") as (url, _):
        for operation in ["GetItem", "BatchGetItem", "Query"]:
            assert dynamodb(url, operation, {"TableName": "t"})[0] == 200, operation
        for operation in ["PutItem", "TransactWriteItems"]:
            try:
                status = dynamodb(url, operation, {"TableName": "t"})[0]
            except (ConnectionError, http.client.HTTPException, urllib.error.URLError):
                status = None  # a lost reply
            assert status in (400, None), (operation, status)
        injected = counts(url)
        assert injected["throttle"] + injected["lost_reply"] == 2 and injected["requests"] == 5, injected
