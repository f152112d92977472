"""The one parasitaemia rule (classifier.parasitaemia): what counts, the Wilson interval checked
against values worked by hand, and the rounding."""

import pytest

from classifier.differential import Cell
from classifier.parasitaemia import hundredths_half_up, parasitaemia, percent_half_up


def cells(**counts):
    return [Cell(label, "confident") for label, n in counts.items() for _ in range(n)]


# Each interval worked by hand from (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n):
# 12/1000: centre 0.013868, margin 0.006990 -> 0.6878 %, 2.0858 %;
# 0/1000: upper (z²/n) / (1 + z²/n) = 0.0038416 / 1.0038416 = 0.3827 %;
# 1/1000: centre 0.0029096, margin 0.0027331 -> 0.0177 %, 0.5643 %;
# 1/1: (2.9208 - 1.96 * 0.98) / 4.8416 = 20.654 %, upper 100 %;
# 50/100: 0.5 ± 1.96 * sqrt(0.0025 + 0.00009604) / 1.038416 = 0.5 ± 0.096170 -> 40.38, 59.62.
@pytest.mark.parametrize(
    ("parasitized", "red_cells", "percent", "ci95"),
    [
        (12, 1000, 1.2, [0.69, 2.09]),
        (0, 1000, 0.0, [0.0, 0.38]),
        (1, 1000, 0.1, [0.02, 0.56]),
        (1, 1, 100.0, [20.65, 100.0]),
        (50, 100, 50.0, [40.38, 59.62]),
    ],
)
def test_parasitaemia_and_its_wilson_interval(parasitized, red_cells, percent, ci95):
    result = parasitaemia(cells(parasitized=parasitized, uninfected=red_cells - parasitized))
    assert (result["red_cells"], result["parasitized"]) == (red_cells, parasitized)
    assert (result["parasitaemia"], result["ci95"]) == (percent, ci95)


def test_people_s_labels_win_and_unrecognised_cells_wait_by_record():
    slide = [
        Cell("parasitized", "confident", id="a"),
        Cell("parasitized", "review", corrected_label="uninfected", id="b"),
        Cell("uninfected", "confident", corrected_label="uninfected", reviewed_label="parasitized"),
        Cell("uninfected", "unfamiliar", id="waits"),
        Cell("parasitized", "unfamiliar", corrected_label="parasitized"),
        Cell("uninfected", "confident", corrected_label="artefact"),
        Cell("uninfected", "confident", reviewed_label="other"),
        Cell("lymphocyte", "confident"),
    ]
    result = parasitaemia(slide, target=500)
    assert (result["red_cells"], result["parasitized"], result["uninfected"]) == (4, 3, 1)
    assert result["parasitaemia"] == 75.0
    assert (result["unconfirmed"], result["unconfirmed_ids"]) == (1, ["waits"])
    assert result["apart"] == {"artefact": 1, "other": 1}
    assert result["other_classes"] == {"lymphocyte": 1}
    assert result["total"] == 8 and not result["target_reached"]
    assert result["flags"] == [
        "Only 4 of 500 red cells counted: the interval is wide.",
        "1 unrecognised cell(s) are not counted until a person confirms a class.",
    ]


def test_nothing_counted_has_no_percentage_and_the_target_is_per_slide():
    waiting = parasitaemia([Cell("parasitized", "unfamiliar")] * 3)
    assert (waiting["parasitaemia"], waiting["ci95"], waiting["target"]) == (None, None, 1000)
    assert waiting["unconfirmed"] == 3
    reached = parasitaemia(cells(uninfected=500), target=500)
    assert reached["target_reached"] and reached["flags"] == []


def test_rounding_is_half_up_where_python_s_round_is_not():
    assert hundredths_half_up(1, 800) == 0.13  # 0.125: round() gives 0.12
    assert hundredths_half_up(13, 20000) == 0.07  # 0.065
    assert hundredths_half_up(2, 3) == 66.67
    assert percent_half_up(0.00125) == 0.13
    assert percent_half_up(0.0) == 0.0 and percent_half_up(1.0) == 100.0
