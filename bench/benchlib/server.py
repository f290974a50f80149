"""Processes a benchmark runs beside itself: gunicorn serving the real WSGI app on a free port, management
commands, each in its own session so that stopping it stops its children."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .scratch import BENCH_ENV

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database_url: str, **extra: str) -> dict:
    """The environment of a served process: the bench database, throwaway keys unless set, no HTTPS redirect."""
    return {**os.environ, **{k: os.environ.get(k, v) for k, v in BENCH_ENV.items()}, "DATABASE_URL": database_url,
            "ALLOWED_HOSTS": "127.0.0.1", "YIYANG_HTTPS": "0", "DEBUG": "0", "LOG_LEVEL": "WARNING",
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}", **extra}


def start_gunicorn(database_url: str, workers: int, *, app: str = "yiyang.wsgi:application", threads: int = 1,
                   env: dict | None = None) -> tuple[subprocess.Popen, int]:
    """gunicorn on a free port of 127.0.0.1, once it accepts connections."""
    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen([gunicorn, app, "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}",
                             "--log-level", "warning"], cwd=ROOT, env=env or server_env(database_url),
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit("gunicorn did not start")


def stop(proc: subprocess.Popen | None, sig=signal.SIGTERM) -> None:
    """Stop a process started here and its children (SIGKILL after 20 s)."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
