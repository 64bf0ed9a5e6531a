"""Shared fixtures: one embedded Postgres for the run, the app over real HTTP, users and tokens, and the
HTTP helpers of the functional and provider tests."""

import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
import uvicorn
from psycopg.rows import dict_row

from functions.core.settings import get_settings, settings_env_names

if TYPE_CHECKING:
    from tests.functional.support import Api

_DATA_DIR = Path(tempfile.mkdtemp(prefix="avatar-studio-tests-"))
# A scratch Postgres with pgvector to test against instead of the embedded one (on a CPU its pgvector
# cannot run on); never a database whose rows matter: the tests write and delete their own.
_TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
for _name in settings_env_names():
    os.environ.pop(_name, None)
# Every browser and client of the suite is 127.0.0.1: many visitors behind one address, so the per-address
# widget token limit (10 a minute by default) would refuse a later test's visitor depending on where the
# minute boundaries fall. The limit itself is tested with its own settings (test_widget_token.py,
# test_client_ip.py).
os.environ.update(
    {
        "APP_MODE": "local",
        "DATA_DIR": str(_DATA_DIR),
        "SESSION_IDLE_SECONDS": "300",
        "WIDGET_TOKENS_PER_IP_PER_MINUTE": "10000",
    }
)

from functions.core.auth.tokens import sign_local_token  # noqa: E402
from functions.core.db.embedded import start_embedded_postgres  # noqa: E402
from functions.core.db.migrate import prepare_database  # noqa: E402


@pytest.fixture(scope="session")
def database_url() -> str:
    """The embedded Postgres with the local bootstrap and every migration applied."""
    url = _TEST_DATABASE_URL or start_embedded_postgres(_DATA_DIR)
    prepare_database(url)
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    return url


@pytest.fixture
def admin(database_url: str) -> Iterator[psycopg.Connection[dict[str, object]]]:
    """A superuser connection in autocommit, for arranging and checking rows behind the API's back."""
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_user(database_url: str) -> "UserFactory":
    return UserFactory(database_url)


class UserFactory:
    def __init__(self, database_url: str) -> None:
        self._url = database_url

    def __call__(self, email: str | None = None) -> User:
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.test"
        with psycopg.connect(self._url, autocommit=True) as conn:
            row = conn.execute("insert into auth.users (email) values (%s) returning id", (email,)).fetchone()
        assert row is not None
        secret = get_settings().hs256_secret()
        assert secret is not None
        return User(id=row[0], email=email, token=sign_local_token(secret, row[0], email))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """`app` served by uvicorn on a real port in a thread of its own; yields its base URL."""
    port = _free_port()
    # The test client stands for a proxy the deployment declared (FORWARDED_ALLOW_IPS=127.0.0.1), so a
    # widget test can give itself a client address of its own with X-Forwarded-For.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def base_url(database_url: str) -> Iterator[str]:
    """The local app (every router, the local provider) served by uvicorn on a real port."""
    from functions.core.local import create_local_app

    with serve_app(create_local_app()) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        yield http


@pytest.fixture
def api(client: httpx.Client) -> "Api":
    from tests.functional.support import Api

    return Api(client)


@pytest.fixture
def owner(make_user: UserFactory) -> User:
    return make_user()


@pytest.fixture
def stranger(make_user: UserFactory) -> User:
    return make_user()
