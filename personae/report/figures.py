"""Plotly figures for the report; each comes with a sentence saying how it was computed.

Text that comes from the user's data (column names, categories, persona names built
from them) is HTML-escaped before it reaches Plotly, which would otherwise interpret a
few tags in labels; escaped, it shows as the literal text.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

log = logging.getLogger(__name__)

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6",
           "#9D755D", "#EECA3B", "#BAB0AC", "#1F77B4", "#D62728")
NOISE_COLOUR = "#9E9E9E"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


@dataclass
class Figure:
    key: str
    title: str
    figure: go.Figure
    how: str

    def to_json(self) -> str:
        return str(self.figure.to_json(validate=False, engine="json"))


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def colour(segment: int) -> str:
    return NOISE_COLOUR if segment < 0 else PALETTE[segment % len(PALETTE)]


def script_json(text: str) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' can close the tag or open a comment."""
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


_PLOTLY: dict[str, str] = {}


def plotly_js() -> str:
    """plotly.js from the installed plotly package, safe inside <script> (read once)."""
    if "js" not in _PLOTLY:
        from plotly.offline import get_plotlyjs

        _PLOTLY["js"] = get_plotlyjs().replace("</script", "<\\/script")
    return _PLOTLY["js"]


def _layout(fig: go.Figure, height: int = 380, **kwargs: Any) -> go.Figure:
    fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 40, "b": 50},
                      font={"family": FONT, "size": 13}, template="plotly_white",
                      **kwargs)
    return fig


def k_selection(k_table: pd.DataFrame, info: dict[str, Any]) -> Figure:
    if "covariance_type" in k_table.columns:  # a mixture's BIC: the best covariance per K
        k_table = k_table.sort_values("bic").groupby("k", as_index=False).agg(
            bic=("bic", "first"), chosen=("chosen", "any"))
    metrics = [(c, t) for c, t in (("inertia", "Inertia (elbow; lower is tighter)"),
                                    ("silhouette", "Silhouette (higher is better)"),
                                    ("davies_bouldin", "Davies-Bouldin (lower is better)"),
                                    ("bic", "BIC (lower is better)"))
               if c in k_table.columns and k_table[c].notna().any()]
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[t for _, t in metrics])
    chosen = k_table.loc[k_table["chosen"].astype(bool), "k"] if "chosen" in k_table else []
    for i, (column, _) in enumerate(metrics, start=1):
        fig.add_trace(go.Scatter(x=k_table["k"], y=k_table[column], mode="lines+markers",
                                 name=column, line={"color": PALETTE[0]},
                                 showlegend=False), row=1, col=i)
        for k in chosen:
            fig.add_vline(x=float(k), line_dash="dash", line_color=PALETTE[3], row=1, col=i)
        fig.update_xaxes(title_text="K", dtick=1, row=1, col=i)
    selection = info.get("k_selection") or {}
    rule = selection.get("rule", "")
    how = (f"K-means fitted for each K in {int(k_table['k'].min())}..{int(k_table['k'].max())} "
           f"on {selection.get('search_sample_users', 'all'):,} users; silhouette on a sample "
           f"of {selection.get('silhouette_sample_users', 'n/a'):,} users. Dashed line: the "
           f"chosen K. Rule: {rule}") if selection else \
        ("Gaussian mixtures fitted for each K and covariance type; the BIC of the best "
         "covariance type per K; dashed line: the chosen K (lowest BIC)."
         if "bic" in k_table.columns else
         "One model per candidate; dashed line: the chosen value.")
    return Figure("k-selection", "How the number of segments was chosen",
                  _layout(fig, 330), how)


def user_map(user_map: pd.DataFrame, n_users: int, names: dict[int, str]) -> Figure:
    """The map of a run's ``user_map`` table (x, y, segment, and how it was made: method,
    seconds, space, seed), for the report and for a notebook."""
    points, segments = user_map[["x", "y"]].to_numpy(), user_map["segment"].to_numpy()
    method, seconds = str(user_map["method"].iloc[0]), float(user_map["seconds"].iloc[0])
    space = str(user_map["space"].iloc[0]) if "space" in user_map else None
    seed = int(user_map["seed"].iloc[0]) if "seed" in user_map else 0
    library = str(user_map["library"].iloc[0]) if "library" in user_map else "scikit-learn"
    fig = go.Figure()
    for seg in sorted(set(segments.tolist())):
        mask = segments == seg
        fig.add_trace(go.Scatter(
            x=np.round(points[mask, 0], 3), y=np.round(points[mask, 1], 3), mode="markers",
            name=esc(names.get(seg, f"segment {seg}")),
            marker={"size": 4, "opacity": 0.6, "color": colour(seg)}, hoverinfo="name"))
    _layout(fig, 520, legend={"itemsizing": "constant"})
    fig.update_xaxes(showticklabels=False, title_text=f"{method} 1")
    fig.update_yaxes(showticklabels=False, title_text=f"{method} 2")
    sampled = (f"a random sample of {len(points):,} of {n_users:,} users"
               if len(points) < n_users else f"all {n_users:,} users")
    detail = {"UMAP": f"UMAP (15 neighbours, min_dist 0.1, seed {seed})",
              "t-SNE": f"t-SNE ({library}, perplexity up to 30, PCA start, seed {seed}); "
                       "its distances between groups mean little, only who lies near whom"
              }.get(method, "PCA (2 components)")
    space = space or "the model's feature space (after cleaning, log transform and scaling)"
    how = (f"{detail} of {space}, on {sampled}; computed in {seconds:.1f} s. Distances on a "
           "2-D map are approximate: segments that overlap here may still be apart in all "
           "dimensions.")
    return Figure("map", "Map of users", fig, how)


