"""Conformance with the KIS workbook: one test per workbook API the simulator serves, generated from
the workbook (tests/fixtures/kis-spec/workbook.json, extracted by scripts/extract_kis_spec.py),
never from the simulator's own field lists.

For each served REST API, on real and (where the workbook offers it) on paper, the sheet's
example request is sent (account fields set to the simulator's account, order numbers to a live
order; see `adapt`) and the answer must have the example response's top-level keys, output block
names, field names in the example's order, padded widths, the sheet's response header names and
tr_cont rule. Where the example is cut short, what it shows must match; where it was pasted
key-sorted (not KIS's order), names are compared as sets and the order against the sheet's
response table. Websocket records have the sheet's field count, and zero-padded numbers the
sheet's width.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from Crypto.Cipher import AES
from Crypto.Util.Padding import unpad

from simulator.coverage import WorkbookApi, accepted_tr_ids, report, served, workbook_index
from simulator.server import RunningSimulator, SimConfig, start_simulator
from tests.conftest import SIM_NOW
from tests.helpers import Kis, T
from tests.test_sim_ws import approval, ask, sub

SPEC: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "kis-spec" / "workbook.json").read_text("utf-8")
)
SERVED = [api for api in workbook_index() if served(api)]
REST = [api for api in SERVED if api.protocol == "REST" and api.tr_real]
OAUTH = [api for api in SERVED if not api.tr_real]
WS = [api for api in SERVED if api.protocol == "WEBSOCKET" and api.tr_real]
# Standard HTTP headers a response may add to the sheet's list, and KIS's own headers, which the
# simulator sends on every TR API (the order sheets list only content-type; see wire.kis_headers).
EXTRA_HEADERS = {"content-length", "date", "tr_id", "tr_cont", "gt_uid"}
SIM_TODAY = SIM_NOW.strftime("%Y%m%d")


ORDER_TR = {"real": "TTTC0012U", "paper": "VTTC0012U"}  # cash buy


def prepared_simulator(env: str) -> RunningSimulator:
    """A simulator whose account has a holding, a resting order and today's executions, so
    every account inquiry answers rows."""
    # x10: the tape reaches the next print of a registration within a wall second or two.
    config = SimConfig(now=SIM_NOW, env=env, speed=10, rate_limit=0, token_issue_interval=0)
    simulator = start_simulator(config)
    kis = Kis(simulator)
    account = {"CANO": simulator.account.cano, "ACNT_PRDT_CD": simulator.account.prdt}
    quote = kis.get(
        "/uapi/domestic-stock/v1/quotations/inquire-price",
        "FHKST01010100",
        FID_COND_MRKT_DIV_CODE="J",
        FID_INPUT_ISCD="000660",
    ).json()["output"]
    simulator.resting_price = quote["stck_llam"]  # type: ignore[attr-defined]  # rests all day
    market_buy = {"PDNO": "005930", "ORD_DVSN": "01", "ORD_QTY": "10", "ORD_UNPR": "0"}
    resting = {"PDNO": "000660", "ORD_DVSN": "00", "ORD_QTY": "1", "ORD_UNPR": quote["stck_llam"]}
    for body in (market_buy, resting):
        reply = kis.post(T + "order-cash", ORDER_TR[env], {**account, **body}).json()
        assert reply["rt_cd"] == "0", reply
    simulator.resting_odno = reply["output"]["ODNO"]  # type: ignore[attr-defined]
    kis.close()
    return simulator


@pytest.fixture(scope="module")
def world() -> Iterator[Callable[[str], tuple[RunningSimulator, Kis]]]:
    """world(env) -> (prepared simulator, client): one of each per environment for the module."""
    started: dict[str, tuple[RunningSimulator, Kis]] = {}

    def get(env: str) -> tuple[RunningSimulator, Kis]:
        if env not in started:
            simulator = prepared_simulator(env)
            started[env] = (simulator, Kis(simulator))
        return started[env]

    yield get
    for simulator, client in started.values():
        client.close()
        simulator.stop()


def cases(apis: list[WorkbookApi]) -> list[tuple[WorkbookApi, str]]:
    """Each API on real, and on paper where the workbook offers it there."""
    return [(api, "real") for api in apis] + [
        (api, "paper") for api in apis if api.paper and api.tr_paper
    ]


def case_id(case: tuple[WorkbookApi, str]) -> str:
    api, env = case
    return f"{api.sheet}-{tr_ids(api, env)[0]}-{env}"


def tr_ids(api: WorkbookApi, env: str) -> tuple[str, ...]:
    return api.tr_real if env == "real" else api.tr_paper


def adapt(api: WorkbookApi, request: dict[str, str], sim: RunningSimulator) -> dict[str, str]:
    """The sheet's example request with what only the simulator can know filled in: its account
    (CANO/ACNT_PRDT_CD), a live order to modify, today's executions for a day query, a resting
    order's price for a new order (the example's may be outside today's price limits), and
    today for a past-minutes query (the example's day is past the server's one-year retention)."""
    out = dict(request)
    keys = {k.upper(): k for k in out}
    if "CANO" in keys:
        out[keys["CANO"]] = sim.account.cano
        out[keys["ACNT_PRDT_CD"]] = sim.account.prdt
    if "ORGN_ODNO" in keys:
        out[keys["ORGN_ODNO"]] = sim.resting_odno  # type: ignore[attr-defined]
        out[keys["ORD_UNPR"]] = sim.resting_price  # type: ignore[attr-defined]
    for date_key in ("INQR_STRT_DT", "INQR_END_DT"):
        if date_key in keys:
            out[keys[date_key]] = SIM_TODAY
    if api.path.endswith("inquire-time-dailychartprice"):
        out[keys["FID_INPUT_DATE_1"]] = SIM_TODAY
    # Some examples paste one field into another ("AUTH": "EXCD:NAS" on sheet 266, "cts":
    # "f_dt:20230301" on sheet 094): the pasted field gets its value, the carrier is left empty.
    for key, value in list(out.items()):
        pasted = re.fullmatch(r"([A-Za-z_]+[A-Za-z0-9_]*):(.*)", value)
        if pasted:
            out[key], out[pasted[1]] = "", pasted[2]
    if api.path.endswith("ksdinfo/rev-split"):  # a range holding 005930's 2018 split (KOSPI)
        out.update({"f_dt": "20180101", "t_dt": "20241231"})
    if api.path.endswith("order-cash"):
        price = sim.resting_price  # type: ignore[attr-defined]
        out.update({"PDNO": "000660", "ORD_DVSN": "00", "ORD_QTY": "1", "ORD_UNPR": price})
    return out


def buy_tr_id(api: WorkbookApi, env: str) -> str:
    """The TR ID to send: an order sheet lists sell then buy; a buy needs no holding."""
    return tr_ids(api, env)[-1 if api.path.endswith("order-cash") else 0]


def header_names(response: httpx.Response) -> set[str]:
    return {name.lower() for name in response.headers}


def is_key_sorted(names: list[str]) -> bool:
    """The example was pasted from a key-sorted dump, not in KIS's order."""
    return len(names) >= 3 and names == sorted(names)


