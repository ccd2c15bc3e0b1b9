"""`handover app [host=127.0.0.1] [port=8765] [study=<folder>] [output_dir=outputs/app]`.

Starts the browser app (a Solara server running `experiments.app.page`) and prints its
URL once the server answers. It binds to the loopback interface by default, so only this
machine can reach it; `host=0.0.0.0` makes it reachable from the network (anyone who can
reach the port can then start simulations: use it on trusted networks only).
`port=0` picks a free port. Stop with Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

from experiments.config import ConfigError

DEFAULTS = {"host": "127.0.0.1", "port": "8765", "study": "", "output_dir": "outputs/app"}
#: seconds to wait for the server to answer before giving up
START_TIMEOUT = 120.0


def parse(overrides: Sequence[str]) -> dict[str, str]:
    """The app's settings from `key=value` arguments.

    Raises:
        ConfigError: unknown key, malformed argument, invalid port or missing study folder.
    """
    settings = dict(DEFAULTS)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in DEFAULTS:
            raise ConfigError(f"app: '{item}' is not a setting; allowed: "
                              + ", ".join(f"{k}=<value>" for k in DEFAULTS))
        settings[key] = value
    try:
        port = int(settings["port"])
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"port: '{settings['port']}' is not a port; allowed: 0..65535 "
                          "(0 = any free port)")
    if settings["study"] and not Path(settings["study"]).is_dir():
        raise ConfigError(f"study: '{settings['study']}' is not a folder")
    return settings


def free_port(host: str) -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def server_command(host: str, port: int) -> list[str]:
    """The command that serves the page (Solara's own server, production mode)."""
    return [sys.executable, "-m", "solara", "run", "experiments.app.page", "--host", host,
            "--port", str(port), "--production", "--no-open", "--no-check-version",
            "--log-level", "warning"]


def url_of(host: str, port: int) -> str:
    """The address to open in a browser (0.0.0.0 / :: are reached through localhost)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}/"


def answers(url: str) -> bool:
    """True when the server at `url` answers an HTTP request with status 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own server
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(settings: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start the server in a child process and wait until it answers.

    Returns:
        (the server process, its URL).

    Raises:
        RuntimeError: the server exited or did not answer within START_TIMEOUT seconds.
    """
    from experiments.app.core import wait_for

    host = settings["host"]
    port = int(settings["port"]) or free_port(host)
    env = dict(
        os.environ,
        HANDOVER_APP_OUTPUTS=str(Path(settings["output_dir"]).resolve()),
        HANDOVER_APP_STUDY=str(Path(settings["study"]).resolve()) if settings["study"] else "",
        # no usage statistics sent to Solara's makers; no cookie warning on plain http
        SOLARA_TELEMETRY_MIXPANEL_ENABLE="False",
        PYTHONWARNINGS="ignore:Cookies with samesite",
    )
    proc = subprocess.Popen(server_command(host, port), env=env)
    url = url_of(host, port)
    if not wait_for(lambda: proc.poll() is not None or answers(url), START_TIMEOUT):
        proc.terminate()
        raise RuntimeError(f"the app did not answer at {url} within {START_TIMEOUT:g} s")
    if proc.poll() is not None:
        raise RuntimeError(f"the app server exited with status {proc.returncode}")
    return proc, url


def main(overrides: list[str]) -> int:
    """Entry point of `handover app`: serve until Ctrl-C; 0 on a clean stop."""
    settings = parse(overrides)
    try:
        proc, url = start(settings)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"handover app: {url}  (bound to {settings['host']}; Ctrl-C to stop)", flush=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0
