"""One slide as an HL7 FHIR Bundle (type `collection`): a DiagnosticReport, one Observation per
reported class, the model version(s) that classified its cells as Device, the people as
Practitioner and the sample as Specimen. Built from the same Slide the dashboard page and the
PDF report are built from (backend.dashboard.slides.build_slide, i.e. classifier.differential or
classifier.parasitaemia), so every number is the rule's, digit for digit.

FHIR version: fhir.resources 8.3 ships R4B (4.3.0) and R5 models, no plain R4; every resource
is built and validated with the R4B models, whose elements used here are those of R4 (4.0.1).

Report status: `final` when the slide is finished and every counted cell is settled (none waits
for a person, every cell the model was unsure of or a technician corrected has been reviewed);
`preliminary` otherwise (open, paused, re-opened, or cells still to review); `registered` for a
slide synced without any cell yet. Ids are uuid5 of the slide id and the resource's role, so a
laboratory system that exports a slide again gets the same ids with the newer content."""

import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from backend.dashboard.labels import UUID, as_cell, interval_text, parasitaemia_text
from backend.dashboard.review import QUEUE_STATUSES
from backend.dashboard.slides import Slide
from backend.interop import codes
from backend.models import Prediction
from backend.models.types import iso
from classifier.differential import counted_label, display_name
from classifier.parasitaemia import PARASITIZED, UNINFECTED

MIMETYPE = "application/fhir+json"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://hematovision/fhir")
METHOD = (
    "Digital morphology on a blood film: each cell photographed through the microscope and "
    "classified on the phone by the image model named as the device; a cell counts under a "
    "person's label where one was given (the reviewer's, else the technician's)."
)
DISCLAIMER = (
    "Decision support, not a diagnosis: counts from an automated classifier and a review of "
    "selected cells, to be interpreted by a qualified clinician."
)
DEVICE_TYPE = "Image classification model (digital morphology, on the phone)"
RANGE_SOURCE = "Typical adult range (Bain, Bates & Laffan, Dacie and Lewis Practical Haematology)"


def slide_bundle(slide: Slide, users_system: str, now: datetime | None = None) -> Bundle:
    """The slide as a validated Bundle; `users_system` names the namespace of the usernames
    (this server's /api/users)."""
    return Bundle.model_validate(_Builder(slide, users_system).bundle(now or datetime.now(UTC)))


def report_status(slide: Slide) -> str:
    if not slide.cells:
        return "registered"
    if slide.finished and not _unsettled(slide):
        return "final"
    return "preliminary"


def _unsettled(slide: Slide) -> list[Prediction]:
    counted = [c for c in slide.cells if not slide.is_late(c)]
    waiting = [c for c in counted if counted_label(as_cell(c)) is None]
    unreviewed = [
        c
        for c in counted
        if (c.status in QUEUE_STATUSES or c.corrected_at) and c.reviewed_at is None
    ]
    return waiting + unreviewed


def resource_url(slide_id: str, role: str) -> str:
    """The fullUrl of a slide's resource: `report`, `specimen`, `observation/<label>`,
    `device/<model>/<version>`, `practitioner/<username>`."""
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{slide_id}/{role}')}"


def _concept(code: tuple[str, str] | None, text: str, system: str = codes.LOINC) -> dict:
    concept: dict[str, Any] = {"text": text}
    if code is not None:
        concept["coding"] = [{"system": system, "code": code[0], "display": code[1]}]
    return concept


def _percent(value: float) -> dict:
    return {"value": value, "unit": "%", "system": codes.UCUM, "code": "%"}


