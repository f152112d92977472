"""The PDF report of one slide (fpdf2). Text is set in DejaVu Sans, committed beside this file,
so labels, sample ids and names in any Latin, Greek or Cyrillic script render; CJK comes from a
system fallback font when one is installed (fonts-droid-fallback, which `make system-deps`
installs), else those characters are left blank with a warning in the log: never a 500.
The report speaks the language of the person who downloads it; its numbers are the rules' own
digits (the same as the phone's and the page's)."""

import io
from datetime import UTC, datetime
from pathlib import Path

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from backend.dashboard.labels import correction_text, interval_text, parasitaemia_text
from backend.dashboard.vocabulary import (
    basis_name,
    class_name,
    differential_flags,
    flag_name,
    parasitaemia_flags,
    short_status_reason,
    state_name,
    status_name,
)
from backend.i18n import current_language
from backend.sync import cell_images
from classifier.differential import ARTEFACT, OTHER

DISCLAIMER = _l(
    "Decision support, not a diagnosis: these counts come from an automated classifier and a "
    "review of selected cells. They must be interpreted by a qualified clinician together with "
    "the patient's history and other findings."
)
FOOTER_NOTE = _l("Decision support, not a diagnosis.")
MAX_THUMBNAILS = 40
THUMB_MM = 24
CAPTION_MM = 16  # up to three 4 mm lines under a thumbnail: call, reason, person
FONT = "DejaVuSans"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
FONT_DIR = Path(__file__).resolve().parent / "fonts"
CJK_FALLBACKS = (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),)


class SlideReport(FPDF):
    def __init__(self, slide, author: str) -> None:
        super().__init__(format="A4")
        self.slide, self.author = slide, author
        for style, name in FONT_FILES.items():
            self.add_font(FONT, style, FONT_DIR / name)
        self._covered = self.fonts[FONT.lower()].cmap
        self._fallback = next((f for f in CJK_FALLBACKS if f.is_file()), None)
        self.set_title(_("Hematovision report %(slide)s", slide=slide.title))
        self.set_lang(current_language())
        self.set_author(author)
        self.set_creator("Hematovision dashboard")
        self.set_auto_page_break(auto=True, margin=18)

    def normalize_text(self, text: str) -> str:
        """fpdf2 calls this before it lays out any text: the fallback font is loaded the first
        time a character is not in DejaVu Sans (parsing it takes about half a second)."""
        if self._fallback and any(ord(c) not in self._covered for c in text):
            self.add_font("Fallback", "", self._fallback)
            self.set_fallback_fonts(["Fallback"], exact_match=False)
            self._fallback = None
        return super().normalize_text(text)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT, "", 8)
        page = _("page %(number)s/%(pages)s", number=self.page_no(), pages="{nb}")
        text = f"{self.slide.title} - {page} - {FOOTER_NOTE}"
        self.cell(0, 6, text, align="C")

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font(FONT, "B", 12)
        self.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, "", 10)

    def text_line(self, text: str, style: str = "") -> None:
        self.set_font(FONT, style, 10)
        self.multi_cell(0, 5.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, "", 10)