def assert_same_names(what: str, ours: list[str], example: list[str], table: list[str]) -> None:
    """Our names against the example's. Every name the example shows is there, in the example's
    order (as a set if the example was key-sorted); any other name of ours is one the sheet's
    table documents (past a cut-short example, or added since the example was captured)."""
    shown = set(example)
    documented = {n.lower() for n in table}
    missing = [n for n in example if n not in set(ours)]
    extra = [n for n in ours if n not in shown and n.lower() not in documented]
    assert not missing and not extra, f"{what}: missing {missing}, not in the sheet {extra}"
    if not is_key_sorted(example):
        assert [n for n in ours if n in shown] == example, f"{what}: order {ours}"


def assert_table_order(what: str, ours: list[str], table: list[str]) -> None:
    known = set(table)
    ours_known = [n for n in ours if n in known]
    assert ours_known == [n for n in table if n in set(ours_known)], f"{what}: {ours}"


def block_fields(value: Any) -> list[str] | None:
    """Field names of an output block: the object's keys, or the first row's; None if empty."""
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return list(value[0])
    return None


# Answers with no rows whose fields could be compared (envelopes and blocks still are): the
# simulator's overseas account holds nothing (no overseas orders), and its market has no capital
# reductions, rights or bonus issues (KSD schedules 089, 090, 104).
NO_ROWS_SHEETS = frozenset({"236", "242", "244", "089", "090", "104"})


