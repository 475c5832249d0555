"""`make bench-coldstart`: each Lambda function, and decide against its
Python peer, run as Lambda runs them against a minimal local Lambda Runtime
API.

    python3 tests/localenv/local_aws.py -- python3 tests/bench/coldstart/bench.py \
        --bin-dir target/release --setup target/debug/coldstart-setup

For each function, on its own fresh world (tests/bench/coldstart_setup.rs):
- cold start: a new process per run, exec → first response (`COLD` runs);
- warm: one process, `WARM` invocations, event handed out → response;
- peak RSS (VmHWM) of the process after the warm invocations.
Each invocation does the function's everyday work (see the setup), and its
answer is checked. The decide peer (peer.py, boto3) runs under AWS's runtime
interface client (awslambdaric); decide's table has Rust/Python ratios.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
VENV_PYTHON = ROOT / ".tools" / "venv" / "bin" / "python"
PREFIX = "/2018-06-01/runtime"
LOG_DIR = ROOT / ".local" / "bench"
LOG_DIR.mkdir(parents=True, exist_ok=True)


class RuntimeApi:
    """The Runtime API, just enough for lambda_runtime and awslambdaric."""

    def __init__(self, deadline_s: int = 60) -> None:
        self.deadline_s = deadline_s
        self.events: queue.Queue = queue.Queue()
        self.handed: dict[str, float] = {}
        self.done: dict[str, tuple[float, bool, bytes]] = {}
        self.cond = threading.Condition()
        self.ids = itertools.count(1)
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this the body
            # waits for the function's delayed ACK (~40 ms), counted as latency.
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def reply(self, status: int, body: bytes = b"{}", headers: dict | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    return self.reply(404)
                event = api.events.get()
                request_id = f"req-{next(api.ids)}"
                headers = {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int((time.time() + api.deadline_s) * 1000)),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:decide",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                }
                api.handed[request_id] = time.monotonic()
                self.reply(200, json.dumps(event).encode(), headers)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                if parts[:1] == ["init"]:
                    print(f"init error: {body[:500]!r}", file=sys.stderr)
                    with api.cond:
                        api.done["init"] = (time.monotonic(), False, body)
                        api.cond.notify_all()
                    return self.reply(202)
                if len(parts) == 3 and parts[0] == "invocation":
                    with api.cond:
                        api.done[parts[1]] = (time.monotonic(), parts[2] == "response", body)
                        api.cond.notify_all()
                    return self.reply(202)
                self.reply(404)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                # A killed function's pending /next poll resets; that is the point.
                if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def wait(self, count: int, proc: subprocess.Popen | None = None, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len([k for k in self.done if k != "init"]) < count:
                if "init" in self.done:
                    raise RuntimeError("the function failed to start")
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"the function exited ({proc.returncode}) before answering; see its log")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("the function did not answer in time")
                self.cond.wait(min(left, 0.2))


def cpu_ns(pid: int) -> int:
    """Nanoseconds on CPU of the process's live threads, to the scheduler's
    precision (/proc/<pid>/task/*/schedstat): fine enough for a 1 ms warm
    invocation, which /proc/<pid>/stat's 10 ms ticks are not."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread exited between listing and reading
    return total


def cpu_seconds(pid: int) -> float:
    """CPU the process has used: user and system time of every thread,
    those that exited included (/proc/<pid>/stat, utime + stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def world(setup: str, count: int, function: str) -> dict:
    out = subprocess.run([setup, str(count), function], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def lambda_env(function: str, w: dict) -> dict:
    """The environment Lambda and the template give `function` in world `w`."""
    # Lambda sets no trust-store variables; a shell that does (as some CI
    # images do) would measure a different TLS setup (src/trust.rs).
    inherited = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    return {
        **inherited,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        # The template's default (LogLevel INFO): the decision lines are paid for.
        "AWS_LAMBDA_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        "TABLE_NAME": w["table"],
        "SERVICE_IDS": w["service"],
        "REVIEW_TOPIC_ARN": w["topic"],
        "CONSUMER_ROLE_TEMPLATE": "arn:aws:iam::{account}:role/EndpointGateCidrReader",
    }


def answered_as_expected(function: str):
    """Whether a function's answer shows it did its work."""
    def url_page(status: int, needle: bytes):
        def check(body: bytes, ok: bool) -> bool:
            try:
                answer = json.loads(body)
            except ValueError:
                return False
            return ok and answer.get("statusCode") == status and needle in (answer.get("body") or "").encode()
        return check

    return {
        "decide": lambda body, ok: ok and b'"accept"' in body.lower(),
        "record": lambda body, ok: ok and b'"written":["vpce-' in body,
        "respond": url_page(200, b"Approve this connection request"),
        "lookup": url_page(200, b"vpce-"),
    }[function]


def run(name: str, argv: list[str], cwd: Path, env: dict, events: list, cold: int, warm: int,
        answered, perf_dir: Path | None = None) -> dict:
    """Each process gets its own Runtime API: a killed process's pending
    /next poll must not swallow the next run's event."""
    failures = 0
    colds, cold_cpus, warm_cpus = [], [], []
    events = list(events)

    for _ in range(cold):
        api = RuntimeApi()
        api.events.put(events.pop())
        log = LOG_DIR / f"{name}-cold.log"
        # The function's logs are written, as Lambda's are, and kept.
        with open(log, "wb") as log_file:
            started = time.monotonic()
            proc = subprocess.Popen(argv, cwd=cwd, env={**env, "AWS_LAMBDA_RUNTIME_API": api.address},
                                    stdout=log_file, stderr=log_file)
            try:
                api.wait(1, proc)
                cold_cpus.append(cpu_ns(proc.pid) / 1e9)
            finally:
                proc.kill()
                proc.wait()
        (finished, ok, body), = [v for k, v in api.done.items() if k != "init"]
        if not answered(body, ok):
            failures += 1
            print(f"{name}: unexpected answer {body[:300]!r}; log {log}", file=sys.stderr)
        colds.append(finished - started)
        api.server.shutdown()
    if perf_dir is not None:
        sample_cold_start(name, argv, cwd, env, events.pop(), perf_dir)
    api = RuntimeApi()
    with open(LOG_DIR / f"{name}-warm.log", "wb") as warm_log:
        proc = subprocess.Popen(argv, cwd=cwd, env={**env, "AWS_LAMBDA_RUNTIME_API": api.address},
                                stdout=warm_log, stderr=warm_log)
        latencies = []
        try:
            api.events.put(events.pop())  # the cold one, not counted
            api.wait(1, proc)
            perf = None
            if perf_dir is not None:
                # Sampled only while warm: where a warm invocation's CPU goes.
                perf = subprocess.Popen(["perf", "record", "-q", "-F", "4000", "--call-graph", "dwarf,32768", "-p", str(proc.pid),
                                         "-o", str(perf_dir / f"{name}.perf.data")])
                time.sleep(0.5)
            for i in range(warm):
                before = cpu_ns(proc.pid)
                api.events.put(events.pop())
                api.wait(2 + i, proc)
                warm_cpus.append((cpu_ns(proc.pid) - before) / 1e9)
            rss = peak_rss_mb(proc.pid)
            if perf is not None:
                perf.send_signal(2)
                perf.wait()
        finally:
            proc.kill()
            proc.wait()
    for request_id, (finished, ok, body) in api.done.items():
        if request_id in ("init", "req-1"):
            continue
        latencies.append(finished - api.handed[request_id])
        if not answered(body, ok):
            failures += 1
    return {"cold": colds, "warm": latencies, "rss": rss, "failures": failures,
            "cold_cpu": cold_cpus, "warm_cpu": warm_cpus}


def sample_cold_start(name: str, argv: list[str], cwd: Path, env: dict, event, perf_dir: Path) -> None:
    """One more cold start, not counted, under `perf record` from exec on
    (the dynamic loader and the clients' construction included)."""
    api = RuntimeApi()
    api.events.put(event)
    out = perf_dir / f"{name}-cold.perf.data"
    proc = subprocess.Popen(["perf", "record", "-q", "-F", "20000", "--call-graph", "dwarf,16384",
                             "-o", str(out), "--", *argv],
                            cwd=cwd, env={**env, "AWS_LAMBDA_RUNTIME_API": api.address},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        api.wait(1, proc)
    finally:
        # perf writes its data and ends the function it started.
        proc.send_signal(signal.SIGINT)
        proc.wait()
        api.server.shutdown()


def count_instructions(name: str, argv: list[str], cwd: Path, env: dict, events: list, warm: int,
                       answered, out_dir: Path) -> dict:
    """Instructions the process executes (callgrind's `Ir`, user space)
    from exec to its first answer, and per warm invocation after it. CPU
    time on a shared host moves by a quarter from run to run; an
    instruction count moves by well under 1%, so it can tell two builds
    apart where the clock cannot. It leaves out the kernel's share and
    what a cache miss or a branch costs, and valgrind's emulated CPU lacks
    extensions the host has (SHA, so SigV4 signing counts heavier): it
    ranks builds, and the CPU table stays what Lambda bills."""
    events = list(events)
    api = RuntimeApi()
    out = out_dir / f"{name}.callgrind"
    for old in out_dir.glob(f"{name}.callgrind*"):
        old.unlink()
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
                            cwd=cwd, env={**env, "AWS_LAMBDA_RUNTIME_API": api.address},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def dump(n: int) -> int:
        """Writes `out.<n>`, the instructions since the last dump, and zeroes them."""
        subprocess.run(["callgrind_control", "--dump", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        for line in Path(f"{out}.{n}").read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
        raise RuntimeError(f"{out}.{n} has no instruction count")

    try:
        api.events.put(events.pop())
        api.wait(1, proc)
        cold = dump(1)
        for i in range(warm):
            api.events.put(events.pop())
            api.wait(2 + i, proc)
        per_warm = dump(2) / warm
    finally:
        proc.kill()
        proc.wait()
        api.server.shutdown()
    failures = sum(1 for k, (_, ok, body) in api.done.items() if k != "init" and not answered(body, ok))
    return {"cold": cold, "warm": per_warm, "failures": failures}


def instructions_table(counts: dict) -> None:
    print("\ninstructions (callgrind, user space)")
    print(f"{'function':14} {'cold start':>12} {'warm':>12} {'warm/floor':>11}")
    floor = counts.get("floor", {}).get("warm")
    for name, c in counts.items():
        ratio = f"{c['warm'] / floor:>10.1f}x" if floor else f"{'':>11}"
        print(f"{name:14} {c['cold'] / 1e6:>10.2f} M {c['warm'] / 1e6:>10.2f} M {ratio}")


def subject(name: str, setup: str, count: int, bin_dir: str) -> tuple[list[str], Path, dict, list, object]:
    """What `name` (a function, `decide-python` or `floor`) runs as, in a
    fresh world of `count` events: argv, cwd, environment, events and the
    check of its answers. The floor reads lookup's world."""
    function = {"decide-python": "decide", "floor": "lookup", "lookup-page": "lookup"}.get(name, name)
    w = world(setup, count, name if name == "lookup-page" else function)
    env = lambda_env(name if name == "floor" else function, w)
    if function == "respond":
        env["LINK_KEYS_SECRET_ARN"] = w["link_secret"]
    if name == "decide-python":
        argv, cwd = [str(VENV_PYTHON), "-m", "awslambdaric", "peer.handler"], HERE
    else:
        binary = Path(bin_dir) / ("examples/floor" if name == "floor" else function)
        argv, cwd = [str(binary.resolve())], ROOT
    answered = (lambda body, ok: ok and b'"found"' in body) if name == "floor" else answered_as_expected(function)
    if name == "lookup-page":
        listed = answered
        answered = lambda body, ok: listed(body, ok) and len(json.loads(json.loads(body)["body"])) == 1000
    return argv, cwd, env, w["events"], answered


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


FUNCTIONS = ("decide", "record", "respond", "lookup")

# Lambda gives a function CPU in proportion to its memory, one vCPU at
# 1,769 MB (Lambda Developer Guide, "Configure Lambda function memory").
FULL_VCPU_MB = 1769
# arm64 in us-east-1 (aws.amazon.com/lambda/pricing): duration per GB-second
# and requests per million; the template deploys arm64.
PRICE_GB_SECOND = 0.0000133334
PRICE_PER_MILLION_REQUESTS = 0.20
MEMORY_SIZES = (128, 256, 512, 1024)


def cpu_table(results: dict) -> None:
    """Process CPU per invocation, what Lambda bills once divided by the
    function's share of a vCPU, and the cost per million invocations that
    follows. The calls' own latency (waiting, not CPU) comes on top and is
    the same at every size, so small sizes are cheapest for these
    functions; this shows how much CPU time each size adds."""
    print("\nprocess CPU (user + system, every thread), median")
    print(f"{'function':14} {'cold start':>11} {'warm':>9} {'warm/floor':>11}")
    floor = statistics.median(results["floor"]["warm_cpu"]) if "floor" in results else None
    for name, r in results.items():
        warm = statistics.median(r["warm_cpu"])
        ratio = f"{warm / floor:>10.1f}x" if floor else f"{'':>11}"
        print(f"{name:14} {ms(statistics.median(r['cold_cpu']))} {ms(warm)} {ratio}")
    print("\nCPU-bound duration per warm invocation and cost per million at each memory size (arm64)")
    print(f"{'function':14} " + " ".join(f"{f'{m} MB':>22}" for m in MEMORY_SIZES))
    for name, r in results.items():
        warm = statistics.median(r["warm_cpu"])
        cells = []
        for mb in MEMORY_SIZES:
            duration = warm / min(1.0, mb / FULL_VCPU_MB)
            cost = duration * mb / 1024 * PRICE_GB_SECOND * 1e6 + PRICE_PER_MILLION_REQUESTS
            cells.append(f"{duration * 1000:8.1f} ms ${cost:8.3f}")
        print(f"{name:14} " + " ".join(f"{c:>22}" for c in cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", required=True, help="the host's release build of the functions")
    parser.add_argument("--setup", required=True, help="the coldstart-setup binary")
    parser.add_argument("--cold", type=int, default=9)
    parser.add_argument("--warm", type=int, default=100)
    parser.add_argument("--only", choices=FUNCTIONS + ("floor", "lookup-page"), action="append",
                        help="measure only these functions (lookup-page: lookup answering a whole page, "
                             "1,000 endpoints)")
    parser.add_argument("--no-peer", action="store_true", help="skip decide's boto3 peer")
    parser.add_argument("--perf", type=Path, metavar="DIR",
                        help="also sample the warm invocations with `perf record` into DIR/<name>.perf.data, "
                             "and one more cold start into DIR/<name>-cold.perf.data "
                             "(the CPU figures then include perf's own overhead; use a build with symbols)")
    parser.add_argument("--instructions", type=Path, metavar="DIR",
                        help="instead of timing, count each function's instructions under callgrind "
                             "(valgrind): one cold start, then per warm invocation (--warm); dumps go to DIR")
    args = parser.parse_args()
    if "GATE_LOCAL_MOTO_URL" not in os.environ:
        print("run inside the local AWS environment: make bench-coldstart", file=sys.stderr)
        return 2
    if args.perf is not None:
        if shutil.which("perf") is None:
            print("--perf needs the `perf` command (linux-perf), which is not installed", file=sys.stderr)
            return 2
        args.perf.mkdir(parents=True, exist_ok=True)
    if args.instructions is not None:
        if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
            print("--instructions needs valgrind (with callgrind_control), which is not installed", file=sys.stderr)
            return 2
        args.instructions.mkdir(parents=True, exist_ok=True)
        return count_all(args)
    n = args.cold + args.warm + 1 + (1 if args.perf is not None else 0)
    results = {}
    functions = [f for f in args.only or FUNCTIONS if f in FUNCTIONS]
    names = list(functions)
    if "decide" in functions and not args.no_peer:
        names.insert(functions.index("decide") + 1, "decide-python")
    # The floor: the same clients and one DynamoDB call, what any function costs at least.
    if (Path(args.bin_dir) / "examples" / "floor").exists() and (not args.only or "floor" in args.only):
        names.append("floor")
    # lookup's largest answer: a whole page of endpoints.
    if not args.only or "lookup-page" in args.only:
        names.append("lookup-page")
    for name in names:
        argv, cwd, env, events, answered = subject(name, args.setup, n, args.bin_dir)
        print(f"{name}: {args.cold} cold starts, {args.warm} warm invocations…", file=sys.stderr)
        results[name] = run(name, argv, cwd, env, events, args.cold, args.warm, answered, args.perf)

    failures = sum(r["failures"] for r in results.values())
    cpu_table(results)
    if "decide" in results and "decide-python" in results:
        r, p = results["decide"], results["decide-python"]
        rows = [
            ("cold start CPU (median)", statistics.median(r["cold_cpu"]), statistics.median(p["cold_cpu"]), ms),
            ("warm invocation CPU (median)", statistics.median(r["warm_cpu"]),
             statistics.median(p["warm_cpu"]), ms),
            ("cold start, exec → first response (median)", statistics.median(r["cold"]),
             statistics.median(p["cold"]), ms),
            ("warm invocation (median)", statistics.median(r["warm"]), statistics.median(p["warm"]), ms),
            ("warm invocation (p95)", p95(r["warm"]), p95(p["warm"]), ms),
            ("peak RSS", r["rss"], p["rss"], lambda v: f"{v:8.1f} MB"),
        ]
        print("\ndecide: Rust against a boto3 peer under awslambdaric")
        print(f"{'':46} {'Rust':>11} {'Python':>11} {'Rust/Python':>12}")
        for label, rv, pv, fmt in rows:
            print(f"{label:46} {fmt(rv):>11} {fmt(pv):>11} {rv / pv:>11.2f}x")

    print(f"\nevery function (Rust, release build for this host, {args.cold} cold, {args.warm} warm)")
    print(f"{'function':10} {'binary':>9} {'cold (median)':>14} {'warm (median)':>14} {'warm (p95)':>11} {'peak RSS':>9}")
    for function in functions + [n for n in names if n == "lookup-page"]:
        r = results[function]
        size = (Path(args.bin_dir) / function.removesuffix("-page")).stat().st_size / 1e6
        print(f"{function:10} {size:>6.1f} MB {ms(statistics.median(r['cold'])):>14} "
              f"{ms(statistics.median(r['warm'])):>14} {ms(p95(r['warm'])):>11} {r['rss']:>6.1f} MB")
    print(f"every invocation did its work: {failures == 0}")
    return 0 if failures == 0 else 1


def count_all(args) -> int:
    """`--instructions`: every function and the floor, one process each."""
    counts = {}
    for name in args.only or FUNCTIONS + ("floor",):
        if name == "floor" and not (Path(args.bin_dir) / "examples" / "floor").exists():
            continue
        argv, cwd, env, events, answered = subject(name, args.setup, 1 + args.warm, args.bin_dir)
        print(f"{name}: instructions of a cold start and {args.warm} warm invocations…", file=sys.stderr)
        counts[name] = count_instructions(name, argv, cwd, env, events, args.warm, answered, args.instructions)
    instructions_table(counts)
    failures = sum(c["failures"] for c in counts.values())
    print(f"every invocation did its work: {failures == 0}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
