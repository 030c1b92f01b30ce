"""The Store contract on PostgreSQL (skips without a server, fails with FLOWBOX_REQUIRE_SERVICES=1)."""

import pytest

from .conftest import postgres_url
from .contract import StoreContract

pytestmark = pytest.mark.services


class TestPostgresStore(StoreContract):
    database = staticmethod(postgres_url)