def assert_body_conforms(sheet: str, body: dict[str, Any]) -> None:
    spec = SPEC[sheet]
    example = spec["example"]
    assert body.get("rt_cd", "0") == "0", body
    assert_same_names(f"{sheet} top-level keys", list(body), example["top"], spec["table_top"])
    ours_blocks = {k for k, v in body.items() if isinstance(v, dict | list)}
    shown_blocks = set(example["blocks"])
    # A block the example does not show (cut short) must be one the sheet's table documents.
    assert shown_blocks <= ours_blocks <= shown_blocks | set(spec["table"]), (
        f"{sheet} output blocks"
    )
    for name in sorted(ours_blocks - shown_blocks):
        ours = block_fields(body[name])
        table = spec["table"][name]
        if ours is not None:
            assert sorted(ours) == sorted(table), f"{sheet} {name}: fields {ours} vs table {table}"
            assert_table_order(f"{sheet} {name} field order", ours, table)
    for name, block in example["blocks"].items():
        ours = block_fields(body[name])
        assert ours is not None or not block["fields"] or sheet in NO_ROWS_SHEETS, (
            f"{sheet} {name}: no rows to compare"
        )
        if ours is None:
            continue
        table = spec["table"].get(name, [])
        assert_same_names(f"{sheet} {name}", ours, block["fields"], table)
        if is_key_sorted(block["fields"]):
            assert_table_order(f"{sheet} {name} field order", ours, table)
        # The table's fields are all sent, but for one a complete real example does not send.
        required = set(block["fields"]) if block["complete"] else set(table)
        unsent = [n for n in table if n not in set(ours) and n in required]
        assert not unsent, f"{sheet} {name}: table fields not sent {unsent}"
        rows = body[name] if isinstance(body[name], list) else [body[name]]
        assert all(list(row) == ours for row in rows), f"{sheet} {name}: rows differ in fields"
        assert all(isinstance(v, str) for row in rows for v in row.values()), f"{sheet} {name}"
    assert_widths(sheet, body)


def assert_widths(sheet: str, body: dict[str, Any]) -> None:
    """Values the example shows padded (CTX cursors, order numbers, codes) have its width
    wherever we send them non-empty."""
    for block, widths in SPEC[sheet]["example"]["widths"].items():
        rows = [body] if not block else body[block]
        for row in rows if isinstance(rows, list) else [rows]:
            for key, width in widths.items():
                value = row.get(key, "")
                assert not value or len(value) == width, f"{sheet} {key}={value!r}: not {width}"


@pytest.mark.parametrize("case", cases(REST), ids=case_id)
def test_rest_answer_has_the_sheet_example_structure(
    case: tuple[WorkbookApi, str], world: Callable[[str], tuple[RunningSimulator, Kis]]
) -> None:
    api, env = case
    sim, kis = world(env)
    spec = SPEC[api.sheet]
    if spec["request_example"] is None or not spec["example"]:
        pytest.skip(f"sheet {api.sheet} has no request/response example to compare with")
    request = adapt(api, spec["request_example"], sim)
    if api.method == "GET":
        response = kis.get(api.path, buy_tr_id(api, env), **request)
    else:
        response = kis.post(api.path, buy_tr_id(api, env), request)
    assert response.status_code == 200, response.text
    assert_body_conforms(api.sheet, response.json())
    # Sheets say either "tr_cont를 이용한 다음조회 불가 API" (no continuation: always "") or
    # F/M more to come, D/E last.
    paging = {"F", "M", "D", "E"} if spec["tr_cont_paging"] else {""}
    assert response.headers["tr_cont"] in paging, api.sheet
    names = header_names(response)
    assert set(spec["response_headers"]) <= names, api.sheet
    assert names - set(spec["response_headers"]) <= EXTRA_HEADERS, api.sheet


def oauth_request(api: WorkbookApi, sim: RunningSimulator) -> dict[str, str]:
    """The sheet's example with the simulator's credentials (and, to revoke, a token of its own)."""
    request = dict(SPEC[api.sheet]["request_example"])
    secrets = {"appkey": sim.app_key, "appsecret": sim.app_secret, "secretkey": sim.app_secret}
    request.update({k: v for k, v in secrets.items() if k in request})
    if "token" in request:
        client = Kis(sim)
        request["token"] = client.token
        client.close()
    return request


@pytest.mark.parametrize("api", OAUTH, ids=lambda api: f"{api.sheet}-{api.path.rsplit('/')[-1]}")
def test_oauth_answer_has_the_sheet_example_keys(api: WorkbookApi) -> None:
    example = SPEC[api.sheet]["example"]
    # A simulator of its own: revoking must not touch the module's token.
    with start_simulator(SimConfig(now=SIM_NOW)) as sim:
        response = httpx.post(sim.base_url + api.path, json=oauth_request(api, sim))
    assert response.status_code == 200, response.text
    assert_same_names(
        api.sheet, list(response.json()), example["top"], SPEC[api.sheet]["table_top"]
    )


