"""Extract what the repo needs from the KIS Open API workbook export (kis-spec: index.tsv +
sheets/NNN.tsv) into two committed files, so neither tests nor the simulator need the workbook:

- simulator/data/workbook_index.csv: one row per API (sheet, protocol, menu, name, TR IDs real and
  paper, method, path, response header names): `python -m simulator.coverage` reads it.
- tests/fixtures/kis-spec/workbook.json: per sheet, the example request, the response header
  names, the response table's blocks and fields, the response example's key structure (top-level
  keys, block names, field names in order, whether each was cut short), and the websocket record
  layout (field names in order). tests/test_conformance.py checks the simulator against it.

    python scripts/extract_kis_spec.py /path/to/kis-spec

The response examples are real KIS answers pasted into the workbook, often cut short ("...") or
missing their opening lines; `example_structure` reads their keys without needing valid JSON.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INDEX_OUT = ROOT / "simulator" / "data" / "workbook_index.csv"
SPEC_OUT = ROOT / "tests" / "fixtures" / "kis-spec" / "workbook.json"
TR_ID = re.compile(r"\b[A-Z][A-Z0-9]{6,12}\b")
TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')
ENVELOPE = ("rt_cd", "msg_cd", "msg1")
REQUEST_PAIR = re.compile(r'"(\w+)"\s*:\s*"([^"]*)"')
BARE_PAIR = re.compile(r"^\s*([A-Za-z]\w*)\s*:\s*(\S*)\s*$", re.M)


def tr_ids(cell: str) -> list[str]:
    """TR IDs in an index cell ("(매도) TTTC0011U (매수) TTTC0012U" -> both); none for
    "모의투자 미지원" or an empty cell."""
    return [t for t in TR_ID.findall(cell) if any(c.isdigit() for c in t)]


@dataclass
class Frame:
    kind: str  # "obj" | "arr"
    name: str  # the top-level key this frame belongs to ("" for the top object)
    keys: list[str] = field(default_factory=list)
    record: bool = True  # False: a later array element or a nested value, keys not kept


def example_structure(text: str) -> dict[str, Any] | None:
    """Key structure of a (possibly fragmentary) JSON response example:
    {"top": [keys], "top_complete": bool, "blocks": {name: {"fields": [...], "complete": bool}},
     "widths": {block or "": {key: width}}}.
    A block is an object or an array of objects under a top-level key; an array's first element
    gives its fields. "complete" is False when the text ends (or is cut) before the block closes.
    "widths" holds the length of each padded value (see `padded`) of the top object and of each
    block's first element."""
    tokens = TOKEN.findall(text)
    if not tokens:
        return None
    top: Frame | None = None
    stack: list[Frame] = []
    blocks: dict[str, dict[str, Any]] = {}
    widths: dict[str, dict[str, int]] = {}  # block ("" top) -> key -> width of a padded value
    pending = ""
    if tokens[0] != "{":  # the example's opening lines are missing
        top = Frame("obj", "")
        stack.append(top)
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok.startswith('"') and nxt == ":":
            pending = json.loads(tok)
            if stack and stack[-1].kind == "obj" and stack[-1].record:
                stack[-1].keys.append(pending)
                value = tokens[i + 2] if i + 2 < len(tokens) else ""
                if value.startswith('"') and padded(json.loads(value)) and pending not in ENVELOPE:
                    widths.setdefault(stack[-1].name, {})[pending] = len(json.loads(value))
        elif tok in "{[":
            parent = stack[-1] if stack else None
            if parent is None:
                frame = Frame("obj" if tok == "{" else "arr", "")
                top = top or frame
            elif parent is top:
                frame = Frame("obj" if tok == "{" else "arr", pending)
            elif (
                parent.kind == "arr" and parent.record and tok == "{" and parent.name not in blocks
            ):
                frame = Frame("obj", parent.name)  # first element of a block array
            else:
                frame = Frame("obj" if tok == "{" else "arr", parent.name, record=False)
            if frame.kind == "obj" and frame.record and frame.name and frame is not top:
                blocks[frame.name] = {"fields": frame.keys, "complete": False}
            stack.append(frame)
            pending = ""
        elif tok in "}]" and stack:
            frame = stack.pop()
            if frame.name in blocks and frame.kind == "obj" and frame.record:
                blocks[frame.name]["complete"] = True
    if top is None:
        return None
    for name in top.keys:  # a top-level key whose value is an empty array/object is a block too
        if name not in blocks and _is_container(text, name):
            blocks[name] = {"fields": [], "complete": True}
    return {"top": top.keys, "top_complete": top not in stack, "blocks": blocks, "widths": widths}


