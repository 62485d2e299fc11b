"""Plotly figures of the console, built in Python and drawn in the browser by the bundled plotly.js.

Each function returns the figure as JSON text (``Figure.to_json()``); the page puts it in a ``data-figure``
attribute and ``static/console.js`` draws it, so no page carries inline script. Figures use the empty
``"none"`` template (small payloads) and a fixed height, and never reference anything outside the service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#6e7781")


def _figure(data: list, height: int = 320, **layout: Any) -> str:
    import plotly.graph_objects as go

    base: dict[str, Any] = {"template": "none", "height": height, "margin": {"l": 56, "r": 16, "t": 32, "b": 40},
                            "font": {"family": "system-ui, sans-serif", "size": 12},
                            "legend": {"orientation": "h", "y": -0.2}}
    base.update(layout)
    if isinstance(base.get("title"), dict):  # left, clear of the mode bar on the right
        base["title"] = {"x": 0, "xanchor": "left", "font": {"size": 14}, **base["title"]}
    return go.Figure(data=data, layout=base).to_json()


def sparkline(x: Sequence, y: Sequence, colour: str = PALETTE[0]) -> str:
    """A tiny line without axes for a KPI tile."""
    import plotly.graph_objects as go

    return _figure([go.Scatter(x=list(x), y=list(y), mode="lines", line={"color": colour, "width": 2},
                               hoverinfo="x+y")],
                   height=60, margin={"l": 0, "r": 0, "t": 4, "b": 4}, showlegend=False,
                   xaxis={"visible": False}, yaxis={"visible": False})


def segment_bars(segments: Sequence[str], sizes: Sequence[int], values: Sequence[float]) -> str:
    """Customers per segment (bars) and their total predicted value (second axis)."""
    import plotly.graph_objects as go

    return _figure([go.Bar(x=list(segments), y=list(sizes), name="customers", marker={"color": PALETTE[0]}),
                    go.Scatter(x=list(segments), y=list(values), name="predicted 90-day value", yaxis="y2",
                               mode="markers+lines", marker={"color": PALETTE[3], "size": 9})],
                   title={"text": "Segments: size and predicted value"},
                   yaxis={"title": {"text": "customers"}},
                   yaxis2={"title": {"text": "value"}, "overlaying": "y", "side": "right"})


def cohort_heatmap(cohorts: Sequence[Mapping[str, Any]]) -> str:
    """Monthly acquisition cohorts (rows) by months since acquisition (columns), coloured by retention."""
    import plotly.graph_objects as go

    names = sorted({str(c["cohort"]) for c in cohorts})
    months = sorted({int(c["months_since"]) for c in cohorts})
    grid: list[list[float | None]] = [[None] * len(months) for _ in names]
    row, col = {n: i for i, n in enumerate(names)}, {m: j for j, m in enumerate(months)}
    for c in cohorts:
        grid[row[str(c["cohort"])]][col[int(c["months_since"])]] = c["retention"]
    text = [["" if v is None else f"{v:.0%}" for v in r] for r in grid]
    return _figure([go.Heatmap(z=grid, x=months, y=names, text=text, texttemplate="%{text}", colorscale="Blues",
                               zmin=0, zmax=max(0.01, max((v for r in grid[:] for v in r[1:] if v is not None),
                                                         default=0.5)),
                               colorbar={"title": {"text": "retained"}})],
                   height=60 + 26 * len(names), title={"text": "Cohort retention (share buying in each month)"},
                   xaxis={"title": {"text": "months since first order"}, "dtick": 1},
                   yaxis={"autorange": "reversed", "type": "category"})


def forest_plot(rows: Sequence[Mapping[str, Any]]) -> str:
    """Relative lift (or absolute when no relative interval exists) with its interval, per metric and arm."""
    import plotly.graph_objects as go

    labels, mid, low, high, colours = [], [], [], [], []
    for r in rows:
        labels.append(f"{r['metric']} · {r['arm']}")
        mid.append(r["lift"])
        low.append(r["lift"] - r["lower"] if r["lower"] is not None else 0)
        high.append(r["upper"] - r["lift"] if r["upper"] is not None else 0)
        colours.append({"win": PALETTE[2], "loss": PALETTE[1], "failed": PALETTE[1],
                        "held": PALETTE[2]}.get(r["status"], PALETTE[7]))
    return _figure([go.Scatter(x=mid, y=labels, mode="markers", marker={"color": colours, "size": 10},
                               error_x={"type": "data", "symmetric": False, "array": high, "arrayminus": low,
                                        "thickness": 2}, showlegend=False)],
                   height=90 + 36 * len(labels), title={"text": "Lift vs control with its interval"},
                   xaxis={"zeroline": True, "zerolinecolor": "#444", "tickformat": ".1%", "title": {"text": "lift"}},
                   yaxis={"autorange": "reversed", "type": "category", "automargin": True})


def sequential_chart(periods: Sequence[str], lift: Sequence[float], lower: Sequence[float],
                     upper: Sequence[float], metric: str) -> str:
    """The effect after each look with its always-valid interval."""
    import plotly.graph_objects as go

    x = list(periods)
    return _figure([go.Scatter(x=x, y=list(upper), mode="lines", line={"width": 0}, showlegend=False,
                               hoverinfo="skip"),
                    go.Scatter(x=x, y=list(lower), mode="lines", fill="tonexty", line={"width": 0},
                               fillcolor="rgba(31,111,235,0.2)", name="always-valid interval"),
                    go.Scatter(x=x, y=list(lift), mode="lines+markers", name=f"{metric}: absolute lift",
                               line={"color": PALETTE[0]})],
                   title={"text": f"Sequential monitor: {metric}"}, yaxis={"zeroline": True, "zerolinecolor": "#444"})


def demand_bands(history_x: Sequence, history_y: Sequence, x: Sequence, p10: Sequence, p50: Sequence,
                 p90: Sequence, title: str) -> str:
    """Units sold per period, then the forecast's p10-p90 band and its median."""
    import plotly.graph_objects as go

    return _figure([go.Scatter(x=list(history_x), y=list(history_y), mode="lines", name="units sold",
                               line={"color": "#444"}),
                    go.Scatter(x=list(x), y=list(p90), mode="lines", line={"width": 0}, showlegend=False,
                               hoverinfo="skip"),
                    go.Scatter(x=list(x), y=list(p10), mode="lines", fill="tonexty", line={"width": 0},
                               fillcolor="rgba(31,111,235,0.25)", name="p10-p90"),
                    go.Scatter(x=list(x), y=list(p50), mode="lines+markers", name="p50",
                               line={"color": PALETTE[0]})],
                   title={"text": title}, yaxis={"title": {"text": "units"}, "rangemode": "tozero"})


