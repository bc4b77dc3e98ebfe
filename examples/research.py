# %% [markdown]
# # Research on the kisdb lake
#
# Open the lake read-only, pull frames with `.pl()`, and compute returns, rolling volume and an
# event study around the split of 에코프로 (086520, 1:5 on 2024-04-16 in the simulator's market).
# Run `kisdb demo` first (or any ingest); set KISDB_HOME to the lake's home (the demo uses
# ./.kisdb/demo). Open in Jupyter/VS Code as a notebook (percent format) or run it as a script.

# %%
import os
from datetime import date
from pathlib import Path

import polars as pl

from warehouse import connect

home = Path(os.environ.get("KISDB_HOME", ".kisdb/demo")).expanduser()
con = connect(home)
print(f"lake at {home}")

# %% [markdown]
# ## Daily returns
# `bars_daily` holds adjusted daily bars: a split does not show up as a crash in the returns.

# %%
bars = con.sql("SELECT symbol, date, close, volume FROM bars_daily ORDER BY symbol, date").pl()
returns = bars.with_columns(
    ret=(pl.col("close") / pl.col("close").shift(1) - 1).over("symbol"),
).drop_nulls("ret")
summary = (
    returns.group_by("symbol")
    .agg(
        days=pl.len(),
        mean_daily_pct=(pl.col("ret").mean() * 100).round(3),
        vol_annual_pct=(pl.col("ret").std() * (252**0.5) * 100).round(1),
        total_pct=(((pl.col("ret") + 1).product() - 1) * 100).round(1),
    )
    .sort("total_pct", descending=True)
)
print(summary)

# %% [markdown]
# ## Rolling 20-day volume
# Average shares traded over the last 20 trading days, and today's volume relative to it.

# %%
rolling = bars.with_columns(
    vol_20d=pl.col("volume").rolling_mean(window_size=20).over("symbol"),
).with_columns(rel_volume=(pl.col("volume") / pl.col("vol_20d")).round(2))
latest = (
    rolling.group_by("symbol")
    .agg(pl.all().sort_by("date").last())
    .sort("rel_volume", descending=True)
)
print(latest.select("symbol", "date", "volume", "vol_20d", "rel_volume"))

# %% [markdown]
# ## Event study: the split of 에코프로 (086520)
# Raw prices drop by the split ratio on the event day; adjusted prices do not. Abnormal returns
# are the stock's adjusted return minus the KOSDAQ index return (1001), over ±10 trading days.

# %%
SYMBOL, EVENT = "086520", date(2024, 4, 16)
raw = con.sql(
    "SELECT date, close AS raw_close FROM bars_daily_raw WHERE symbol = ? ORDER BY date",
    params=[SYMBOL],
).pl()
adj = con.sql(
    "SELECT date, close AS adj_close FROM bars_daily WHERE symbol = ? ORDER BY date",
    params=[SYMBOL],
).pl()
index = con.sql(
    "SELECT date, close::DOUBLE AS index_close FROM index_daily WHERE index_code = '1001' ORDER BY date"
).pl()
event = (
    adj.join(raw, on="date", how="inner")
    .join(index, on="date", how="left")
    .sort("date")
    .with_columns(
        stock_ret=pl.col("adj_close") / pl.col("adj_close").shift(1) - 1,
        raw_ret=pl.col("raw_close") / pl.col("raw_close").shift(1) - 1,
        index_ret=pl.col("index_close") / pl.col("index_close").shift(1) - 1,
    )
    .with_columns(abnormal=pl.col("stock_ret") - pl.col("index_ret").fill_null(0.0))
    .with_row_index("i")
)
if event.height and event.filter(pl.col("date") >= EVENT).height:
    t0 = event.filter(pl.col("date") >= EVENT)["i"][0]
    window = event.filter((pl.col("i") >= t0 - 10) & (pl.col("i") <= t0 + 10)).with_columns(
        t=(pl.col("i").cast(pl.Int64) - t0),
        car=pl.col("abnormal").fill_null(0.0).cum_sum(),
    )
    print(
        window.select(
            "t", "date", "raw_close", "adj_close", "raw_ret", "stock_ret", "abnormal", "car"
        )
    )
    on_day = window.filter(pl.col("t") == 0).row(0, named=True)
    print(
        f"event day {on_day['date']}: raw return {on_day['raw_ret']:.1%} (the split), "
        f"adjusted return {on_day['stock_ret']:.1%}"
    )
else:
    print(f"no bars for {SYMBOL} around {EVENT}: ingest bars from 2024 for it first")

# %% [markdown]
# ## VWAP per day from minute bars

# %%
vwap = (
    con.sql("SELECT symbol, date, high, low, close, volume FROM minutes")
    .pl()
    .with_columns(typical=(pl.col("high") + pl.col("low") + pl.col("close")) / 3)
    .group_by("symbol", "date")
    .agg(
        vwap=((pl.col("typical") * pl.col("volume")).sum() / pl.col("volume").sum()).round(1),
        volume=pl.col("volume").sum(),
        bars=pl.len(),
    )
    .sort("symbol", "date")
)
print(vwap)

# %% [markdown]
# ## Foreign and institutional buying vs the next day's return
# `investor_flows` (FHPTJ04160001) holds each investor type's net buying per stock-day; does a day
# of net buying by foreigners or institutions come before a rise? (`kisdb ingest investor-flows`)

# %%
flows = con.sql(
    "SELECT f.symbol, f.date, f.investor, f.net_value, b.close "
    "FROM investor_flows f JOIN bars_daily b USING (symbol, date) "
    "WHERE f.investor IN ('foreign', 'institution') ORDER BY f.symbol, f.investor, f.date"
).pl()
flow_vs_return = (
    flows.with_columns(
        next_ret=(pl.col("close").shift(-1) / pl.col("close") - 1).over("symbol", "investor")
    )
    .drop_nulls("next_ret")
    .group_by("investor")
    .agg(
        days=pl.len(),
        corr=pl.corr("net_value", "next_ret").round(3),
        next_day_up_after_buying=(pl.col("next_ret").filter(pl.col("net_value") > 0) > 0).mean(),
    )
    .sort("investor")
)
print(flow_vs_return if flows.height else "no investor flows yet: kisdb ingest investor-flows")

# %% [markdown]
# ## A valuation screen as of a past date
# `valuation_daily` values each stock-day with the annual EPS/BPS known that day: a screen as of a
# past date uses only what was known then (no look-ahead), e.g. fiscal 2025 only from its filing
# deadline (2026-03-31) on. (`kisdb ingest financials`)

# %%
AS_OF = date(2026, 6, 30)
screen = con.execute(
    "SELECT symbol, date, close, period_end, eps, per, pbr FROM valuation_daily "
    "WHERE date = (SELECT max(date) FROM valuation_daily WHERE date <= ?) ORDER BY per",
    [AS_OF],
).pl()
print(screen if screen.height else "no valuations yet: kisdb ingest financials")
