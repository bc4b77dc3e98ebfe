"""Sans-I/O websocket protocol: messages, frames, acks, AES, backoff (no socket)."""

from __future__ import annotations

import base64
import json

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
    FrameError,
    PingPong,
    Subscription,
    SubscriptionLimitError,
    classify_ack,
    decrypt_payload,
    notice_tr_id,
    parse_frame,
    subscription_message,
    validate_subscriptions,
)
from tests.helpers import NOTICE_ACK, TRADE

ACK_OK = (
    '{"header": {"tr_id": "H0STCNT0", "tr_key": "005930", "encrypt": "N"}, "body": {"rt_cd": "0", '
    '"msg_cd": "OPSP0000", "msg1": "SUBSCRIBE SUCCESS", "output": {"iv": "0123456789abcdef", '
    '"key": "abcdefghijklmnopabcdefghijklmnop"}}}'
)


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


def test_workbook_trade_frame_parses_to_a_data_message() -> None:
    frame = parse_frame(TRADE)
    assert frame == DataMessage(False, "H0STCNT0", 1, TRADE.split("|", 3)[3])
    payload = TRADE.split("|", 3)[3]
    two = parse_frame(f"0|H0STCNT0|002|{payload}^{payload}")
    assert isinstance(two, DataMessage) and two.count == 2 and two.payload.count("^") == 91


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


def test_encrypted_notice_roundtrip() -> None:
    key, iv = "K" * 16 + "k" * 16, "0123456789abcdef"
    fill = NOTICE_ACK.replace(
        "^005930^0^0^105530^0^1^1^", "^005930^0000000003^000071900^105531^0^2^2^"
    )
    cipher_text = encrypt(fill, key, iv)
    frame = parse_frame(f"1|H0STCNI0|001|{cipher_text}")
    assert isinstance(frame, DataMessage) and frame.encrypted
    plain = decrypt_payload(frame.payload, key, iv)
    assert plain == fill
    with pytest.raises(FrameError, match="cannot decrypt"):
        decrypt_payload(cipher_text, "x" * 32, iv)


def test_reconnect_backoff_grows_to_the_cap_and_gives_up_on_fatal_errors() -> None:
    policy = ReconnectPolicy(base=0.5, cap=4.0, jitter=0.0)
    lost = KisTransportError("connection lost")
    assert [delay_for(lost, n, policy) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = ReconnectPolicy(base=1.0, jitter=0.2)
    assert all(0.8 <= jittered.delay(1) <= 1.0 for _ in range(100))
    refused = KisAuthError("bad key", msg_cd="EGW00103", msg1="", rt_cd="1", status=403)
    assert delay_for(refused, 1, policy) is None