class _Builder:
    def __init__(self, slide: Slide, users_system: str) -> None:
        self.slide, self.users_system = slide, users_system
        self.status = report_status(slide)
        self.counted = [c for c in slide.cells if not slide.is_late(c)]
        self.entries: list[dict] = []
        self.people: dict[str, str] = {}  # username -> fullUrl
        self.devices: dict[tuple[str, str], str] = {}  # (model, version) -> fullUrl

    # --- the bundle ------------------------------------------------------------------------

    def bundle(self, now: datetime) -> dict:
        report_url = resource_url(self.slide.slide_id, "report")
        specimen = self._specimen()
        results = self._observations(specimen)
        report = self._report(results, specimen)
        entries = [{"fullUrl": report_url, "resource": report}, *self.entries]
        return {
            "resourceType": "Bundle",
            "id": str(uuid.uuid5(NAMESPACE, f"{self.slide.slide_id}/bundle")),
            "meta": {"lastUpdated": iso(self.updated)},
            "type": "collection",
            "timestamp": iso(now),
            "entry": entries,
        }

    def _add(self, role: str, resource: dict) -> str:
        url = resource_url(self.slide.slide_id, role)
        resource.setdefault("id", url.removeprefix("urn:uuid:"))
        resource["meta"] = {"lastUpdated": iso(self.updated)}
        self.entries.append({"fullUrl": url, "resource": resource})
        return url

    # --- times ------------------------------------------------------------------------------

    @cached_property
    def updated(self) -> datetime:
        """The latest change the report reflects: a sync, a review, a correction, the slide's
        finish or re-opening."""
        times = [t for c in self.slide.cells for t in (c.synced_at, c.reviewed_at, c.corrected_at)]
        record = self.slide.record
        if record is not None:
            times += [record.synced_at, record.finished_at, record.reopened_at]
        return max(t for t in times if t is not None)

    def _effective(self) -> dict:
        if not self.counted:
            return {}
        start = min(c.captured_at for c in self.counted)
        end = max(c.captured_at for c in self.counted)
        return {"effectivePeriod": {"start": iso(start), "end": iso(end)}}

    # --- who and what -----------------------------------------------------------------------

    def _subject(self) -> dict:
        """The patient exactly as the technician typed it (a name or an id: it is not split or
        coded), else nothing: no patient is invented."""
        record = self.slide.record
        if record is None or not record.patient:
            return {}
        return {"subject": {"type": "Patient", "display": record.patient}}

    def _person(self, username: str) -> dict:
        if username not in self.people:
            self.people[username] = self._add(
                f"practitioner/{username}",
                {
                    "resourceType": "Practitioner",
                    "identifier": [{"system": self.users_system, "value": username}],
                    "active": True,
                },
            )
        return {"reference": self.people[username], "type": "Practitioner", "display": username}

    def _people(self, names: Iterable[str]) -> list[dict]:
        return [self._person(name) for name in sorted(set(names))]

    @cached_property
    def technicians(self) -> list[str]:
        return [c.synced_by.username for c in self.counted]

    @cached_property
    def reviewers(self) -> list[str]:
        return [c.reviewed_by.username for c in self.counted if c.reviewed_by]

    def _device(self, cells: list[Prediction]) -> tuple[dict, str | None]:
        """The model version that classified most of `cells` as a Device reference, and a note
        naming every version when there were several."""
        versions = Counter((c.model_name, c.model_version) for c in cells or self.counted)
        if not versions:
            return {}, None
        for name, version in sorted(versions):  # each one a Device, so the note's names resolve
            self._model(name, version)
        (name, version), _ = versions.most_common(1)[0]
        reference = {
            "device": {
                "reference": self.devices[name, version],
                "type": "Device",
                "display": f"{name} {version}",
            }
        }
        if len(versions) == 1:
            return reference, None
        listed = ", ".join(f"{n} {v} ({k} cells)" for (n, v), k in versions.most_common())
        return reference, f"Cells classified by several model versions: {listed}."

    def _model(self, name: str, version: str) -> None:
        if (name, version) not in self.devices:
            self.devices[name, version] = self._add(
                f"device/{name}/{version}",
                {
                    "resourceType": "Device",
                    "deviceName": [{"name": name, "type": "model-name"}],
                    "version": [{"value": version}],
                    "type": {"text": DEVICE_TYPE},
                },
            )

    def _specimen(self) -> dict | None:
        """The sample as the phone named it; a slide of an older app has none."""
        record = self.slide.record
        if record is None:
            return None
        specimen: dict[str, Any] = {
            "resourceType": "Specimen",
            "accessionIdentifier": {"value": record.sample_id},
            **self._subject(),
        }
        if record.specimen:
            specimen["type"] = {"text": record.specimen}
        if record.note:
            specimen["note"] = [{"text": record.note}]
        url = self._add("specimen", specimen)
        return {"reference": url, "type": "Specimen", "display": record.sample_id}

    # --- observations -----------------------------------------------------------------------

    def _observation(self, role: str, code: dict, cells: list, specimen, **values) -> str:
        device, several = self._device(cells)
        performers = self.reviewers or self.technicians
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final" if self.status == "final" else "preliminary",
            "category": [
                {
                    "coding": [
                        {
                            "system": codes.OBSERVATION_CATEGORY,
                            "code": "laboratory",
                            "display": "Laboratory",
                        }
                    ]
                }
            ],
            "code": code,
            **self._subject(),
            **self._effective(),
            "issued": iso(self.updated),
            "performer": self._people(performers),
            **values,
            "method": {"text": METHOD},
            **device,
        }
        if specimen:
            observation["specimen"] = specimen
        if several:
            observation["note"] = [{"text": several}]
        return self._add(f"observation/{role}", observation)

    def _observations(self, specimen) -> list[str]:
        if not self.slide.cells:
            return []
        if self.slide.parasitaemia is not None:
            return self._malaria(self.slide.parasitaemia, specimen)
        return self._differential(specimen)

    def _differential(self, specimen) -> list[str]:
        diff = self.slide.differential
        urls = []
        for row in diff.rows:
            per_100 = row.basis == "per 100 white cells"
            unit = (
                {"unit": "/100 WBC", "system": codes.UCUM, "code": "/100{WBCs}"}
                if per_100
                else {"unit": "%", "system": codes.UCUM, "code": "%"}
            )
            values: dict[str, Any] = {
                "component": [
                    _count("Cells of this class counted", row.count),
                    _count("White cells counted (the denominator)", diff.white_cells),
                ],
                "referenceRange": [
                    {
                        "low": {"value": row.low, **unit},
                        "high": {"value": row.high, **unit},
                        "type": _concept(("normal", "Normal Range"), "Normal", codes.RANGE_MEANING),
                        "text": f"{row.range_text} {row.basis}: {RANGE_SOURCE}",
                    }
                ],
            }
            if row.percent is None:
                values["dataAbsentReason"] = _absent("No white cells counted")
            else:
                values["valueQuantity"] = {"value": row.percent, **unit}
                flag = codes.INTERPRETATIONS[row.flag]
                values["interpretation"] = [_concept(flag, flag[1], codes.INTERPRETATION)]
            name = display_name(row.label)
            text = f"{name} {'per 100 white cells' if per_100 else '% of white cells'}"
            code = _concept(codes.PER_CLASS.get(row.label), text)
            cells = [c for c in self.counted if counted_label(as_cell(c)) == row.label]
            urls.append(self._observation(row.label, code, cells, specimen, **values))
        return urls

    def _malaria(self, p: dict, specimen) -> list[str]:
        red = [c for c in self.counted if counted_label(as_cell(c)) in (PARASITIZED, UNINFECTED)]
        denominator = _count("Red cells counted (the denominator)", p["red_cells"])
        components = [_count("Parasitized red cells counted", p["parasitized"]), denominator]
        values: dict[str, Any] = {"component": components}
        if p["parasitaemia"] is None:
            values["dataAbsentReason"] = _absent("No red cells counted")
        else:
            values["valueQuantity"] = _percent(p["parasitaemia"])
            low, high = p["ci95"]
            # The interval is the estimate's uncertainty, not a reference range: a component.
            components.insert(
                0,
                {
                    "code": {"text": "95 % confidence interval (Wilson score)"},
                    "valueRange": {"low": _percent(low), "high": _percent(high)},
                },
            )
        code = {"text": "Parasitaemia: parasitized red cells per 100 red cells counted"}
        urls = [self._observation("parasitaemia", code, red, specimen, **values)]
        for label in (PARASITIZED, UNINFECTED):
            cells = [c for c in red if counted_label(as_cell(c)) == label]
            code = {"text": f"{display_name(label)}s counted"}
            counts = {"valueInteger": p[label], "component": [denominator]}
            urls.append(self._observation(label, code, cells, specimen, **counts))
        return urls

    # --- the report -------------------------------------------------------------------------

    def _report(self, results: list[str], specimen) -> dict:
        slide = self.slide
        malaria = slide.parasitaemia is not None
        category = [
            _concept(("HM", "Hematology"), "Hematology", codes.DIAGNOSTIC_SECTION),
            _concept(("LAB", "Laboratory"), "Laboratory", codes.DIAGNOSTIC_SECTION),
        ]
        if malaria:
            code = {"text": "Malaria thin film: parasitaemia by digital morphology"}
        else:
            code = _concept(codes.DIFFERENTIAL_PANEL, "White-cell differential count")
        report: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "id": resource_url(slide.slide_id, "report").removeprefix("urn:uuid:"),
            "meta": {"lastUpdated": iso(self.updated)},
            "identifier": self._identifiers(),
            "status": self.status,
            "category": category,
            "code": code,
            **self._subject(),
            **self._effective(),
            "issued": iso(self.updated),
        }
        if self.technicians:
            report["performer"] = self._people(self.technicians)
        if self.reviewers:
            report["resultsInterpreter"] = self._people(self.reviewers)
        if specimen:
            report["specimen"] = [specimen]
        if results:
            report["result"] = [{"reference": url, "type": "Observation"} for url in results]
        report["conclusion"] = "\n".join(self._conclusion())
        return report

    def _identifiers(self) -> list[dict]:
        slide_id = self.slide.slide_id
        if UUID.match(slide_id):
            ids = [{"system": codes.URI, "value": f"urn:uuid:{slide_id.lower()}"}]
        else:  # an older app's slide id: any text the phone was given
            ids = [{"type": {"text": "Hematovision slide id"}, "value": slide_id}]
        if self.slide.record is not None:
            ids.append({"type": {"text": "Sample id"}, "value": self.slide.record.sample_id})
        return ids

    def _conclusion(self) -> list[str]:
        slide = self.slide
        if not slide.cells:
            return ["No cell of this slide has been synced yet.", DISCLAIMER]
        if slide.parasitaemia is not None:
            p = slide.parasitaemia
            lines = [
                f"Parasitaemia {parasitaemia_text(p)} (95 % CI {interval_text(p, '-')}, Wilson) "
                f"from {p['red_cells']} of {p['target']} red cells.",
                *p["flags"],
            ]
            apart = [
                ("Not a cell / artefact", p["apart"]["artefact"]),
                ("Other / cannot tell", p["apart"]["other"]),
                ("Not recognised, awaiting a person", p["unconfirmed"]),
            ]
            others = p["other_classes"].items()
            apart += [(f"{display_name(k)} (not a red-cell class)", n) for k, n in others]
        else:
            diff = slide.differential
            lines = [f"Differential count of {diff.white_cells} of {diff.target} white cells."]
            lines += diff.flags or ["No value outside the adult reference ranges."]
            apart = [
                ("Platelets seen (outside the count)", diff.platelets),
                ("Not a cell / artefact", diff.apart["artefact"]),
                ("Other / cannot tell", diff.apart["other"]),
                ("Not recognised, awaiting a person", diff.apart["unconfirmed"]),
            ]
            others = diff.other_classes.items()
            apart += [(f"{display_name(k)} (not in the differential)", n) for k, n in others]
        lines.append("; ".join(f"{what}: {n}" for what, n in apart) + ".")
        if slide.late_cells:
            late = len(slide.late_cells)
            lines.append(f"{late} cell(s) added after the slide was finished are not counted.")
        if self.status != "final":
            lines.append(f"Not final: {self._why_not_final()}")
        return [*lines, DISCLAIMER]

    def _why_not_final(self) -> str:
        if self.slide.record is None:
            return "a slide of an older app, which cannot be finished."
        if not self.slide.finished:
            return f"the slide is {self.slide.record.state}, not finished."
        return f"{len(_unsettled(self.slide))} counted cell(s) still wait for a person or a review."


def _absent(text: str) -> dict:
    return _concept(("not-applicable", "Not Applicable"), text, codes.DATA_ABSENT)


def _count(text: str, n: int) -> dict:
    return {"code": {"text": text}, "valueInteger": n}
