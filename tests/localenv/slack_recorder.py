"""A local stand-in for Slack: the Web API's chat.postMessage and the
response URLs of interactive messages, recording what Endpoint Gate sends.

    python tests/localenv/slack_recorder.py --port 0 --token xoxb-local
    # prints `READY http://127.0.0.1:<port>` when listening

Routes:
    POST /api/chat.postMessage   Bearer token checked as Slack does (HTTP 200,
                                 {"ok": false, "error": "invalid_auth"} when wrong);
                                 channels named "#x" answer with an id, as Slack does
    POST /api/chat.update        the same token check; the message must exist
                                 (channel id and ts), else "message_not_found"
    POST /hooks/<anything>       a message's response_url
    GET  /_slack/log             everything recorded, oldest first
    POST /_slack/fail            {"times": N, "error": "ratelimited"}: the next N
                                 Web API calls fail that way

Binds 127.0.0.1 only. Standard library only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20


class Recorder:
    def __init__(self, token: str):
        self.token = token
        self.lock = threading.Lock()
        self.log: list[dict] = []
        self.failures: list[str] = []
        self.counter = itertools.count(1)

    def record(self, entry: dict) -> None:
        with self.lock:
            self.log.append(entry)

    def next_failure(self) -> str | None:
        with self.lock:
            return self.failures.pop(0) if self.failures else None

    def refused(self, auth: str, body: dict) -> dict | None:
        """Slack's answer when the call fails before it acts, else None."""
        if not auth.startswith("Bearer "):
            return {"ok": False, "error": "not_authed"}
        if auth.removeprefix("Bearer ") != self.token:
            return {"ok": False, "error": "invalid_auth"}
        failure = self.next_failure()
        if failure:
            return {"ok": False, "error": failure}
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        return None

    @staticmethod
    def channel_id(channel: str) -> str:
        """Slack answers with the channel's id; a name stands for a made-up one."""
        if not channel.startswith("#"):
            return channel
        return "C" + "".join(c for c in channel.upper() if c.isalnum())[:10]

    def post_message(self, auth: str, body: dict) -> dict:
        refused = self.refused(auth, body)
        if refused:
            return refused
        channel = self.channel_id(body["channel"])
        ts = f"{int(time.time())}.{next(self.counter):06d}"
        self.record({"kind": "message", "channel": body["channel"], "channel_id": channel, "ts": ts, "body": body})
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text", "")}}

    def update(self, auth: str, body: dict) -> dict:
        refused = self.refused(auth, body)
        if refused:
            return refused
        channel, ts = body["channel"], body.get("ts")
        with self.lock:
            posted = any(
                e["kind"] == "message" and e["channel_id"] == channel and e["ts"] == ts for e in self.log
            )
        if not posted:
            return {"ok": False, "error": "message_not_found"}
        self.record({"kind": "update", "channel": channel, "ts": ts, "body": body})
        return {"ok": True, "channel": channel, "ts": ts, "text": body.get("text", "")}


def handler_for(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "slack-recorder"

        def log_message(self, fmt: str, *args) -> None:  # quiet; the log route tells all
            pass

        def reply(self, status: int, payload, content_type: str = "application/json") -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise ValueError("body too large")
            raw = self.rfile.read(length)
            return json.loads(raw or b"null")

        def do_GET(self) -> None:
            if self.path == "/_slack/log":
                with recorder.lock:
                    self.reply(200, list(recorder.log))
            else:
                self.reply(404, {"ok": False, "error": "unknown_method"})

        def do_POST(self) -> None:
            try:
                body = self.body()
            except (ValueError, json.JSONDecodeError):
                self.reply(400, {"ok": False, "error": "invalid_json"})
                return
            methods = {"/api/chat.postMessage": recorder.post_message, "/api/chat.update": recorder.update}
            if self.path in methods:
                if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                    self.reply(200, {"ok": False, "error": "invalid_form_data"})
                    return
                if not isinstance(body, dict):
                    self.reply(200, {"ok": False, "error": "invalid_arguments"})
                    return
                self.reply(200, methods[self.path](self.headers.get("Authorization") or "", body))
            elif self.path.startswith("/hooks/"):
                recorder.record({"kind": "hook", "path": self.path, "body": body})
                self.reply(200, b"ok", "text/plain")
            elif self.path == "/_slack/fail":
                with recorder.lock:
                    recorder.failures.extend([body.get("error", "ratelimited")] * int(body.get("times", 1)))
                self.reply(200, {"ok": True})
            else:
                self.reply(404, {"ok": False, "error": "unknown_method"})

    return Handler


def serve(port: int, token: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(Recorder(token)))
    server.daemon_threads = True
    return server


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", required=True, help="the bot token chat.postMessage accepts")
    args = parser.parse_args(argv)
    server = serve(args.port, args.token)
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
