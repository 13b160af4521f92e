"""The incidents table client every deciding/reporting function builds the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.dal.clients import make_client
from trailwarden.dal.incidents import IncidentStore
from trailwarden.models.settings import StoreSettings

if TYPE_CHECKING:
    from collections.abc import Mapping


def build_incident_store(env: Mapping[str, str]) -> IncidentStore:
    settings = StoreSettings.from_env(env)
    return IncidentStore(
        make_client("dynamodb"),
        settings.incidents_table,
        dedupe_ttl_seconds=settings.dedupe_ttl_seconds,
    )
