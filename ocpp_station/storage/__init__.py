"""Persistent state: SQLite, one file per station."""

from ocpp_station.storage.store import StationStore, StoreError, normalize_id_tag

__all__ = ["StationStore", "StoreError", "normalize_id_tag"]
