"""Fixtures of the provider contract tests (on top of tests/conftest.py)."""

import httpx
import pytest

from tests.conftest import User, UserFactory
from tests.functional.support import Api


@pytest.fixture
def api(client: httpx.Client) -> Api:
    return Api(client)


@pytest.fixture
def owner(make_user: UserFactory) -> User:
    return make_user()