def sizes(personas: list[dict[str, Any]]) -> Figure:
    ordered = sorted(personas, key=lambda p: p["size"])
    fig = go.Figure(go.Bar(
        x=[p["size"] for p in ordered], y=[esc(p["name"]) for p in ordered], orientation="h",
        marker={"color": [colour(p["segment"]) for p in ordered]},
        text=[f"{p['size']:,} ({p['share']:.0%})" for p in ordered], textposition="auto"))
    _layout(fig, max(220, 48 * len(ordered) + 80))
    fig.update_xaxes(title_text="users")
    return Figure("sizes", "Segment sizes", fig,
                  "Number of users in each segment (all users, no sampling).")


def heatmap(profiles: pd.DataFrame, names: dict[int, str]) -> Figure:
    features = sorted(profiles["feature"].unique().tolist())
    segments = sorted(profiles["segment"].unique().tolist())
    table = profiles.set_index(["segment", "feature"])
    effect_col = "effect_size" if "effect_size" in profiles.columns else "z_score"
    values = np.zeros((len(segments), len(features)))
    hover = []
    for i, seg in enumerate(segments):
        row_text = []
        for j, feat in enumerate(features):
            r = table.loc[(seg, feat)]
            e = float(r[effect_col])
            category = r["kind"] == "category"
            values[i, j] = np.clip(e * (4 if category else 1), -2, 2)
            q = r.get("p_adjusted", np.nan)
            row_text.append(
                f"{esc(names.get(seg, seg))}<br>{esc(feat)}<br>mean {r['mean']:.3g} vs "
                f"{r.get('rest_mean', r['overall_mean']):.3g}<br>"
                + (f"share diff {e:+.1%}" if category else f"d = {e:+.2f}")
                + (f", q = {q:.2g}" if pd.notna(q) else ""))
        hover.append(row_text)
    fig = go.Figure(go.Heatmap(
        z=values, x=[esc(f) for f in features], y=[esc(names.get(s, s)) for s in segments],
        text=hover, hoverinfo="text", colorscale="RdBu", reversescale=True, zmid=0, zmin=-2,
        zmax=2, colorbar={"title": {"text": "effect"}, "tickvals": [-2, -1, 0, 1, 2],
                          "thickness": 14, "len": 1, "lenmode": "fraction"}))
    _layout(fig, max(360, 48 * len(segments) + 200), xaxis={"tickangle": -35})
    how = ("Each cell: how far the segment is from everyone else on that feature. Numbers: "
           "Cohen's d on the model's scale (after log transform), categories: difference in "
           "share x 4 (so 5 points = 0.2); clipped to +-2. Red = higher, blue = lower. Hover "
           "for the means and the Benjamini-Hochberg corrected q-value.")
    return Figure("heatmap", "What sets each segment apart", fig, how)


def opportunities(table: pd.DataFrame, names: dict[int, str], rule: str) -> Figure:
    segments = sorted(table["segment"].unique().tolist())
    themes = sorted(table["theme"].unique().tolist())
    pivot = table.pivot(index="segment", columns="theme", values="score").reindex(
        index=segments, columns=themes)
    feats = table.pivot(index="segment", columns="theme", values="features").reindex(
        index=segments, columns=themes)
    text = [[f"{pivot.iloc[i, j]:.0f}" for j in range(len(themes))]
            for i in range(len(segments))]
    hover = [[f"{esc(names.get(s, s))} / {esc(t)}: {pivot.iloc[i, j]:.0f}<br>signals: "
              f"{esc(feats.iloc[i, j]) or 'none'}" for j, t in enumerate(themes)]
             for i, s in enumerate(segments)]
    fig = go.Figure(go.Heatmap(
        z=pivot.to_numpy(), x=[esc(t) for t in themes],
        y=[esc(names.get(s, s)) for s in segments], text=text, texttemplate="%{text}",
        hovertext=hover, hoverinfo="text", colorscale="YlOrRd", zmin=0, zmax=100,
        colorbar={"title": {"text": "score"}, "thickness": 14}))
    _layout(fig, max(320, 48 * len(segments) + 160))
    return Figure("opportunities", "Innovation opportunity matrix", fig, "Scoring rule: " + rule)


