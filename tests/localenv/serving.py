"""Starting one of the local servers for a test: each prints `READY <url>`
once it listens, and stops on SIGTERM."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent


@contextlib.contextmanager
def serving(script: str, *args: str, **popen) -> Iterator[tuple[str, subprocess.Popen]]:
    """Runs `script` (beside this file) until the block ends: its URL, and
    the process (its `returncode` is set once the block is left)."""
    proc = subprocess.Popen([sys.executable, str(HERE / script), *args], stdout=subprocess.PIPE, text=True, **popen)
    try:
        line = proc.stdout.readline().strip()  # blocks until READY (or exit)
        assert line.startswith("READY http://127.0.0.1:"), f"{script}: no READY line, got {line!r}"
        yield line.split(" ", 1)[1], proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
