"""Dashboard (figures, plots, CSV/JSON export), storm alerts and ambassadors."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from webcare.console import charts, i18n
from webcare.console.dashboard import PERIODS, compute, series_rows
from webcare.console.pages import locale_of, render, role
from webcare.listeners.ambassadors import ambassadors as ranked_ambassadors
from webcare.nlu.types import SENTIMENTS

router = APIRouter()
Staff = role("agent", "social")
Social = role("social")
STORM_ROLES = ("social", "admin")
STORM_SUMMARY = ("at", "topic", "source", "count", "baseline")  # what the banner shows every signed-in user


def _report(request: Request, period: str, channel: str | None, language: str | None) -> dict[str, Any]:
    if period not in PERIODS:
        raise HTTPException(400, f"period must be one of {', '.join(PERIODS)}")
    return compute(request.app.state.store, period, channel or None, language or None)


@router.get("/dashboard")
def dashboard(request: Request, user: Staff, period: str = "7d", channel: str = "", language: str = "") -> Response:
    report = _report(request, period, channel, language)
    store = request.app.state.store
    series = report["series"]
    locale = locale_of(request, user)

    def _(message: str) -> str:
        return i18n.text(locale, message)

    moods = {s: _(s) for s in SENTIMENTS}
    tags = store.tag_counts()
    plots = [
        charts.line_chart(_("Customer messages by sentiment"), series["labels"],
                          {s: series["messages"][s] for s in SENTIMENTS}, names=moods),
        charts.line_chart(_("Mentions by sentiment"), series["labels"],
                          {s: series["mentions"][s] for s in SENTIMENTS}, names=moods),
        charts.line_chart(_("Complaints (dashed: storm alerts)"), series["labels"],
                          {"complaints": series["complaints"]}, markers=series["storm_marks"],
                          names={"complaints": _("complaints")}),
        charts.line_chart(_("CSAT over time (1–5)"), series["labels"], {"csat": series["csat"]},
                          names={"csat": _("average")}),
        charts.bar_chart(_("Volume per channel"), report["volumes"]),
        charts.bar_chart(_("Labels on conversations and mentions"),
                         {g["name"]: g["conversations"] + g["mentions"] for g in tags},
                         {g["name"]: g["colour"] for g in tags}),
        charts.bar_chart(_("Open conversations per colleague"), {r["who"]: r["n"] for r in store.assignee_counts()}),
    ]
    return render(request, "dashboard.html", user, active="dashboard", report=report, plots=plots,
                  periods=list(PERIODS), languages=request.app.state.settings.nlu.languages,
                  channels=sorted({*store.channels(), *report["volumes"]}))


@router.get("/dashboard/export.json")
def export_json(request: Request, user: Staff, period: str = "7d", channel: str = "", language: str = "") -> Response:
    report = _report(request, period, channel, language)
    if user["role"] not in STORM_ROLES:  # storm details (sample mentions) are for social staff
        report["storms"] = [{k: s.get(k) for k in STORM_SUMMARY} for s in report["storms"]]
    return Response(json.dumps(report, ensure_ascii=False, default=str), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="webcare-{period}.json"'})


@router.get("/dashboard/export.csv")
def export_csv(request: Request, user: Staff, period: str = "7d", channel: str = "", language: str = "",
               table: str = "series") -> Response:
    report = _report(request, period, channel, language)
    if table == "series":
        rows = series_rows(report)
    elif table == "figures":
        rows = [{"figure": k, "value": "" if v is None else v} for k, v in report["figures"].items()]
    else:
        raise HTTPException(400, "table must be series or figures")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["empty"])
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="webcare-{table}-{period}.csv"'})


@router.get("/storms")
def storms(request: Request, user: Social) -> Response:
    store = request.app.state.store
    rows = [{"at": e["created_at"], **(e["data"] or {})} for e in store.events("storm")][::-1]
    return render(request, "storms.html", user, alerts=rows)


@router.get("/ambassadors")
def ambassadors(request: Request, user: Social) -> Response:
    """The one ranking (listeners.ambassadors), as `webcare mentions ambassadors` prints it."""
    store, config = request.app.state.store, request.app.state.settings.listeners.ambassadors
    return render(request, "ambassadors.html", user, ambassadors=ranked_ambassadors(store, config, store.clock()),
                  config=config)
