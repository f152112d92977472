"""The differential count of a slide against adult reference ranges.

White-cell classes are counted as a percentage of the white cells; nucleated red cells
(erythroblasts) per 100 white cells, as laboratories report them; any other class (platelets,
the malaria screen's classes) as a percentage of all cells on the slide, without a range.

Ranges: typical adult peripheral-blood values in % of white cells (Bain, Bates & Laffan,
Dacie and Lewis Practical Haematology, 12th ed., 2017, ch. 2): neutrophils 40-80,
lymphocytes 20-40, monocytes 2-10, eosinophils 1-6, basophils 0-2; immature granulocytes
(not in that table) are below 1 % in healthy adults; nucleated red cells are absent. Each
laboratory should check them against its own ranges."""

from collections import Counter
from dataclasses import dataclass

WBC_RANGES: dict[str, tuple[float, float]] = {
    "neutrophil": (40.0, 80.0),
    "lymphocyte": (20.0, 40.0),
    "monocyte": (2.0, 10.0),
    "eosinophil": (1.0, 6.0),
    "basophil": (0.0, 2.0),
    "ig": (0.0, 1.0),
}
PER_100_WBC_RANGES: dict[str, tuple[float, float]] = {"erythroblast": (0.0, 0.0)}
# Below this many white cells a percentage is too imprecise to lean on (a 100-cell manual
# differential is the usual minimum).
MIN_WBC_FOR_PERCENT = 100


@dataclass(frozen=True)
class DifferentialRow:
    label: str
    count: int
    percent: float | None
    basis: str  # "% of white cells", "per 100 white cells" or "% of all cells"
    low: float | None
    high: float | None

    @property
    def flag(self) -> str | None:
        if self.percent is None or self.low is None or self.high is None:
            return None
        if self.percent > self.high:
            return "high"
        if self.percent < self.low:
            return "low"
        return None

    @property
    def range_text(self) -> str:
        if self.low is None or self.high is None:
            return "no reference range"
        return f"{self.low:g}-{self.high:g}"


@dataclass(frozen=True)
class Differential:
    rows: list[DifferentialRow]
    total_cells: int
    white_cells: int

    @property
    def flags(self) -> list[str]:
        out = [
            f"{r.label} {r.percent:.1f} {r.basis}: "
            f"{'above' if r.flag == 'high' else 'below'} the adult range {r.range_text}"
            for r in self.rows
            if r.flag
        ]
        if 0 < self.white_cells < MIN_WBC_FOR_PERCENT:
            out.append(
                f"Only {self.white_cells} white cells counted (fewer than "
                f"{MIN_WBC_FOR_PERCENT}): the percentages are imprecise."
            )
        return out


def differential(labels: list[str]) -> Differential:
    counts = Counter(labels)
    total = sum(counts.values())
    wbc = sum(counts[label] for label in WBC_RANGES)
    rows = []
    classes = list(WBC_RANGES) if wbc else []
    classes += [label for label in PER_100_WBC_RANGES if wbc or counts[label]]
    classes += sorted(set(counts) - set(classes))
    for label in classes:
        rows.append(_row(label, counts[label], wbc, total))
    return Differential(rows, total, wbc)


def _row(label: str, count: int, wbc: int, total: int) -> DifferentialRow:
    if label in WBC_RANGES:
        low, high = WBC_RANGES[label]
        percent = 100.0 * count / wbc if wbc else None
        return DifferentialRow(label, count, percent, "% of white cells", low, high)
    if label in PER_100_WBC_RANGES:
        low, high = PER_100_WBC_RANGES[label]
        percent = 100.0 * count / wbc if wbc else None
        return DifferentialRow(label, count, percent, "per 100 white cells", low, high)
    percent = 100.0 * count / total if total else None
    return DifferentialRow(label, count, percent, "% of all cells", None, None)
