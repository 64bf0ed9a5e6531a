from collections.abc import Iterator

import pytest

from tests.db.rls import Admin, World, arrange_world, remove_world


@pytest.fixture
def world(admin: Admin) -> Iterator[World]:
    """Rows arranged as superuser for one test; every actor's statements run in rolled-back transactions."""
    arranged = arrange_world(admin)
    yield arranged
    remove_world(admin, arranged)
