"""The per-IP limit of widget tokens keys on an address a client cannot forge: `avatar-studio dev` (run
here as the real command) ignores X-Forwarded-For unless FORWARDED_ALLOW_IPS declares the proxy."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import User, _free_port
from tests.functional.support import Api, assert_problem
from tests.functional.test_widget_token import SITE

Admin = psycopg.Connection[Any]
ROOT = Path(__file__).resolve().parents[2]
LIMIT = 3


@contextmanager
def dev_server(**env: str) -> Iterator[str]:
    """`avatar-studio dev` on a free port, with the test database and these settings."""
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"}
    environment.update({"WIDGET_TOKENS_PER_IP_PER_MINUTE": str(LIMIT), **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "functions.core.cli", "dev", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "avatar-studio dev did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=15)


@pytest.fixture
def public_id(api: Api, owner: User, admin: Admin) -> str:
    avatar = api.create_avatar(owner, allowed_origins=[SITE])
    admin.execute("delete from private.rate_limits where bucket like 'widget-token:ip:%%'")
    # Fixed one-minute windows: start well inside one, so every request of the test shares it.
    if 60 - time.time() % 60 < 10:
        time.sleep(60 - time.time() % 60 + 0.1)
    public: str = avatar["public_id"]
    return public


def _tokens(base: str, public_id: str, forwarded: list[str]) -> list[httpx.Response]:
    return [
        httpx.post(
            f"{base}/v1/widget/token",
            json={"avatar_public_id": public_id},
            headers={"origin": SITE, "x-forwarded-for": address},
            timeout=10,
        )
        for address in forwarded
    ]


def _buckets(admin: Admin) -> set[str]:
    rows = admin.execute("select bucket from private.rate_limits where bucket like 'widget-token:ip:%%'")
    return {row["bucket"] for row in rows.fetchall()}


def test_dev_ignores_a_forged_forwarded_for_so_the_per_ip_limit_holds(public_id: str, admin: Admin) -> None:
    forged = [f"198.51.100.{n}" for n in range(LIMIT + 1)]
    with dev_server() as base:
        answers = _tokens(base, public_id, forged)
    assert [a.status_code for a in answers[:LIMIT]] == [201] * LIMIT
    assert "from this address" in assert_problem(answers[LIMIT], 429, "rate_limited")["detail"]
    assert _buckets(admin) == {"widget-token:ip:127.0.0.1"}


def test_dev_believes_forwarded_for_from_a_declared_proxy(public_id: str, admin: Admin) -> None:
    forwarded = [f"198.51.100.{n}" for n in range(LIMIT + 1)]
    with dev_server(FORWARDED_ALLOW_IPS="127.0.0.1") as base:
        answers = _tokens(base, public_id, forwarded)
    assert [a.status_code for a in answers] == [201] * (LIMIT + 1)
    assert _buckets(admin) == {f"widget-token:ip:{address}" for address in forwarded}
