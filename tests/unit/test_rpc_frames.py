"""OCPP-J framing: encode, decode, and what can still be read of a broken frame."""

from __future__ import annotations

import orjson
import pytest

from ocpp_station.rpc import (
    CALL,
    CALLERROR,
    CALLRESULT,
    MAX_DESCRIPTION_LENGTH,
    FormationViolation,
    FrameError,
    decode,
    encode,
    encode_call,
    encode_error,
    encode_result,
)


def test_call_round_trip_is_compact_utf8() -> None:
    payload = {"chargePointVendor": "Vendør", "chargePointModel": "DC-2"}
    data = encode_call("19223201", "BootNotification", payload)
    assert isinstance(data, bytes)
    expected = '[2,"19223201","BootNotification",{"chargePointVendor":"Vendør",'
    assert data == (expected + '"chargePointModel":"DC-2"}]').encode()
    assert decode(data) == [CALL, "19223201", "BootNotification", payload]
    assert decode(data.decode()) == [CALL, "19223201", "BootNotification", payload]


def test_result_round_trip() -> None:
    payload = {"status": "Accepted", "currentTime": "2013-02-01T20:53:32.486Z", "interval": 300}
    data = encode_result("19223201", payload)
    assert decode(data) == [CALLRESULT, "19223201", payload]


def test_error_round_trip() -> None:
    data = encode_error("162376037", "NotSupported", "SendLocalList.req not implemented", {})
    # [JE] 3.9's example, byte for byte
    assert data == b'[4,"162376037","NotSupported","SendLocalList.req not implemented",{}]'
    assert decode(data) == [
        CALLERROR,
        "162376037",
        "NotSupported",
        "SendLocalList.req not implemented",
        {},
    ]


def test_encode_is_the_generic_form() -> None:
    assert encode([CALLRESULT, "1", {}]) == b'[3,"1",{}]'


def test_error_description_is_cut_and_details_always_an_object() -> None:
    frame = orjson.loads(encode_error("1", "InternalError", "x" * 10_000, None))
    assert len(frame[3]) == MAX_DESCRIPTION_LENGTH
    assert frame[3].endswith("...")
    assert frame[4] == {}
    # details that are not JSON must not cost the CALLERROR
    frame = orjson.loads(encode_error("1", "InternalError", "boom", {"bad": {1, 2}}))
    assert frame == [CALLERROR, "1", "InternalError", "boom", {}]


def test_null_payload_reads_as_empty_object() -> None:
    # OCPP-J 1.6 §4.2.1: null and {} both mean "no payload"
    assert decode(b'[2,"a","Heartbeat",null]') == [CALL, "a", "Heartbeat", {}]
    assert decode(b'[3,"a",null]') == [CALLRESULT, "a", {}]


def test_unknown_message_type_is_returned_for_the_caller_to_ignore() -> None:
    assert decode(b'[7,"a","whatever"]') == [7, "a", "whatever"]


def _frame_error(data: bytes | str) -> FrameError:
    with pytest.raises(FrameError) as info:
        decode(data)
    assert isinstance(info.value, FormationViolation)
    assert info.value.code == "FormationViolation"
    return info.value


def test_malformed_json_with_readable_id() -> None:
    err = _frame_error(b'[2, "abc-1", "Heartbeat", {')
    assert (err.message_type_id, err.message_id) == (CALL, "abc-1")


def test_malformed_json_with_escaped_id() -> None:
    err = _frame_error('[2,"a\\"b","Heartbeat",{"x":}]')
    assert (err.message_type_id, err.message_id) == (CALL, 'a"b')


def test_malformed_json_without_readable_id() -> None:
    for data in (b"", b"not json", b"[2, ", b'{"a": 1', b"[2, 17, {"):
        err = _frame_error(data)
        assert err.message_id is None


def test_invalid_utf8_is_malformed_but_id_still_read() -> None:
    err = _frame_error(b'[2,"id-9","DataTransfer",{"vendorId":"\xff\xfe"}]')
    assert (err.message_type_id, err.message_id) == (CALL, "id-9")


@pytest.mark.parametrize(
    ("data", "type_id", "message_id"),
    [
        (b'{"a":1}', None, None),
        (b"[]", None, None),
        (b'"text"', None, None),
        (b'["2","x","Heartbeat",{}]', None, "x"),
        (b'[true,"x","Heartbeat",{}]', None, "x"),
        (b'[2,"x","Heartbeat"]', CALL, "x"),
        (b'[2,"x","Heartbeat",{},{}]', CALL, "x"),
        (b'[2,"x",7,{}]', CALL, "x"),
        (b'[2,"x","Heartbeat",[]]', CALL, "x"),
        (b'[2,"x","Heartbeat","{}"]', CALL, "x"),
        (b'[2,42,"Heartbeat",{}]', CALL, "42"),
        (b'[2,null,"Heartbeat",{}]', CALL, None),
        (b'[3,"x"]', CALLRESULT, "x"),
        (b'[3,"x",[1]]', CALLRESULT, "x"),
        (b'[4,"x","GenericError","d"]', CALLERROR, "x"),
        (b'[4,"x",5,"d",{}]', CALLERROR, "x"),
        (b'[4,"x","GenericError",null,{}]', CALLERROR, "x"),
        (b'[4,"x","GenericError","d",[]]', CALLERROR, "x"),
    ],
)
def test_structure_errors_carry_what_can_be_read(
    data: bytes, type_id: int | None, message_id: str | None
) -> None:
    err = _frame_error(data)
    assert (err.message_type_id, err.message_id) == (type_id, message_id)


def test_call_id_longer_than_36_characters_is_rejected_but_echoable() -> None:
    long_id = "x" * 37
    assert decode(encode_call("y" * 36, "Heartbeat", {}))[1] == "y" * 36
    err = _frame_error(encode_call(long_id, "Heartbeat", {}))
    assert (err.message_type_id, err.message_id) == (CALL, long_id)
    assert "36" in err.description