def routes_plot(depots: Mapping[str, tuple[float, float]], stops: Mapping[str, tuple[float, float]],
                routes: Sequence[Mapping[str, Any]], unserved: Sequence[str], geographic: bool) -> str:
    """Each route as a line through its stops' coordinates (no map tiles), depots as squares."""
    import plotly.graph_objects as go

    data = []
    for i, route in enumerate(routes):
        path = [route["start_depot"], *[v["stop_id"] for v in route["visits"]], route["end_depot"]]
        found = [depots.get(p) or stops.get(p) for p in path]
        points = [p for p in found if p is not None]
        data.append(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                               name=str(route["vehicle_id"]), text=path, hoverinfo="text+name",
                               line={"color": PALETTE[i % len(PALETTE)], "width": 2}))
    if unserved:
        pts = [(s, stops[s]) for s in unserved if s in stops]
        data.append(go.Scatter(x=[p[1][0] for p in pts], y=[p[1][1] for p in pts], mode="markers", name="unserved",
                               text=[p[0] for p in pts], marker={"symbol": "x", "size": 11, "color": PALETTE[1]}))
    data.append(go.Scatter(x=[p[0] for p in depots.values()], y=[p[1] for p in depots.values()], mode="markers",
                           name="depot", text=list(depots), marker={"symbol": "square", "size": 13, "color": "#111"}))
    axes = ("longitude", "latitude") if geographic else ("x", "y")
    return _figure(data, height=480, title={"text": "Routes on the stops' coordinates"},
                   xaxis={"title": {"text": axes[0]}}, yaxis={"title": {"text": axes[1]}, "scaleanchor": "x"})


