"""The command centre's wall: one county, one period, refreshed in place.

Readable across a room, nobody touching it (``/wall?kiosk=1``): the period in the title,
big numbers, the published grid coloured by Gi* hot and cold spots with a legend, the
platforms' board with 8-week trends, and where open cases wait on the escalation chain.

* The map is one HTML document per plan (geometry only, built once); the figures around
  it live in fragments that rerun every ``WANGGE_CACHE_TTL`` seconds and write a small JSON
  of Gi* classes by cell code into the page, which the map reads and restyles in place.
  Nothing reloads, dims or moves.
* Database away: the last good figures stay, with "data as of HH:MM — database
  unreachable", and the next run picks the database up again by itself.
* Aggregates only, read through the wall's own login ``wangge_wall``
  (``_shared.wall_engine``), which may read nothing but the wall's views and functions;
  every count under the suppression threshold arrives blanked from the database (shown
  "<k"); user text (county and platform names) is escaped, never Markdown or HTML.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboards import _shared
from dashboards._shared import text
from geo import maps, wall
from geo.settings import get_settings

settings = get_settings()
TTL = settings.cache_ttl_s
K = settings.suppress_below
KIOSK = _shared.kiosk()
STAGES = (
    ("worker", "Grid worker 网格员", "reported, not yet taken up"),
    ("township", "Township 乡镇", "to route, escalated or returned"),
    ("department", "Department 部门", "dispatched, in progress"),
    ("feedback", "Feedback 反馈", "resolved, result not yet fed back"),
)

CSS = """
<style>
[data-stale="true"], [data-stale="true"] * { opacity: 1 !important; transition: none !important; }
[data-testid="stSkeleton"] { display: none !important; }
.stMainBlockContainer { padding: 1.2vh 1.4vw 0 1.4vw !important; max-width: none !important; }
.stApp { background: #08111b; color: #e9eef4; }
.wg { color: #e9eef4; font-family: "Source Sans", "Noto Sans CJK SC", sans-serif;
      line-height: 1.15; }
.wg-top { display: flex; align-items: baseline; justify-content: space-between; gap: 2vw; }
.wg-title { font-size: clamp(22px, 1.9vw, 96px); font-weight: 700; margin: 0; }
.wg-period { font-size: clamp(16px, 1.25vw, 64px); color: #ffd27a; font-weight: 600; }
.wg-asof { font-size: clamp(14px, 1vw, 50px); color: #9fb3c8; white-space: nowrap; }
.wg-asof.stale { color: #ffb347; font-weight: 700; }
.wg-figs { display: grid; grid-template-columns: repeat(7, 1fr); gap: 0.8vw;
           margin: 1.0vh 0 0.6vh 0; }
.wg-fig { background: #10202f; border-radius: 0.5vw; padding: 0.7vh 0.8vw; }
.wg-fig .v { font-size: clamp(24px, 2.5vw, 128px); font-weight: 700; color: #fff; }
.wg-fig .l { font-size: clamp(12px, 0.85vw, 44px); color: #9fb3c8; }
.wg-fig.warn .v { color: #ff8a50; }
.wg-panel h3 { font-size: clamp(16px, 1.2vw, 60px); margin: 0.6vh 0 0.5vh 0; color: #fff;
               font-weight: 700; padding: 0; }
.wg-legend { display: grid; grid-template-columns: repeat(2, auto); gap: 0.5vh 1vw;
             font-size: clamp(13px, 0.95vw, 48px); }
.wg-legend span.sw { display: inline-block; width: 1.1em; height: 1.1em; border-radius: 0.15em;
                     vertical-align: -0.15em; margin-right: 0.35em;
                     border: 1px solid #5d7187; }
.wg-note { font-size: clamp(11px, 0.75vw, 40px); color: #9fb3c8; margin-top: 0.4vh; }
table.wg-board { width: 100%; border-collapse: collapse; font-size: clamp(14px, 1.12vw, 56px); }
table.wg-board th { text-align: right; color: #9fb3c8; font-weight: 600;
                    border-bottom: 1px solid #2a3d52; padding: 0.3vh 0.4vw; }
table.wg-board td { text-align: right; padding: 0.55vh 0.4vw; border-bottom: 1px solid #18293a;
                    font-variant-numeric: tabular-nums; }
table.wg-board th:first-child, table.wg-board td:first-child { text-align: left; }
table.wg-board td.od { color: #ff8a50; font-weight: 700; }
table.wg-board img.spark { width: 7vw; height: 1.6em; vertical-align: middle; }
.wg-chain { display: grid; grid-template-columns: 1fr auto 1fr auto 1fr auto 1fr;
            align-items: center; gap: 0.3vw; }
.wg-stage { background: #10202f; border-radius: 0.5vw; padding: 0.6vh 0.5vw; text-align: center; }
.wg-stage .n { font-size: clamp(20px, 1.9vw, 96px); font-weight: 700; }
.wg-stage .o { font-size: clamp(12px, 0.85vw, 44px); color: #ff8a50; font-weight: 600; }
.wg-stage .s { font-size: clamp(11px, 0.8vw, 40px); color: #9fb3c8; }
.wg-arrow { font-size: clamp(16px, 1.4vw, 70px); color: #5d7187; }
.st-key-wall_map iframe { height: 77vh !important; border-radius: 0.4vw; }
.wg-mapwait { height: 77vh; display: flex; align-items: center; justify-content: center;
              background: #0b1520; color: #9fb3c8; font-size: clamp(16px, 1.2vw, 60px); }
</style>
"""

KIOSK_CSS = """
<style>
header[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stStatusWidget"], [data-testid="stSidebar"],
[data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stSidebarNav"], footer { display: none !important; }
.stMainBlockContainer { padding-top: 1.2vh !important; }
.stApp { overflow: hidden; }
</style>
"""


def fmt(value: object) -> str:
    """A count for the wall: thousands separated, or "<k" when suppressed."""
    if value is None or pd.isna(value):
        return f"&lt;{K}"
    return f"{int(value):,}"


def share(value: object) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.0%}"


def sparkline(values: list[float]) -> str:
    """An 8-week trend as inline SVG (a gap where a week's count is suppressed)."""
    known = [v for v in values if pd.notna(v)]
    top = max(known, default=0) or 1
    width, height, n = 100.0, 24.0, len(values)
    runs, run = [], []
    for i, v in enumerate(values):
        if pd.isna(v):
            runs, run = runs + ([run] if run else []), []
            continue
        x = width * i / max(n - 1, 1)
        y = height - 2 - (height - 4) * float(v) / top
        run.append(f"{x:.1f},{y:.1f}")
    runs += [run] if run else []
    lines = "".join(
        f'<polyline points="{" ".join(r)}" fill="none" stroke="#7fc8ff" stroke-width="2.2" '
        'vector-effect="non-scaling-stroke" stroke-linejoin="round"/>'
        for r in runs
    )
    last = ""
    if runs and pd.notna(values[-1]):
        x, y = runs[-1][-1].split(",")
        last = f'<circle cx="{x}" cy="{y}" r="2.6" fill="#ffd27a"/>'
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-3 0 {width + 6:.0f} {height}" '
        f'preserveAspectRatio="none">{lines}{last}</svg>'
    )
    # An image from a data: URL (nothing is fetched): st.html's sanitiser drops inline SVG.
    return f'<img class="spark" alt="8-week trend" src="data:image/svg+xml,{quote(svg)}">'


def header(figures: _shared.WallFigures | None, note: str) -> str:
    if figures is None:
        title = "社会治理综合服务中心 · Command centre"
        return (
            f'<div class="wg"><div class="wg-top"><p class="wg-title">{title}</p>'
            f'<span class="wg-asof stale">{text(note.replace("`", ""))}</span></div></div>'
        )
    as_of = figures.read_at.strftime("%H:%M")
    status = (
        f'<span class="wg-asof stale">data as of {as_of} — database unreachable</span>'
        if note
        else f'<span class="wg-asof">data as of {as_of} · refreshed every {TTL} s</span>'
    )
    h = figures.headline
    unit_label = "Grid cells 网格" if figures.unit_kind == "cell" else "Villages 村/社区"
    resolved = (
        h["resolved"] / h["reported"]
        if pd.notna(h["resolved"]) and pd.notna(h["reported"])
        else None
    )
    # "count": people or cases, blanked under the threshold; the number of map units is
    # a count of areas, shown as it is.
    cells = [
        ("Households 户", fmt(figures.households), "count"),
        ("Residents 人", fmt(figures.residents), "count"),
        (unit_label, f"{figures.units:,}", ""),
        ("Incidents reported 事件", fmt(h["reported"]), "count"),
        ("Still open 待办", fmt(h["open"]), "count"),
        ("Overdue now 超期", fmt(h["overdue"]), "count warn"),
        ("Resolved 办结率", share(resolved), ""),
    ]
    figs = "".join(
        f'<div class="wg-fig {cls}" data-testid="wallFigure"><div class="v">{value}</div>'
        f'<div class="l">{label}</div></div>'
        for label, value, cls in cells
    )
    values = text(json.dumps(figures.values, separators=(",", ":")))
    return (
        f'<div class="wg" data-testid="wallHeader" data-read="{figures.read_at.isoformat()}">'
        '<div class="wg-top">'
        f'<p class="wg-title">{text(figures.county)} 社会治理综合服务中心 · Command centre</p>'
        f"{status}</div>"
        f'<div class="wg-period">Incidents reported in the {text(figures.period.label())}'
        " — every figure on this screen</div>"
        f'<div class="wg-figs">{figs}</div>'
        f'<div id="wangge-wall-values" hidden>{values}</div>'
        "</div>"
    )


def legend(figures: _shared.WallFigures) -> str:
    swatches = [(colour, label) for _, label, colour in maps.HOTSPOT_CLASSES]
    swatches.append((maps.SUPPRESSED, f"fewer than {K} households: not shown"))
    order = [0, 6, 1, 5, 2, 4, 3, 7]  # hot | cold side by side, strongest first
    items = "".join(
        f'<div><span class="sw" style="background:{swatches[i][0]}"></span>'
        f"{text(swatches[i][1])}</div>"
        for i in order
    )
    unit = "grid cell" if figures.unit_kind == "cell" else "village"
    return (
        '<div class="wg-panel" data-testid="wallLegend">'
        f"<h3>Map: hot and cold spots 热点 (Gi*), per {unit}</h3>"
        f'<div class="wg-legend">{items}</div>'
        f'<div class="wg-note">Incidents per household, {text(figures.period.label())}; '
        "Getis–Ord Gi* with neighbouring cells, false-discovery-rate corrected. "
        "Township boundaries in white.</div></div>"
    )


def board(figures: _shared.WallFigures) -> str:
    weekly = {
        code: group.sort_values("week")["reported"].tolist()
        for code, group in figures.weekly.groupby("platform_code")
    }
    rows = []
    for r in figures.board.itertuples():
        trend = weekly.get(r.platform_code, [])
        rows.append(
            f"<tr><td>{text(r.platform)}</td><td>{fmt(r.reported)}</td><td>{fmt(r.open)}</td>"
            f'<td class="od">{fmt(r.overdue)}</td><td>{share(r.resolved_share)}</td>'
            f"<td>{sparkline(trend)}</td></tr>"
        )
    return (
        '<div class="wg-panel" data-testid="wallBoard">'
        f"<h3>One centre, {len(figures.board)} platforms 一中心{len(figures.board)}平台</h3>"
        '<table class="wg-board"><thead><tr><th>Platform 平台</th><th>Reported</th>'
        "<th>Open</th><th>Overdue</th><th>Resolved</th><th>8 weeks</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def chain(figures: _shared.WallFigures) -> str:
    by_stage = figures.chain.set_index("stage")
    boxes = []
    for stage, label, meaning in STAGES:
        row = by_stage.loc[stage]
        overdue = (
            f'<div class="o">{fmt(row["overdue"])} overdue</div>'
            if stage != "feedback"
            else '<div class="o">&nbsp;</div>'
        )
        boxes.append(
            f'<div class="wg-stage"><div class="s">{label}</div>'
            f'<div class="n">{fmt(row["cases"])}</div>{overdue}'
            f'<div class="s">{meaning}</div></div>'
        )
    arrow = '<div class="wg-arrow">→</div>'
    return (
        '<div class="wg-panel" data-testid="wallChain">'
        "<h3>Where open cases wait 吹哨·报告·报到·反馈</h3>"
        f'<div class="wg-chain">{arrow.join(boxes)}</div></div>'
    )


def current(county_code: str | None) -> tuple[_shared.WallFigures | None, str]:
    """The figures of this refresh (or the last good ones, and why)."""

    def read() -> _shared.WallFigures:
        code = county_code or _shared.county_selector(
            sidebar=False, available=_shared.wall_counties()
        )
        if code is None:
            raise LookupError(_shared.EMPTY_HINT)
        end = wall.period_ending(step_s=TTL).end
        return _shared.wall_figures(code, end.isoformat())

    try:
        figures, note = _shared.latest_wall(county_code or "", read)
    except LookupError as exc:
        return None, str(exc)
    return figures, note


@st.fragment(run_every=TTL)
def top(county_code: str | None) -> None:
    figures, note = current(county_code)
    if figures is None and note == _shared.EMPTY_HINT:
        st.html(header(None, "No county in the database yet."))
        st.info(f"No county in the database yet. {_shared.EMPTY_HINT}")
        return
    st.html(header(figures, note))
    # The map was drawn for another plan (or not at all, the database being away when the
    # page opened): draw the page again, once, with the right map.
    if figures is not None and st.session_state.get("wall_map_key") != figures.key:
        st.rerun(scope="app")


@st.fragment(run_every=TTL)
def side(county_code: str | None) -> None:
    figures, _ = current(county_code)
    if figures is None:
        return
    st.html(legend(figures) + board(figures) + chain(figures))


st.html(CSS + (KIOSK_CSS if KIOSK else ""))
county, reachable = None, True
try:
    county = _shared.county_selector(sidebar=not KIOSK, available=_shared.wall_counties())
except Exception:
    reachable = False  # the header below says why, and retries
# The map document first (drawn below the header), so that the header knows which plan
# the page shows.
document = None
if county is not None:
    try:
        key = _shared.wall_plan_key(county)
        document = _shared.wall_map_document(county, key)
        st.session_state["wall_map_key"] = key
    except Exception:
        document = None  # the header says the database is away, and redraws when it is back
top(county)
left, right = st.columns([0.6, 0.4], gap="medium")
with left, st.container(key="wall_map"):
    if document is not None:
        st.iframe(document, height=760, alt="Hot and cold spots on the grid")
    elif county is not None or not reachable:
        st.html('<div class="wg-mapwait">The map appears once the database is reachable.</div>')
with right:
    side(county)
