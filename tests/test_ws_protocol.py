"""Sans-I/O websocket protocol: messages, frames, acks, AES, typed records, backoff (no socket)."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad

from connectors.kis.backoff import delay_for
from connectors.kis.errors import KisAuthError, KisTransportError
from connectors.kis.ws_client import ReconnectPolicy
from connectors.kis.ws_protocol import (
    MAX_SUBSCRIPTIONS,
    Ack,
    Control,
    DataMessage,
    ExecutionNotice,
    FrameError,
    PingPong,
    Quote,
    RawRecord,
    Subscription,
    SubscriptionLimitError,
    Trade,
    classify_ack,
    decrypt_payload,
    notice_tr_id,
    parse_frame,
    split_records,
    subscription_message,
    to_records,
    validate_subscriptions,
)

KST = ZoneInfo("Asia/Seoul")
# kis-api.md §8.3, the workbook's H0STCNT0 sample frame.
TRADE = (
    "0|H0STCNT0|001|005930^093354^71900^5^-100^-0.14^72023.83^72100^72400^71700^71900^71800^1^"
    "3052507^219853241700^5105^6937^1832^84.90^1366314^1159996^1^0.39^20.28^090020^5^-200^090820^"
    "5^-500^092619^2^200^20230612^20^N^65945^216924^1118750^2199206^0.05^2424142^125.92^0^^72100"
)
# kis-api.md §8.4, the third-party 26-field notice fixture (an order acknowledgement).
NOTICE_ACK = (
    "HTSUSER^50199202^0000012345^0000000000^02^0^00^0^005930^0^0^105530^0^1^1^00950^3^홍길동^"
    "0^^N^^^^삼성전자^250000"
)
ACK_OK = (
    '{"header": {"tr_id": "H0STCNT0", "tr_key": "005930", "encrypt": "N"}, "body": {"rt_cd": "0", '
    '"msg_cd": "OPSP0000", "msg1": "SUBSCRIBE SUCCESS", "output": {"iv": "0123456789abcdef", '
    '"key": "abcdefghijklmnopabcdefghijklmnop"}}}'
)


def quote_fields(code: str = "005930", hhmmss: str = "093730") -> list[str]:
    asks = [str(72000 + 100 * i) for i in range(10)]
    bids = [str(71900 - 100 * i) for i in range(10)]
    ask_q = [str(1000 + i) for i in range(10)]
    bid_q = [str(2000 + i) for i in range(10)]
    tail = [
        "158171",
        "1159362",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "3",
        "0.00",
        "3159115",
        "0",
        "8",
        "0",
        "0",
        "0",
    ]
    return [code, hhmmss, "0", *asks, *bids, *ask_q, *bid_q, *tail]


def encrypt(text: str, key: str, iv: str) -> str:
    cipher = AES.new(key.encode(), AES.MODE_CBC, iv.encode())
    return base64.b64encode(cipher.encrypt(pad(text.encode(), 16))).decode()


def test_subscription_message_has_the_documented_shape() -> None:
    msg = json.loads(subscription_message("APPROVAL", Subscription("H0STCNT0", "005930")))
    assert msg == {
        "header": {
            "approval_key": "APPROVAL",
            "custtype": "P",
            "tr_type": "1",
            "content-type": "utf-8",
        },
        "body": {"input": {"tr_id": "H0STCNT0", "tr_key": "005930"}},
    }
    off = json.loads(subscription_message("K", Subscription("H0STASP0", "000660"), subscribe=False))
    assert off["header"]["tr_type"] == "2"


def test_notice_tr_follows_the_environment() -> None:
    assert notice_tr_id("real") == "H0STCNI0"
    assert notice_tr_id("paper") == "H0STCNI9"


def test_subscription_limit_refused_before_connecting() -> None:
    ok = [Subscription("H0STCNT0", f"{i:06d}") for i in range(MAX_SUBSCRIPTIONS)]
    assert validate_subscriptions(ok + ok[:3]) == ok  # duplicates do not count twice
    with pytest.raises(SubscriptionLimitError, match="41 per session"):
        validate_subscriptions([*ok, Subscription("H0STASP0", "005930")])


def test_workbook_trade_frame_parses_to_a_typed_trade() -> None:
    frame = parse_frame(TRADE)
    assert frame == DataMessage(False, "H0STCNT0", 1, TRADE.split("|", 3)[3])
    assert frame.text() == TRADE
    (trade,) = to_records(frame, date(2023, 6, 12))
    assert isinstance(trade, Trade)
    assert (trade.symbol, trade.price, trade.qty, trade.change, trade.cum_volume) == (
        "005930",
        71900,
        1,
        -100,
        3052507,
    )
    assert trade.ts_event == datetime(2023, 6, 12, 9, 33, 54, tzinfo=KST)
    assert (trade.vwap, trade.side, trade.session_code, trade.hour_class) == (
        72023.83,
        "1",
        "20",
        "0",
    )


def test_multi_record_frames_are_chunked_by_field_count() -> None:
    payload = TRADE.split("|", 3)[3]
    second = payload.replace("093354^71900", "093355^72000", 1)
    frame = parse_frame(f"0|H0STCNT0|002|{payload}^{second}")
    assert isinstance(frame, DataMessage)
    records = to_records(frame, date(2023, 6, 12))
    assert [r.price for r in records if isinstance(r, Trade)] == [71900, 72000]
    with pytest.raises(FrameError, match="92 fields for 3 records"):
        split_records(DataMessage(False, "H0STCNT0", 3, f"{payload}^{second}"))


def test_quote_records_keep_the_ten_levels_in_order() -> None:
    fields = quote_fields()
    frame = parse_frame("0|H0STASP0|002|" + "^".join(fields + quote_fields("000660", "093731")))
    assert isinstance(frame, DataMessage)
    first, second = to_records(frame, date(2026, 11, 24))
    assert isinstance(first, Quote) and isinstance(second, Quote)
    assert first.ask_px[0] == 72000 and first.ask_px[9] == 72900 and first.bid_px[9] == 71000
    assert first.ask_qty[0] == 1000 and first.bid_qty[9] == 2009 and first.cum_volume == 3159115
    assert second.symbol == "000660" and second.ts_event == datetime(
        2026, 11, 24, 9, 37, 31, tzinfo=KST
    )


def test_ack_keys_and_pingpong() -> None:
    ack = parse_frame(ACK_OK)
    assert isinstance(ack, Ack) and ack.ok and classify_ack(ack) == "subscribed"
    assert (ack.key, ack.iv) == ("abcdefghijklmnopabcdefghijklmnop", "0123456789abcdef")
    assert "key" not in ack.summary() and "iv" not in ack.summary()
    ping = '{"header":{"tr_id":"PINGPONG","datetime":"20261124093000"}}'
    assert parse_frame(ping) == PingPong(ping)
    assert isinstance(parse_frame('{"hello": 1}'), Control)


@pytest.mark.parametrize(
    ("msg_cd", "rt_cd", "msg1", "action"),
    [
        ("OPSP0001", "0", "UNSUBSCRIBE SUCCESS", "unsubscribed"),
        ("OPSP0002", "1", "ALREADY IN SUBSCRIBE", "ignore"),
        ("OPSP0008", "1", "MAX SUBSCRIBE OVER", "fatal"),
        ("OPSP0011", "1", "invalid approval(appkey) : NOT FOUND", "refresh_key"),
        ("OPSP8996", "1", "ALREADY IN USE appkey", "reconnect"),
        ("OPSP8992", "1", "SUBSCRIBE ERROR : invalid tr_key", "drop"),
        ("OPSP9999", "9", "JSON PARSING ERROR : invalid json format", "fatal"),
        ("OPSP4242", "1", "SOMETHING NEW", "drop"),
    ],
)
def test_error_acks_are_classified_once(msg_cd: str, rt_cd: str, msg1: str, action: str) -> None:
    text = json.dumps(
        {
            "header": {"tr_id": "(null)", "tr_key": "005930", "encrypt": "N"},
            "body": {"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1},
        }
    )
    ack = parse_frame(text)
    assert isinstance(ack, Ack) and ack.key is None
    assert classify_ack(ack) == action


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty message"),
        ("hello", "neither a data frame nor JSON"),
        ("0|H0STCNT0|001", "fewer than 4"),
        ("0|H0STCNT0|abc|x", "bad data frame header"),
        ("2|H0STCNT0|001|x", "neither a data frame nor JSON"),
        ("0||001|x", "bad data frame header"),
        ("{not json", "invalid JSON"),
        ("[1, 2]", "neither a data frame nor JSON"),
    ],
)
def test_malformed_messages_raise_frame_error(text: str, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        parse_frame(text)


def test_cut_short_frame_is_refused_when_splitting_records() -> None:
    frame = parse_frame(TRADE[: len(TRADE) // 2])
    assert isinstance(frame, DataMessage)
    with pytest.raises(FrameError, match="fields for 1 records"):
        to_records(frame, date(2023, 6, 12))
    bad_price = parse_frame(TRADE.replace("^71900^5^", "^71,900^5^", 1))
    assert isinstance(bad_price, DataMessage)
    with pytest.raises(FrameError, match="bad value"):
        to_records(bad_price, date(2023, 6, 12))


def test_encrypted_notice_roundtrip_and_typed_fill() -> None:
    key, iv = "K" * 16 + "k" * 16, "0123456789abcdef"
    fill = NOTICE_ACK.replace(
        "^005930^0^0^105530^0^1^1^", "^005930^0000000003^000071900^105531^0^2^2^"
    )
    cipher_text = encrypt(fill, key, iv)
    frame = parse_frame(f"1|H0STCNI0|001|{cipher_text}")
    assert isinstance(frame, DataMessage) and frame.encrypted
    plain = decrypt_payload(frame.payload, key, iv)
    assert plain == fill
    (notice,) = to_records(DataMessage(True, "H0STCNI0", 1, plain), date(2026, 11, 24))
    assert isinstance(notice, ExecutionNotice)
    assert notice.is_fill and (notice.fill_qty, notice.fill_price) == (3, 71900)
    assert (notice.order_qty, notice.order_price, notice.account_tail) == (3, 250000, "02")
    assert notice.ts_event == datetime(2026, 11, 24, 10, 55, 31, tzinfo=KST)
    with pytest.raises(FrameError, match="cannot decrypt"):
        decrypt_payload(cipher_text, "x" * 32, iv)


def test_order_acknowledgement_keeps_fill_fields_empty_and_short_layout_is_tolerated() -> None:
    (ack,) = to_records(DataMessage(False, "H0STCNI9", 1, NOTICE_ACK), date(2026, 11, 24))
    assert isinstance(ack, ExecutionNotice)
    assert not ack.is_fill and ack.fill_qty is None and ack.fill_price is None
    short = "^".join(NOTICE_ACK.split("^")[:23])  # the workbook's older 23-value layout
    (old,) = to_records(DataMessage(False, "H0STCNI0", 1, short), date(2026, 11, 24))
    assert (
        isinstance(old, ExecutionNotice)
        and old.order_price is None
        and old.order_no == "0000012345"
    )


def test_unknown_tr_records_stay_raw() -> None:
    frame = parse_frame("0|H0STXXX0|002|a^b^c^d")
    assert isinstance(frame, DataMessage)
    assert to_records(frame, date(2026, 11, 24)) == [
        RawRecord("H0STXXX0", ("a", "b")),
        RawRecord("H0STXXX0", ("c", "d")),
    ]


def test_reconnect_backoff_grows_to_the_cap_and_gives_up_on_fatal_errors() -> None:
    policy = ReconnectPolicy(base=0.5, cap=4.0, jitter=0.0)
    lost = KisTransportError("connection lost")
    assert [delay_for(lost, n, policy) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = ReconnectPolicy(base=1.0, jitter=0.2)
    assert all(0.8 <= jittered.delay(1) <= 1.0 for _ in range(100))
    refused = KisAuthError("bad key", msg_cd="EGW00103", msg1="", rt_cd="1", status=403)
    assert delay_for(refused, 1, policy) is None
