"""The connection URL ([J] 3.1.1)."""

from __future__ import annotations

import pytest

from ocpp_station.transport.url import build_url, is_secure


def test_identity_is_appended_after_a_slash() -> None:
    assert build_url("ws://cs.example/ocpp", "CP001") == "ws://cs.example/ocpp/CP001"


def test_one_trailing_slash_of_the_endpoint_is_dropped() -> None:
    assert build_url("ws://cs.example/ocpp/", "CP001") == "ws://cs.example/ocpp/CP001"
    assert build_url("ws://cs.example:9000", "CP001") == "ws://cs.example:9000/CP001"


def test_identity_is_percent_encoded() -> None:
    # [J] 3.1.1 example 2
    assert (
        build_url("wss://centralsystem.example.com/ocppj", "RDAM 123")
        == "wss://centralsystem.example.com/ocppj/RDAM%20123"
    )
    # Characters that would change the URL's shape are encoded too.
    assert build_url("ws://h/o", "a/b?c#d") == "ws://h/o/a%2Fb%3Fc%23d"
    assert build_url("ws://h/o", "Zähler") == "ws://h/o/Z%C3%A4hler"


def test_a_query_stays_after_the_identity() -> None:
    assert build_url("ws://h/ocpp?token=abc&x=1", "CP 1") == "ws://h/ocpp/CP%201?token=abc&x=1"
    assert build_url("ws://h/ocpp/?token=abc", "CP1") == "ws://h/ocpp/CP1?token=abc"
    assert build_url("wss://h:9000?k=v", "CP1") == "wss://h:9000/CP1?k=v"
    assert build_url("ws://h/ocpp#part", "CP1") == "ws://h/ocpp/CP1"  # a fragment is never sent


def test_placeholder_takes_the_identity() -> None:
    assert build_url("ws://h/ocpp/{id}/v16", "CP 1") == "ws://h/ocpp/CP%201/v16"
    assert build_url("wss://h/{id}", "X") == "wss://h/X"


@pytest.mark.parametrize("base", ["http://h/ocpp", "https://h/ocpp", "h/ocpp", "ftp://h", ""])
def test_other_schemes_are_refused(base: str) -> None:
    with pytest.raises(ValueError, match="ws:// or wss://"):
        build_url(base, "CP1")


def test_empty_identity_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        build_url("ws://h/ocpp", "")


def test_is_secure() -> None:
    assert is_secure("wss://h/x")
    assert is_secure("WSS://h/x")
    assert not is_secure("ws://h/x")
    with pytest.raises(ValueError):
        is_secure("https://h/x")
