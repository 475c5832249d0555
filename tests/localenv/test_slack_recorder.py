"""Tests of slack_recorder.py: it must answer like Slack where Endpoint Gate
depends on it (ok/error bodies on HTTP 200, the bearer token), or the Rust
client's error handling is tested against a fiction."""

from __future__ import annotations

import json
import urllib.request

import pytest

from serving import serving

TOKEN = "xoxb-local-test"


@pytest.fixture(scope="module")
def slack_url():
    with serving("slack_recorder.py", "--port", "0", "--token", TOKEN) as (url, _):
        yield url


def call(url: str, path: str, body=None, token: str | None = TOKEN, content_type="application/json"):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method="POST" if data is not None else "GET")
    request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        raw = response.read()
        return response.status, (json.loads(raw) if raw.startswith((b"{", b"[")) else raw.decode())


def test_post_message_records_and_returns_a_timestamp(slack_url):
    status, answer = call(slack_url, "/api/chat.postMessage", {"channel": "#netops", "text": "hi", "blocks": []})
    # Slack answers with the channel's id, which chat.update then needs.
    assert (status, answer["ok"], answer["channel"]) == (200, True, "CNETOPS")
    assert answer["ts"]
    _, log = call(slack_url, "/_slack/log")
    assert any(e["kind"] == "message" and e["ts"] == answer["ts"] for e in log)


@pytest.mark.parametrize(
    "token, body, error",
    [
        (None, {"channel": "#c", "text": "x"}, "not_authed"),
        ("xoxb-wrong", {"channel": "#c", "text": "x"}, "invalid_auth"),
        (TOKEN, {"text": "x"}, "channel_not_found"),
        (TOKEN, {"channel": "#c"}, "no_text"),
    ],
)
def test_refusals_are_http_200_with_ok_false_as_slack_does(slack_url, token, body, error):
    status, answer = call(slack_url, "/api/chat.postMessage", body, token=token)
    assert (status, answer) == (200, {"ok": False, "error": error})


def test_injected_failures_come_once_each(slack_url):
    call(slack_url, "/_slack/fail", {"times": 1, "error": "ratelimited"})
    _, first = call(slack_url, "/api/chat.postMessage", {"channel": "#c", "text": "x"})
    _, second = call(slack_url, "/api/chat.postMessage", {"channel": "#c", "text": "x"})
    assert (first["ok"], first.get("error"), second["ok"]) == (False, "ratelimited", True)


def test_response_urls_are_recorded(slack_url):
    status, answer = call(slack_url, "/hooks/actions/T0/1/abc", {"replace_original": True, "text": "done"}, token=None)
    assert (status, answer) == (200, "ok")
    _, log = call(slack_url, "/_slack/log")
    assert {"kind": "hook", "path": "/hooks/actions/T0/1/abc", "body": {"replace_original": True, "text": "done"}} in log


def test_update_needs_the_channel_id_and_ts_of_a_posted_message(slack_url):
    _, posted = call(slack_url, "/api/chat.postMessage", {"channel": "#updates", "text": "review"})
    by_name = {"channel": "#updates", "ts": posted["ts"], "text": "done"}
    assert call(slack_url, "/api/chat.update", by_name)[1] == {"ok": False, "error": "message_not_found"}
    unknown = {"channel": posted["channel"], "ts": "1.000000", "text": "done"}
    assert call(slack_url, "/api/chat.update", unknown)[1] == {"ok": False, "error": "message_not_found"}
    wrong_token = call(slack_url, "/api/chat.update", {**by_name, "channel": posted["channel"]}, token="xoxb-wrong")
    assert wrong_token[1] == {"ok": False, "error": "invalid_auth"}

    status, answer = call(slack_url, "/api/chat.update", {**by_name, "channel": posted["channel"]})
    assert (status, answer["ok"], answer["ts"]) == (200, True, posted["ts"])
    _, log = call(slack_url, "/_slack/log")
    updates = [e for e in log if e["kind"] == "update" and e["ts"] == posted["ts"]]
    assert [u["body"]["text"] for u in updates] == ["done"]
