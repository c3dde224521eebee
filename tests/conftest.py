"""Fixtures shared by the whole suite: stores on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings

from iam_gov.store import Store
from tests.support.postgres import ThrowawayPostgres, external_factory, find_bin_dir

# Property tests judge correctness, not speed: no per-example deadline, which fails under load
# on this 2-core machine (speed lives in benchmarks/).
settings.register_profile("iam-gov", deadline=None)
settings.load_profile("iam-gov")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Callable[[], str]]:
    """Makes a fresh, empty database on the session's PostgreSQL; returns its URL."""
    external = external_factory()
    if external is not None:
        yield external
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = (
            "PostgreSQL server programs not found "
            "(make test installs them: .ci/install-system-packages)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = ThrowawayPostgres(bin_dir)
    server.start()
    try:
        yield server.new_database
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A URL for an empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store')}/iam-gov.db"
    make: Callable[[], str] = request.getfixturevalue("postgres_database")
    return make()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened
