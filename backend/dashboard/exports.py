"""Downloads: the PDF report of a slide and the CSV of the filtered results table."""

import csv
import io
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

import sqlalchemy as sa
from flask import Response, abort, request
from flask_babel import gettext as _
from flask_login import current_user

from backend import db
from backend.audit.log import record
from backend.dashboard import bp
from backend.dashboard.access import any_role
from backend.dashboard.filters import WITH_PEOPLE, ResultFilters
from backend.dashboard.labels import slide_records
from backend.dashboard.report_pdf import build_report
from backend.dashboard.slides import load_slide, slide_id_arg
from backend.interop.fhir import MIMETYPE
from backend.interop.routes import fhir_response
from backend.models import Prediction
from backend.models.types import iso

RESULT_COLUMNS = (
    "id", "captured_at", "slide_id", "label", "confidence", "status", "reviewed_label",
    "reviewed_by", "reviewed_at", "model_name", "model_version", "technician", "device_id",
    "synced_at", "note", "sample_id", "corrected_label", "corrected_by", "corrected_at",
)  # fmt: skip


FORMULA_STARTS = ("=", "+", "-", "@")


def safe_cell(value: object) -> str:
    """Spreadsheets run a cell as a formula when it starts with = + - @, also behind leading
    spaces or control characters and in fullwidth or small forms (＝ ＋ － ＠ ﹦, which NFKC folds
    to ASCII); a cell that starts with a tab, CR or LF is rewritten by some of them. A leading
    quote stops both. pwa/js/data/csv.js applies the same rule to the phone's export."""
    text = "" if value is None else str(value)
    first = next((c for c in unicodedata.normalize("NFKC", text) if not _blank(c)), "")
    if first in FORMULA_STARTS or text[:1] in ("\t", "\r", "\n"):
        return "'" + text
    return text


def _blank(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("C")


def csv_text(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def download(body, mimetype: str, filename: str) -> Response:
    """An attachment named `filename`: a name outside ASCII goes as RFC 6266/5987 `filename*`
    (UTF-8, percent-encoded) after an ASCII `filename` for clients that know only that."""
    response = Response(body, mimetype=mimetype)
    name = "".join(c if c.isprintable() and c not in '/\\"' else "_" for c in filename)
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    disposition = f'attachment; filename="{fallback}"'
    if fallback != name:
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    response.headers["Content-Disposition"] = disposition
    return response


def _result_row(p: Prediction, sample_ids: dict[str, str]) -> list[object]:
    return [
        p.id, iso(p.captured_at), p.slide_id, p.label, f"{p.confidence:.4f}", p.status,
        p.reviewed_label, p.reviewed_by.username if p.reviewed_by else None, iso(p.reviewed_at),
        p.model_name, p.model_version, p.synced_by.username, p.device_id, iso(p.synced_at), p.note,
        sample_ids.get(p.slide_id), p.corrected_label,
        p.corrected_by.username if p.corrected_by else None, iso(p.corrected_at),
    ]  # fmt: skip


@bp.get("/results.csv")
@any_role
def results_csv():
    filters = ResultFilters.parse(request.args)
    if filters.errors:
        abort(400, description=" ".join(filters.errors))
    query = filters.apply(sa.select(Prediction).options(*WITH_PEOPLE), current_user)
    rows = db.session.scalars(query.order_by(Prediction.captured_at, Prediction.seq)).all()
    sample_ids = {i: s.sample_id for i, s in slide_records(p.slide_id for p in rows).items()}
    # written before the commit, which expires the rows
    body = csv_text(RESULT_COLUMNS, (_result_row(p, sample_ids) for p in rows))
    record("results.export", current_user, details={"filters": filters.values, "rows": len(rows)})
    db.session.commit()
    return download(body, "text/csv", "hematovision-results.csv")


@bp.get("/slide/report.pdf")
@any_role
def slide_report():
    slide = load_slide(slide_id_arg())
    pdf = build_report(slide, current_user.username)
    record("slide.report", current_user, target=slide.slide_id)
    db.session.commit()
    name = slide.record.sample_id if slide.record is not None else slide.slide_id
    return download(pdf, "application/pdf", f"hematovision-slide-{name}.pdf")


@bp.get("/slide/fhir.json")
@any_role
def slide_fhir():
    """The slide as the FHIR Bundle of GET /api/slides/<id>/fhir, as a file (any state: the
    report's status says whether it is final)."""
    slide = load_slide(slide_id_arg())
    response = fhir_response(slide, current_user, "dashboard")
    name = slide.record.sample_id if slide.record is not None else slide.slide_id
    return download(response.get_data(), MIMETYPE, f"hematovision-slide-{name}.fhir.json")


PARASITAEMIA_COLUMNS = (
    "slide_id", "sample_id", "target", "red_cells", "parasitized", "uninfected",
    "parasitaemia_percent", "ci95_low_percent", "ci95_high_percent", "target_reached",
    "not_recognised", "artefact", "other", "other_classes", "flags",
)  # fmt: skip


@bp.get("/slide/parasitaemia.csv")
@any_role
def slide_parasitaemia_csv():
    """A malaria slide's count as one CSV row, by the same rule as its page and its report."""
    slide = load_slide(slide_id_arg())
    p = slide.parasitaemia
    if p is None:
        abort(404, description=_("Not a malaria slide: its cells are in the results CSV."))
    low, high = p["ci95"] or (None, None)
    others = "; ".join(f"{label}: {n}" for label, n in p["other_classes"].items())
    row = [
        slide.slide_id, slide.record.sample_id, p["target"], p["red_cells"], p["parasitized"],
        p["uninfected"], _two(p["parasitaemia"]), _two(low), _two(high), p["target_reached"],
        p["unconfirmed"], p["apart"]["artefact"], p["apart"]["other"], others, " ".join(p["flags"]),
    ]  # fmt: skip
    body = csv_text(PARASITAEMIA_COLUMNS, [row])
    record("slide.export", current_user, target=slide.slide_id, details={"what": "parasitaemia"})
    db.session.commit()
    return download(body, "text/csv", f"hematovision-parasitaemia-{slide.record.sample_id}.csv")


def _two(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"