def flows_plot(sites: Mapping[str, tuple[float, float]], flows: Sequence[tuple[str, str, float]],
               warehouses: Sequence[str]) -> str:
    """Shipments from warehouses to regions as lines whose width grows with the quantity."""
    import plotly.graph_objects as go

    top = max((q for *_, q in flows), default=1) or 1
    data = []
    for source, target, qty in flows:
        a, b = sites.get(source), sites.get(target)
        if a is None or b is None:
            continue
        data.append(go.Scatter(x=[a[1], b[1]], y=[a[0], b[0]], mode="lines", showlegend=False,
                               line={"width": 1 + 7 * qty / top, "color": "rgba(31,111,235,0.6)"},
                               hoverinfo="text", text=f"{source} → {target}: {qty:,.0f}"))
    for kind, names, symbol in (("warehouse", warehouses, "square"),
                                ("region", [s for s in sites if s not in set(warehouses)], "circle")):
        data.append(go.Scatter(x=[sites[n][1] for n in names], y=[sites[n][0] for n in names], name=kind,
                               mode="markers+text", text=list(names), textposition="top center",
                               marker={"symbol": symbol, "size": 12}))
    return _figure(data, height=420, title={"text": "Allocation flows (warehouse → region)"},
                   xaxis={"title": {"text": "longitude"}}, yaxis={"title": {"text": "latitude"}, "scaleanchor": "x"})


def versions_plot(model: str, versions: Sequence[str], metrics: Mapping[str, Sequence[float | None]]) -> str:
    """A model's numeric evaluation tags per registered version."""
    import plotly.graph_objects as go

    data = [go.Scatter(x=[f"v{v}" for v in versions], y=list(values), mode="lines+markers", name=name)
            for name, values in metrics.items()]
    return _figure(data, height=260, title={"text": f"{model}: evaluation by version"},
                   xaxis={"type": "category"})


def calibration_over_time(cohorts: Sequence[Mapping[str, Any]]) -> str:
    """ROC-AUC and ECE of the judged churn cohorts by scoring date, one line per model version."""
    import plotly.graph_objects as go

    data = []
    for i, version in enumerate(sorted({str(c["model_version"]) for c in cohorts})):
        mine = [c for c in cohorts if str(c["model_version"]) == version]
        colour = PALETTE[i % len(PALETTE)]
        data.append(go.Scatter(x=[c["scored_at"] for c in mine], y=[c["roc_auc"] for c in mine], mode="lines+markers",
                               name=f"ROC-AUC {version}", line={"color": colour}))
        data.append(go.Scatter(x=[c["scored_at"] for c in mine], y=[c["ece"] for c in mine], mode="lines+markers",
                               name=f"ECE {version}", line={"color": colour, "dash": "dot"}, yaxis="y2"))
    return _figure(data, height=300, title={"text": "churn outcomes by scoring date"},
                   yaxis={"title": {"text": "ROC-AUC"}}, yaxis2={"title": {"text": "ECE"}, "overlaying": "y",
                                                                 "side": "right", "rangemode": "tozero"})


def drift_over_time(dates: Sequence[str], psi: Mapping[str, Sequence[float | None]]) -> str:
    """PSI of each model output per monitor run, with the 0.1 and 0.25 thresholds."""
    import plotly.graph_objects as go

    data = [go.Scatter(x=list(dates), y=list(values), mode="lines+markers", name=name,
                       line={"color": PALETTE[i % len(PALETTE)]}) for i, (name, values) in enumerate(psi.items())]
    shapes = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": level, "y1": level,
               "line": {"color": "#6e7781", "dash": "dot", "width": 1}} for level in (0.1, 0.25)]
    return _figure(data, height=260, title={"text": "drift of the model outputs (PSI) by monitor run"},
                   shapes=shapes, yaxis={"rangemode": "tozero"}, xaxis={"type": "category"})


def segments_over_time(dates: Sequence[str], sizes: Mapping[str, Sequence[int]],
                       values: Mapping[str, Sequence[float]]) -> str:
    """Customers per segment by scoring date (lines) and their predicted value (dotted, second axis)."""
    import plotly.graph_objects as go

    data = []
    for i, segment in enumerate(sizes):
        colour = PALETTE[i % len(PALETTE)]
        data.append(go.Scatter(x=list(dates), y=list(sizes[segment]), mode="lines+markers", name=segment,
                               line={"color": colour}))
        data.append(go.Scatter(x=list(dates), y=list(values[segment]), mode="lines", name=f"{segment} value",
                               line={"color": colour, "dash": "dot"}, yaxis="y2", showlegend=False))
    return _figure(data, height=300, title={"text": "segments over time (kept monitor scores)"},
                   yaxis={"title": {"text": "customers"}, "rangemode": "tozero"},
                   yaxis2={"title": {"text": "predicted value"}, "overlaying": "y", "side": "right",
                           "rangemode": "tozero"})
