"""`make bench-sweep-lambda`: decide's and record's scheduled sweeps, run by
their release binaries under a local Lambda Runtime API, the way Lambda
runs them: one process, one scheduled event per invocation, handed out again
while the answer says the sweep stopped early (it ran out of time and went
on in the next invocation).

    python3 tests/localenv/local_aws.py -- python3 tests/bench/coldstart/sweeps.py \\
        --bin-dir target/release --setup target/debug/coldstart-setup --count 10000 --count 100000

Per sweep: invocations, wall time, process CPU (user + system), peak RSS
(VmHWM) of the function's process, the largest answer, and EC2/STS calls by
action (the emulator's counter). record sweeps twice: once into an empty
registry (every connection written) and once more (nothing changed, the
everyday case).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import LOG_DIR, ROOT, RuntimeApi, cpu_seconds, lambda_env, peak_rss_mb, world  # noqa: E402


def moto_calls(reset: bool = False) -> dict:
    url = os.environ["GATE_LOCAL_MOTO_URL"].rstrip("/")
    if reset:
        urllib.request.urlopen(urllib.request.Request(f"{url}/_gate/calls/reset", data=b"", method="POST"))
        return {}
    with urllib.request.urlopen(f"{url}/_gate/calls") as r:
        return json.loads(r.read())


def sweep(api: RuntimeApi, proc: subprocess.Popen, event: dict, handed: int, max_invocations: int) -> dict:
    """Hands `event` out until an answer says the sweep finished."""
    invocations, answers, wall, cpu = 0, [], 0.0, 0.0
    while invocations < max_invocations:
        before = cpu_seconds(proc.pid)
        started = time.monotonic()
        api.events.put(event)
        handed += 1
        api.wait(handed, proc, timeout=api.deadline_s + 600)
        wall += time.monotonic() - started
        cpu += cpu_seconds(proc.pid) - before
        invocations += 1
        (_, ok, body), = [v for k, v in api.done.items() if k == f"req-{handed}"]
        if not ok:
            raise RuntimeError(f"the sweep failed: {body[:500]!r}")
        answers.append(body)
        if not json.loads(body).get("stopped_early"):
            break
    last = json.loads(answers[-1])
    return {"invocations": invocations, "wall": wall, "cpu": cpu, "answer": max(len(a) for a in answers),
            "counts": last.get("counts", {}), "handed": handed, "answers": [json.loads(a) for a in answers]}


HEADER = (f"{'sweep':16} {'connections':>11} {'invocations':>11} {'wall':>9} {'CPU':>8} {'CPU/conn':>9} "
          f"{'peak RSS':>9} {'answer':>8}  EC2/STS calls")


def row_line(name: str, count: int, r: dict) -> str:
    calls = ", ".join(f"{k} {v}" for k, v in sorted(r["calls"].items()))
    lines = [f"{name:16} {count:>11,} {r['invocations']:>11} {r['wall']:>8.1f}s {r['cpu']:>7.2f}s "
             f"{r['cpu'] / count * 1000:>7.3f}ms {r['rss']:>6.1f} MB {r['answer']:>6} B  {calls}"]
    for a in r["answers"]:
        lines.append(f"{'':18}counts {json.dumps(a.get('counts'))} stopped_early={a.get('stopped_early')} "
                     f"resumed={a.get('resumed')}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--setup", required=True)
    parser.add_argument("--count", type=int, action="append", help="connections (repeatable)")
    parser.add_argument("--timeout", type=int, default=300,
                        help="each invocation's deadline, seconds (Lambda's timeout; 30 s go to the margin)")
    parser.add_argument("--only", choices=("decide", "record"), action="append")
    args = parser.parse_args()
    if "GATE_LOCAL_MOTO_URL" not in os.environ:
        print("run inside the local AWS environment", file=sys.stderr)
        return 2
    rows = []
    for count in args.count or [10_000]:
        for function in args.only or ("decide", "record"):
            print(f"{function}: seeding {count} connections…", file=sys.stderr)
            w = world(args.setup, count, f"sweep-{function}")
            env = lambda_env(function, w)
            api = RuntimeApi(deadline_s=args.timeout)
            log = LOG_DIR / f"sweep-{function}-{count}.log"
            with open(log, "wb") as err:
                proc = subprocess.Popen([str((Path(args.bin_dir) / function).resolve())], cwd=ROOT,
                                        env={**env, "AWS_LAMBDA_RUNTIME_API": api.address},
                                        stdout=subprocess.DEVNULL, stderr=err)
                try:
                    passes = ["first", "again"] if function == "record" else ["first"]
                    handed = 0
                    for label in passes:
                        moto_calls(reset=True)
                        print(f"{function}: sweeping {count} ({label})…", file=sys.stderr)
                        r = sweep(api, proc, w["events"][0], handed, max_invocations=50)
                        handed = r["handed"]
                        r["calls"] = moto_calls()
                        r["rss"] = peak_rss_mb(proc.pid)
                        name = function if label == "first" else f"{function} (again)"
                        rows.append((name, count, r))
                        # As it comes: a 100,000 sweep takes a while.
                        print(row_line(name, count, r), file=sys.stderr, flush=True)
                finally:
                    proc.kill()
                    proc.wait()
            api.server.shutdown()

    print(f"\nsweeps under the local Runtime API (release build, deadline {args.timeout} s per invocation)")
    print(HEADER)
    for name, count, r in rows:
        print(row_line(name, count, r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
