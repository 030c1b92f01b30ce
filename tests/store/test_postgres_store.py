"""The Store contract on PostgreSQL (skips without a server, fails with FLOWBOX_REQUIRE_SERVICES=1)."""

import pytest

from .conftest import postgres_at
from .contract import StoreContract

pytestmark = pytest.mark.services


class TestPostgresStore(StoreContract):
    open_backend = staticmethod(postgres_at)