def padded(value: str) -> bool:
    """A fixed-width value: space-padded text or a zero-padded number ("0000117057")."""
    return value != value.rstrip() or (len(value) > 1 and value.isdigit() and value[0] == "0")


def _is_container(text: str, key: str) -> bool:
    return re.search('"' + re.escape(key) + r'"\s*:\s*[\[{]', text) is not None


def request_params(text: str) -> dict[str, Any] | None:
    """The example request: JSON where it parses; else its `"NAME": "value"` or `NAME:value`
    lines (the workbook also shows the parameters as a bare list, or a dict missing commas)."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
        return value if isinstance(value, dict) else None
    except ValueError:
        pass
    pairs = REQUEST_PAIR.findall(text) or BARE_PAIR.findall(text)
    return dict(pairs) or None


def parse_sheet(path: Path) -> dict[str, Any]:
    rows = list(csv.reader(path.open(encoding="utf-8"), delimiter="\t"))
    section = ""
    headers: list[str] = []
    tr_cont_note = ""
    table: dict[str, list[str]] = {}
    table_top: list[str] = []
    body_fields: list[str] = []
    body_lengths: list[str] = []
    block = ""
    examples: dict[str, str] = {}
    for r in rows:
        if not r:
            continue
        if r[0].strip():
            section = r[0].strip()
        if section in ("Request Example (Python)", "Response Example"):
            examples[section] = r[1] if len(r) > 1 else ""
            continue
        name = r[1].strip() if len(r) > 1 else ""
        if not name:
            continue
        kind = r[3].strip().lower() if len(r) > 3 else ""
        if section == "Response Header":
            headers.append(name)
            if name == "tr_cont":
                tr_cont_note = r[6] if len(r) > 6 else ""
        elif section == "Response Body":
            body_fields.append(name)
            body_lengths.append(r[5].strip() if len(r) > 5 else "")
            if "object" in kind or "array" in kind:
                block = name
                table[block] = []
                table_top.append(name)
            elif block and name not in ENVELOPE:
                table[block].append(name)
            else:
                table_top.append(name)
    request_example = request_params(examples.get("Request Example (Python)", ""))
    return {
        "response_headers": headers,
        # "tr_cont를 이용한 다음조회 불가 API": no tr_cont continuation; else F/M more, D/E last
        "tr_cont_paging": bool(tr_cont_note) and "불가" not in tr_cont_note,
        "request_example": request_example,
        "table_top": table_top,
        "table": table,
        "body_fields": body_fields,
        "body_lengths": body_lengths,
        "example": example_structure(examples.get("Response Example", "")),
    }


def main(spec: Path) -> None:
    with (spec / "index.tsv").open(encoding="utf-8") as f:
        index = list(csv.DictReader(f, delimiter="\t"))
    sheets: dict[str, Any] = {}
    index_rows = []
    for row in index:
        sheet = row["sheet_file"].removesuffix(".tsv")
        data = parse_sheet(spec / "sheets" / row["sheet_file"])
        real, paper = tr_ids(row["실전 TR_ID"]), tr_ids(row["모의 TR_ID"])
        protocol = row["API 통신방식"].strip()
        entry = {
            "protocol": protocol,
            "menu": row["메뉴 위치"].strip(),
            "name": row["API 명"].strip(),
            "method": row["HTTP Method"].strip(),
            "path": row["URL 명"].strip(),
            "tr_real": real,
            "tr_paper": paper,
            **data,
        }
        if protocol == "WEBSOCKET":  # records are the body table's fields, '^'-joined
            entry["ws_fields"] = data["body_fields"]
            entry["ws_lengths"] = data["body_lengths"]
        del entry["body_fields"], entry["body_lengths"]
        sheets[sheet] = entry
        index_rows.append(
            {
                "sheet": sheet,
                "protocol": protocol,
                "menu": entry["menu"],
                "name": entry["name"],
                "tr_real": " ".join(real),
                "tr_paper": " ".join(paper),
                "paper": "N" if "미지원" in row["모의 TR_ID"] + row["모의 Domain"] else "Y",
                "method": entry["method"],
                "path": entry["path"],
                "response_headers": " ".join(data["response_headers"]),
            }
        )
    INDEX_OUT.parent.mkdir(parents=True, exist_ok=True)
    with INDEX_OUT.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(index_rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(index_rows)
    SPEC_OUT.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in sheets.items()]
    SPEC_OUT.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")  # a sheet a line
    print(f"{len(index_rows)} APIs -> {INDEX_OUT.relative_to(ROOT)}, {SPEC_OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/extract_kis_spec.py KIS_SPEC_DIR")
    main(Path(sys.argv[1]))