def build_report(slide, author: str) -> bytes:
    pdf = SlideReport(slide, author)
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    if slide.parasitaemia:
        title = _("Hematovision - parasitaemia report")
    else:
        title = _("Hematovision - differential count report")
    pdf.cell(0, 10, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.text_line(str(DISCLAIMER), "I")
    _header(pdf, slide, author)
    if slide.parasitaemia:
        _parasitaemia(pdf, slide.parasitaemia, len(slide.late_cells))
        _flags(pdf, parasitaemia_flags(slide.parasitaemia), none=_("None."))
    else:
        _differential(pdf, slide.differential, len(slide.late_cells))
        _flags(pdf, differential_flags(slide.differential))
    _corrections(pdf, slide)
    if slide.parasitaemia:
        _cells_to_verify(pdf, slide)
    else:
        _cells_needing_review(pdf, slide)
    return bytes(pdf.output())


def _header(pdf: SlideReport, slide, author: str) -> None:
    dates = slide.first_capture.strftime("%Y-%m-%d %H:%M")
    if slide.last_capture.date() != slide.first_capture.date():
        dates = _("%(first)s to %(last)s", first=dates, last=f"{slide.last_capture:%Y-%m-%d %H:%M}")
    record = slide.record
    rows = [(_("Sample id"), slide.title)]
    if record is not None:
        given = ((_("Patient"), record.patient), (_("Specimen"), record.specimen))
        rows += [(key, value) for key, value in given if value]
        rows.append((_("State"), _state(record)))
    made = _("%(when)s UTC by %(name)s", when=f"{datetime.now(UTC):%Y-%m-%d %H:%M}", name=author)
    rows += [
        (_("Captured (UTC)"), dates),
        (_("Technician"), slide.technicians),
        (_("Reviewer"), slide.reviewers),
        (_("Model version"), slide.models),
        (_("Device"), slide.devices),
        (_("Cells classified"), str(len(slide.cells))),
        (_("Report made"), made),
    ]
    pdf.heading(_("Sample"))
    with pdf.table(col_widths=(45, 135), first_row_as_headings=False) as table:
        for key, value in rows:
            table.row([key, value])


def _state(record) -> str:
    if record.state == "finished" and record.finished_at is not None:
        when = f"{record.finished_at:%Y-%m-%d %H:%M} UTC"
        if record.finished_by:
            return _("finished by %(name)s, %(when)s", name=record.finished_by.username, when=when)
        return _("finished, %(when)s", when=when)
    state = state_name(record.state)
    if record.reopened_at is not None and record.reopened_by is not None:
        return _("%(state)s (re-opened by %(name)s)", state=state, name=record.reopened_by.username)
    return state


def _differential(pdf: SlideReport, diff, late: int = 0) -> None:
    heading = _(
        "Differential count (%(counted)s of %(target)s white cells)",
        counted=diff.white_cells,
        target=diff.target,
    )
    pdf.heading(heading)
    headings = (_("Class"), _("Count"), _("Value"), _("Basis"), _("Adult range"), _("Flag"))
    with pdf.table(col_widths=(44, 16, 16, 42, 36, 16), text_align="LEFT") as table:
        table.row(headings)
        for r in diff.rows:
            value = "-" if r.percent is None else f"{r.percent:.1f}"
            basis, flag = basis_name(r.basis), flag_name(r.flag)
            row = [class_name(r.label), str(r.count), value, basis, r.range_text, flag]
            table.row(row)
    apart = [
        (_("Platelets seen (outside the count)"), diff.platelets),
        (class_name(ARTEFACT), diff.apart["artefact"]),
        (class_name(OTHER), diff.apart["other"]),
        (_("Not recognised, awaiting a person"), diff.apart["unconfirmed"]),
    ]
    for label, n in diff.other_classes.items():
        apart.append((_("%(label)s (not in the differential)", label=class_name(label)), n))
    _apart_lines(pdf, apart, diff.total, late)


def _parasitaemia(pdf: SlideReport, p: dict, late: int = 0) -> None:
    heading = _(
        "Parasitaemia (%(counted)s of %(target)s red cells)",
        counted=p["red_cells"],
        target=p["target"],
    )
    pdf.heading(heading)
    rows = [
        (_("Red cells counted"), f"{p['red_cells']} / {p['target']}"),
        (_("Parasitized"), str(p["parasitized"])),
        (_("Uninfected"), str(p["uninfected"])),
        (_("Parasitaemia"), parasitaemia_text(p)),
        # the page's msgid: "%%" is its literal per cent sign
        (_("95 %% confidence interval (Wilson)") % {}, interval_text(p, "-")),
    ]
    with pdf.table(col_widths=(80, 100), first_row_as_headings=False) as table:
        for key, value in rows:
            table.row([key, value])
    apart = [
        (class_name(ARTEFACT), p["apart"]["artefact"]),
        (class_name(OTHER), p["apart"]["other"]),
        (_("Not recognised, awaiting a person (shown below)"), p["unconfirmed"]),
    ]
    for label, n in p["other_classes"].items():
        apart.append((_("%(label)s (not a red-cell class)", label=class_name(label)), n))
    _apart_lines(pdf, apart, p["total"], late)


def _apart_lines(pdf: SlideReport, apart: list[tuple[str, int]], total: int, late: int) -> None:
    """The cells kept apart from the count, the cells in all, and those added too late."""
    listed = "; ".join(_("%(what)s: %(num)s", what=what, num=n) for what, n in apart)
    pdf.text_line(_("%(listed)s. Cells counted: %(total)s.", listed=listed, total=total))
    if late:
        text = ngettext(
            "%(num)s cell added after the slide was finished is not counted (listed on the "
            "dashboard).",
            "%(num)s cells added after the slide was finished are not counted (listed on the "
            "dashboard).",
            late,
        )
        pdf.text_line(text, "B")


def _flags(pdf: SlideReport, flags: list[str], none: str | None = None) -> None:
    pdf.heading(_("Flags"))
    if not flags:
        pdf.text_line(none or _("No value outside the adult reference ranges."))
    for flag in flags:
        pdf.text_line(f"- {flag}")


def _corrections(pdf: SlideReport, slide) -> None:
    corrected = [c for c in slide.cells if c.corrected_at is not None]
    if not corrected:
        return
    pdf.heading(_("Corrected by the technician on the phone (%(num)s)", num=len(corrected)))
    for cell in corrected:
        pdf.text_line(f"- {correction_text(cell, '->')}, {cell.corrected_at:%Y-%m-%d %H:%M} UTC")


def _cells_needing_review(pdf: SlideReport, slide) -> None:
    cells = slide.needing_review
    heading = _(
        "Cells needing review (%(num)s; %(waiting)s not yet reviewed)",
        num=len(cells),
        waiting=slide.unreviewed,
    )
    pdf.heading(heading)
    if not cells:
        pdf.text_line(_("None: every cell was classified with confidence."))
        return
    _thumbnail_grid(pdf, cells)


def _cells_to_verify(pdf: SlideReport, slide) -> None:
    """A malaria slide's cells a doctor must verify, with their crops: those not recognised and
    those counted as parasitized (each group at most MAX_THUMBNAILS); the uninfected and the
    rest only as counts, so a slide of 5000 red cells stays a few pages."""
    groups = slide.malaria_groups()
    waiting, parasitized, other = groups["unrecognised"], groups["parasitized"], groups["other"]
    pdf.heading(_("Not recognised, awaiting a person (%(num)s)", num=len(waiting)))
    if waiting:
        _thumbnail_grid(pdf, waiting)
    else:
        pdf.text_line(_("None."))
    pdf.heading(_("Parasitized, to verify (%(num)s)", num=len(parasitized)))
    if parasitized:
        _thumbnail_grid(pdf, parasitized)
    else:
        pdf.text_line(_("None."))
    pdf.text_line(_("Other cells, not shown here (on the dashboard): %(num)s.", num=len(other)))


def _thumbnail_grid(pdf: SlideReport, cells: list) -> None:
    x0, per_row = pdf.l_margin, 6
    for i, cell in enumerate(cells[:MAX_THUMBNAILS]):
        if i % per_row == 0:
            if pdf.get_y() + THUMB_MM + CAPTION_MM + 2 > pdf.h - pdf.b_margin:
                pdf.add_page()
            row_y = pdf.get_y()
        x = x0 + (i % per_row) * (THUMB_MM + 6)
        _thumbnail(pdf, cell, x, row_y)
        if i % per_row == per_row - 1 or i == min(len(cells), MAX_THUMBNAILS) - 1:
            pdf.set_xy(x0, row_y + THUMB_MM + CAPTION_MM)
    if len(cells) > MAX_THUMBNAILS:
        more = len(cells) - MAX_THUMBNAILS
        pdf.text_line(_("... and %(num)s more (see the dashboard).", num=more))


def _thumbnail(pdf: SlideReport, cell, x: float, y: float) -> None:
    jpeg = cell_images.read(cell.image_path) if cell.image_path else None
    if jpeg is not None:
        pdf.image(io.BytesIO(jpeg), x=x, y=y, w=THUMB_MM, h=THUMB_MM)
    else:
        pdf.rect(x, y, THUMB_MM, THUMB_MM)
        pdf.set_xy(x, y + THUMB_MM / 2 - 2)
        pdf.set_font(FONT, "", 7)
        pdf.cell(THUMB_MM, 4, _("no image"), align="C")
    pdf.set_font(FONT, "", 7)
    # the labels themselves (short, the same in every language), so a caption fits its thumbnail
    caption = f"{cell.label} ({status_name(cell.status)})"
    if cell.reviewed_label:
        person = _("reviewed: %(label)s", label=cell.reviewed_label)
    elif cell.corrected_at is not None:
        by = cell.corrected_by.username if cell.corrected_by else "?"
        person = f"{by}: {cell.corrected_label or cell.label}"
    else:
        person = _("not reviewed")
    # why the phone's rule did not call it confident, where the record says (newer phones)
    lines = [caption, short_status_reason(cell), person]
    for n, line in enumerate(line for line in lines if line):
        pdf.set_xy(x - 2, y + THUMB_MM + 1 + n * 4)
        pdf.cell(THUMB_MM + 4, 4, line[:28], align="C")
    pdf.set_font(FONT, "", 10)
