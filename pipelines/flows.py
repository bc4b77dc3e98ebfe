"""The Prefect flows that prefect.yaml's deployments run: Prefect's own flow objects of the
flows in pipelines/bars.py, minutes.py, ... (which run locally when no Prefect API is configured,
see pipelines/engine.py). A worker imports this module by its file path, as an entrypoint."""

from __future__ import annotations

from pipelines import (
    bars,
    corporate_actions,
    holidays_flow,
    minutes,
    rankings,
    research_datasets,
    securities,
)
from pipelines import update as update_flow

ingest_holidays = holidays_flow.ingest_holidays.prefect
ingest_securities = securities.ingest_securities.prefect
ingest_period_bars = bars.ingest_period_bars.prefect
ingest_index_bars = bars.ingest_index_bars.prefect
ingest_overseas_bars = bars.ingest_overseas_bars.prefect
ingest_minute_bars = minutes.ingest_minute_bars.prefect
ingest_index_minute_bars = minutes.ingest_index_minute_bars.prefect
ingest_overseas_minute_bars = minutes.ingest_overseas_minute_bars.prefect
ingest_rankings = rankings.ingest_rankings.prefect
update = update_flow.update.prefect
ingest_corporate_actions = corporate_actions.ingest_corporate_actions.prefect
ingest_investor_flows = research_datasets.ingest_investor_flows.prefect
ingest_market_investor_flows = research_datasets.ingest_market_investor_flows.prefect
ingest_short_sales = research_datasets.ingest_short_sales.prefect
ingest_credit_balance = research_datasets.ingest_credit_balance.prefect
ingest_program_trades = research_datasets.ingest_program_trades.prefect
ingest_financials = research_datasets.ingest_financials.prefect
ingest_stock_info = research_datasets.ingest_stock_info.prefect