def funnels(journeys: dict[str, Any], names: dict[int, str]) -> Figure:
    fig = go.Figure()
    for seg, data in sorted(journeys["segments"].items(), key=lambda kv: int(kv[0])):
        seg = int(seg)
        fig.add_trace(go.Bar(
            x=[s["stage"] for s in data["funnel"]],
            y=[s["share_of_segment"] for s in data["funnel"]],
            name=esc(names.get(seg, seg)), marker={"color": colour(seg)},
            hovertemplate="%{x}: %{y:.0%}<extra>" + esc(names.get(seg, seg)) + "</extra>"))
    _layout(fig, 380, barmode="group", yaxis={"tickformat": ".0%", "title": {
        "text": "share of the segment reaching the stage"}})
    how = (f"Stages: {' > '.join(journeys['stages'])} ({journeys['method']}). A user reaches a "
           "stage when they did it and reached the stage before; 'repeat' = 2+ purchases. "
           "All users with events, no sampling.")
    if journeys.get("kind") == "lifecycle":
        how = (f"Steps: {' > '.join(journeys['stages'])} ({journeys['method']}). A user reaches "
               f"a step with that many {journeys['noun']}s. All users with events, no sampling.")
    return Figure("funnels", "Journeys: funnel per segment", fig, how)


def stability(k_table: pd.DataFrame) -> Figure | None:
    if "stability_ari" not in k_table.columns or k_table["stability_ari"].isna().all():
        return None
    fig = go.Figure(go.Bar(x=k_table["k"], y=k_table["stability_ari"],
                           marker={"color": [PALETTE[3] if c else PALETTE[0]
                                             for c in k_table.get("chosen", [False] * len(
                                                 k_table))]}))
    _layout(fig, 280, yaxis={"range": [0, 1], "title": {"text": "adjusted Rand index"}})
    fig.update_xaxes(title_text="K", dtick=1)
    how = ("Agreement (adjusted Rand index) between segmentations refitted on random "
           "subsamples, per K: 1 = the same segments every time. Red: the chosen K.")
    return Figure("stability", "Stability of the segments", fig, how)


def segment_stability(stability: dict[str, Any], names: dict[int, str]) -> Figure | None:
    """Per-segment stability from run.json (mean best-match Jaccard over refits)."""
    jaccard = stability.get("per_segment_jaccard")
    if not isinstance(jaccard, dict) or not jaccard:
        return None
    segments = sorted(int(s) for s in jaccard)
    threshold = float(stability.get("threshold", 0.6))
    # None: a segment with no user in the stability sample (not measured, so unstable)
    measured = [jaccard[str(s)] if str(s) in jaccard else jaccard[s] for s in segments]
    values = [float(v) if v is not None else 0.0 for v in measured]
    fig = go.Figure(go.Bar(
        x=[esc(names.get(s, s)) for s in segments], y=values,
        marker={"color": [PALETTE[3] if v < threshold else colour(s)
                          for s, v in zip(segments, values, strict=True)]},
        text=[f"{v:.2f}" if m is not None else "not measured"
              for v, m in zip(values, measured, strict=True)], textposition="auto"))
    fig.add_hline(y=threshold, line_dash="dash", line_color=PALETTE[3])
    _layout(fig, 300, yaxis={"range": [0, 1], "title": {"text": "Jaccard"}})
    how = str(stability.get("how", "Refits on subsamples; Jaccard of best-matching segments."))
    return Figure("segment-stability", "Stability of each segment", fig,
                  f"{how}. Dashed line: the threshold ({threshold:g}); red bars are unstable.")


def forecast_holdout(holdout: dict[str, Any]) -> Figure | None:
    """The calibration/holdout plot of the forecast's held-out check (lifetimes' plot)."""
    rows = holdout.get("by_frequency") if holdout.get("validated") else None
    if not rows:
        return None
    groups = [r["repeat_events"] for r in rows]
    fig = go.Figure([
        go.Scatter(x=groups, y=[r["actual"] for r in rows], name="actual", mode="lines+markers",
                   text=[f"{r['users']:,} users" for r in rows]),
        go.Scatter(x=groups, y=[r["predicted"] for r in rows], name="forecast",
                   mode="lines+markers", line={"dash": "dash"})])
    _layout(fig, 320)
    fig.update_xaxes(title_text=f"repeat events up to {holdout['calibration_end']}",
                     type="category")
    fig.update_yaxes(title_text=f"mean events in the next {holdout['holdout_days']} days")
    return Figure("forecast_holdout", "Forecast against the held-out days", fig,
                  "Users grouped by their repeat events before the held-out period (7 and "
                  "more pooled): the mean of what they did in it, and of what the model "
                  "fitted without it forecast.")

