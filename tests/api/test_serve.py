"""`custmdm serve`: a real uvicorn process answering HTTP on a port, with the admin
token it prints, and its docs pages served without a CDN."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CLI = "import sys; from custmdm.cli.main import app; sys.argv[0] = 'custmdm'; app()"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}
                                     if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_serve_answers_over_http_with_the_printed_token_and_password(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    env = {**os.environ, "CUSTMDM_KEY_FILE": str(tmp_path / "keys.json")}
    env.pop("CUSTMDM_ADMIN_TOKEN", None)
    env.pop("CUSTMDM_ADMIN_PASSWORD", None)
    run = [sys.executable, "-c", CLI, "--db", url, "--actor", "admin"]
    subprocess.run([*run, "init"], check=True, capture_output=True, env=env)
    subprocess.run([*run, "rule", "add", "std", "--pattern", "C{seq:6}"], check=True,
                   capture_output=True, env=env)
    port = free_port()
    server = subprocess.Popen([*run, "serve", "--port", str(port), "--admin-token",
                               "--admin-password"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env)
    try:
        assert server.stdout is not None
        lines = []
        while not any(line.startswith("browser login") for line in lines):
            line = server.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        token = next(line.strip() for line in lines if line.strip().startswith("cmdm_"))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(f"{base}/customers", token)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.1)
        assert status == 200 and json.loads(body) == {"data": [], "count": 0}
        assert get(f"{base}/customers")[0] == 401
        status, page = get(f"{base}/docs")
        assert status == 200 and b"cdn" not in page.lower()
        assert get(f"{base}/static-offline-docs/swagger-ui-bundle.js")[0] == 200
        login = next(line for line in lines if line.startswith("browser login"))
        user, _, password = login.split(": ", 1)[1].split(" (")[0].partition(" / ")
        request = urllib.request.Request(
            f"{base}/session", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"user": user, "password": password}).encode())
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201 and "custmdm_session=" in response.headers[
                "Set-Cookie"]
    finally:
        server.terminate()
        server.wait(timeout=30)