def record_frames(
    sim: RunningSimulator, tr_id: str, tr_key: str, trigger: Callable[[], None] | None
) -> tuple[dict[str, Any], list[str]]:
    """(subscribe ack, the first data record) of a registration; notices are decrypted. No
    `trigger`: the ack only (a stream the simulator accepts but never feeds)."""
    key = approval(sim)

    async def scenario() -> tuple[dict[str, Any], list[str]]:
        async with websockets.connect(sim.ws_url) as ws:
            ack_ = await ask(ws, sub(key, tr_id, tr_key))
            if trigger is None:
                return ack_, []
            await asyncio.to_thread(trigger)
            while True:
                frame = await asyncio.wait_for(ws.recv(), 10)
                if not isinstance(frame, str) or frame[0] not in "01" or f"|{tr_id}|" not in frame:
                    continue
                encrypted, _, _, payload = frame.split("|", 3)
                if encrypted == "1":
                    out = ack_["body"]["output"]
                    cipher = AES.new(out["key"].encode(), AES.MODE_CBC, out["iv"].encode())
                    payload = unpad(cipher.decrypt(base64.b64decode(payload)), 16).decode()
                return ack_, payload.split("^")

    return asyncio.run(asyncio.wait_for(scenario(), 30))


@pytest.mark.parametrize("case", cases(WS), ids=case_id)
def test_ws_record_has_the_sheet_layout(
    case: tuple[WorkbookApi, str], world: Callable[[str], tuple[RunningSimulator, Kis]]
) -> None:
    api, env = case
    sim, kis = world(env)
    spec = SPEC[api.sheet]
    tr_id = tr_ids(api, env)[0]
    notice = tr_id in {"H0STCNI0", "H0STCNI9"}

    def trigger() -> None:
        if notice:
            account = {"CANO": sim.account.cano, "ACNT_PRDT_CD": sim.account.prdt}
            price = sim.resting_price  # type: ignore[attr-defined]
            order = {"PDNO": "000660", "ORD_DVSN": "00", "ORD_QTY": "2", "ORD_UNPR": price}
            reply = kis.post(T + "order-cash", ORDER_TR[env], {**account, **order}).json()
            assert reply["rt_cd"] == "0", reply

    # Overseas notices are accepted, but the simulator's overseas account never trades.
    silent = tr_id in {"H0GSCNI0", "H0GSCNI9"}
    tr_key = sim.hts_id if notice or silent else "005930"
    ack_, values = record_frames(sim, tr_id, tr_key, None if silent else trigger)
    assert ack_["body"]["msg_cd"] == "OPSP0000", ack_
    example = spec["example"]
    if example and example["top_complete"]:
        assert list(ack_) == example["top"]
        for name, block in example["blocks"].items():
            assert list(ack_[name]) == block["fields"], f"{api.sheet} ack {name}"
    if silent:
        return
    fields = spec["ws_fields"]
    # A frame carries whole records: with n fields a record, the split has a multiple of n.
    assert len(values) % len(fields) == 0, (len(values), len(fields))
    record = values[: len(fields)]
    for name, width, value in zip(fields, spec["ws_lengths"], record, strict=True):
        # Zero-padded numbers have the column's width; a stock code is 6 wide in a 9 column.
        padded = len(value) > 1 and value.isdigit() and value.startswith("0")
        if padded and width.isdigit() and not name.endswith("ISCD"):
            assert len(value) == int(width), f"{api.sheet} {name}={value!r} is not {width} wide"


def test_coverage_lists_served_apis_per_menu() -> None:
    apis = workbook_index()
    assert len(apis) == len(SPEC) == 338
    text = report(apis)
    assert text.startswith(f"Served: {len(SERVED)} of the workbook's 338 APIs.")
    assert "| OAuth인증 | 3 | 3 |" in text
    assert "| 076 | 국내휴장일조회 | CTCA0903R / not on paper |" in text
    # Every TR ID the simulator answers is the workbook's, or a legacy one the report names.
    listed = {tr for api in apis for tr in api.tr_real + api.tr_paper}
    legacy = text.rsplit("no longer lists): ", 1)[1].split(", ")
    assert accepted_tr_ids() - listed == set(legacy)
