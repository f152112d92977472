"""The one differential rule (classifier.differential): what counts, on which basis, and the
flags a hematologist would write."""

import pytest

from classifier.differential import Cell, counted_label, differential, display_name, tenths_half_up


def cells(**counts):
    return [Cell(label, "confident") for label, n in counts.items() for _ in range(n)]


def _row(diff, label):
    return next(r for r in diff.rows if r.label == label)


def test_white_cells_as_percent_of_white_cells_platelets_and_erythroblasts_apart():
    diff = differential(
        cells(neutrophil=60, lymphocyte=30, monocyte=5, eosinophil=3, basophil=2)
        + cells(erythroblast=4, platelet=6)
    )
    assert (diff.total, diff.white_cells, diff.platelets) == (110, 100, 6)
    assert _row(diff, "neutrophil").percent == 60.0 and _row(diff, "neutrophil").flag is None
    assert _row(diff, "ig").count == 0 and _row(diff, "ig").flag is None
    nrbc = _row(diff, "erythroblast")
    assert (nrbc.percent, nrbc.basis, nrbc.flag) == (4.0, "per 100 white cells", "high")
    assert "platelet" not in [r.label for r in diff.rows]
    assert diff.flags == [
        "Erythroblast (nucleated red cell) 4.0 per 100 white cells: above the adult range 0-0"
    ]
    assert diff.target_reached


def test_the_issue_s_slide_platelets_never_dilute_the_white_cells():
    # The phone used to say neutrophil 17.6 % after 17 cells, 4 of them platelets.
    diff = differential(cells(neutrophil=3, lymphocyte=8, monocyte=2, platelet=4))
    assert _row(diff, "neutrophil").percent == 23.1
    assert diff.white_cells == 13 and diff.platelets == 4 and not diff.target_reached


def test_low_high_and_a_small_count_are_flagged():
    diff = differential(cells(neutrophil=9, lymphocyte=1))
    assert _row(diff, "neutrophil").flag == "high"  # 90 %
    assert _row(diff, "lymphocyte").flag == "low"  # 10 %
    assert _row(diff, "eosinophil").flag == "low"  # 0 % against 1-6
    assert any("Only 10 white cells" in f for f in diff.flags)


def test_people_s_labels_count_and_unrecognised_cells_wait_for_one():
    slide = [
        Cell("monocyte", "confident", corrected_label="lymphocyte"),  # the technician's
        Cell("monocyte", "confident", "lymphocyte", reviewed_label="monocyte"),  # reviewer wins
        Cell("platelet", "unfamiliar"),  # junk the model did not recognise: not counted
        Cell("platelet", "unfamiliar", corrected_label="artefact"),
        Cell("neutrophil", "review", reviewed_label="other"),
        Cell("ig", "unfamiliar", reviewed_label="ig"),  # confirmed by a person: counted
        Cell("parasitized", "confident"),
    ]
    counted = ["lymphocyte", "monocyte", None, "artefact", "other", "ig", "parasitized"]
    assert [counted_label(c) for c in slide] == counted
    diff = differential(slide, target=200)
    assert diff.white_cells == 3 and diff.platelets == 0 and diff.total == 7
    assert diff.apart == {"artefact": 1, "other": 1, "unconfirmed": 1}
    assert diff.other_classes == {"parasitized": 1}
    assert diff.target == 200
    assert "1 unrecognised cell(s) are not counted until a person confirms a class." in diff.flags


def test_a_malaria_slide_has_no_white_cell_rows():
    diff = differential(cells(parasitized=3, uninfected=7))
    assert diff.rows == [] and diff.other_classes == {"parasitized": 3, "uninfected": 7}
    assert diff.flags == []


@pytest.mark.parametrize(
    ("count", "whole", "percent"), [(1, 8, 12.5), (1, 400, 0.3), (3, 400, 0.8), (1, 3, 33.3)]
)
def test_percentages_round_half_up_from_integers(count, whole, percent):
    assert tenths_half_up(count, whole) == percent


def test_display_names_from_the_card_else_the_table():
    assert display_name("ig") == "Immature granulocyte"
    assert display_name("artefact") == "Not a cell / artefact"
    assert display_name("band_cell") == "Band cell"
    assert display_name("ig", {"display_names": {"ig": "Granulocyte immature"}}) == (
        "Granulocyte immature"
    )


def test_display_names_in_a_language_from_the_card_else_class_names_json():
    card = {"display_names": {"ig": "IG"}, "display_names_by_language": {"fr": {"ig": "GI"}}}
    assert display_name("ig", card, language="fr") == "GI"
    assert display_name("ig", card) == "IG"  # English: the card's own display_names
    assert display_name("ig", card, language="es") == "Granulocito inmaduro"
    assert display_name("erythroblast", language="pt") == "Eritroblasto (hemácia nucleada)"
    assert display_name("band_cell", language="fr") == "Band cell"  # no name anywhere
    assert display_name("ig", language="xx") == "Immature granulocyte"
