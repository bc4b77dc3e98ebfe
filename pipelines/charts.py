"""Charts of lake frames with plotly (imported only when a chart is drawn): the figure behind
`kisdb chart` and `kisdb.chart()` in a notebook."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import plotly.graph_objects as go
    import polars as pl


def candlestick(frame: pl.DataFrame, *, title: str) -> go.Figure:
    """Candlesticks (KRX colours: red up, blue down) over a volume panel, one trading day per
    bar with the gaps of weekends and holidays closed."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    up, down = "#d62728", "#1f5fbf"
    days = [d.isoformat() for d in frame["date"]]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=[0.75, 0.25]
    )
    fig.add_trace(
        go.Candlestick(
            x=days,
            open=frame["open"].to_list(),
            high=frame["high"].to_list(),
            low=frame["low"].to_list(),
            close=frame["close"].to_list(),
            increasing_line_color=up,
            decreasing_line_color=down,
            name="price",
        ),
        row=1,
        col=1,
    )
    rising = (frame["close"] >= frame["open"]).to_list()
    fig.add_trace(
        go.Bar(
            x=days,
            y=frame["volume"].to_list(),
            marker_color=[up if r else down for r in rising],
            name="volume",
        ),
        row=2,
        col=1,
    )
    fig.update_xaxes(type="category", nticks=12)  # trading days only: no weekend gaps
    fig.update_layout(
        title=title,
        xaxis_rangeslider_visible=False,
        showlegend=False,
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    fig.update_yaxes(title_text="KRW", row=1, col=1)
    fig.update_yaxes(title_text="shares", row=2, col=1)
    return fig
