"""Which of the KIS workbook's APIs the simulator serves: `python -m simulator.coverage`.

The workbook's API list ships with the package (simulator/data/workbook_index.csv, extracted from
the workbook by scripts/extract_kis_spec.py). A REST API is served when its path is routed and at
least one of its real TR IDs is accepted there (an OAuth API, which has no TR ID, when its path
is answered); a websocket API when its real TR ID can be registered.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from dataclasses import dataclass
from importlib import resources

from simulator.rest import OAUTH, ROUTES
from simulator.ws import BOOK_TR, NOTICE_TR, OVERSEAS_NOTICE_TR, TRADE_TR

WS_TR_IDS = frozenset({TRADE_TR, BOOK_TR, *NOTICE_TR.values(), *OVERSEAS_NOTICE_TR.values()})


@dataclass(frozen=True)
class WorkbookApi:
    sheet: str  # NNN: the workbook sheet (kis-spec sheets/NNN.tsv)
    protocol: str  # REST | WEBSOCKET
    menu: str
    name: str
    tr_real: tuple[str, ...]
    tr_paper: tuple[str, ...]
    paper: bool  # offered on paper at all
    method: str
    path: str
    response_headers: tuple[str, ...]


def workbook_index() -> list[WorkbookApi]:
    text = resources.files("simulator").joinpath("data/workbook_index.csv").read_text("utf-8")
    return [
        WorkbookApi(
            sheet=row["sheet"],
            protocol=row["protocol"],
            menu=row["menu"],
            name=row["name"],
            tr_real=tuple(row["tr_real"].split()),
            tr_paper=tuple(row["tr_paper"].split()),
            paper=row["paper"] == "Y",
            method=row["method"],
            path=row["path"],
            response_headers=tuple(row["response_headers"].split()),
        )
        for row in csv.DictReader(io.StringIO(text))
    ]


def served(api: WorkbookApi) -> bool:
    if api.protocol == "WEBSOCKET":
        return bool(WS_TR_IDS & set(api.tr_real)) or api.path in OAUTH
    if not api.tr_real:
        return api.path in OAUTH
    route = ROUTES.get(api.path)
    return route is not None and bool(route.real & set(api.tr_real))


def report(apis: list[WorkbookApi]) -> str:
    """Served APIs per menu, then the served list (sheet, TR IDs, path), as Markdown."""
    total = Counter(api.menu for api in apis)
    hits = [api for api in apis if served(api)]
    ok = Counter(api.menu for api in hits)
    lines = [
        f"Served: {len(hits)} of the workbook's {len(apis)} APIs.",
        "",
        "| menu | served | APIs |",
        "|---|---:|---:|",
    ]
    lines += [f"| {menu} | {ok[menu]} | {n} |" for menu, n in total.items()]
    lines += ["", "| sheet | API | TR ID (real / paper) | path |", "|---|---|---|---|"]
    for api in hits:
        trs = " ".join(api.tr_real) or "—"
        paper = " ".join(api.tr_paper) if api.paper else "not on paper"
        lines.append(f"| {api.sheet} | {api.name} | {trs} / {paper or '—'} | `{api.path}` |")
    legacy = sorted(accepted_tr_ids() - {tr for api in apis for tr in api.tr_real + api.tr_paper})
    if legacy:
        lines += ["", "Also accepted (TR IDs the workbook no longer lists): " + ", ".join(legacy)]
    return "\n".join(lines)


def accepted_tr_ids() -> set[str]:
    """Every TR ID the simulator answers, REST (real and paper) and websocket."""
    rest = {tr for route in ROUTES.values() for tr in route.real | (route.paper or frozenset())}
    return rest | WS_TR_IDS


def main() -> None:
    sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]  # Windows consoles
    print(report(workbook_index()))


if __name__ == "__main__":
    main()
