"""The phone's differential (pwa/js/classifier/differential.js, in Chromium) and the server's
(classifier.differential) give the same answer on the same cells, to the decimal: random slides
with people's corrections, unrecognised cells, platelets and artefacts, and the rounding ties."""

import dataclasses
import random

import pytest

from classifier.differential import Cell, differential, display_name

pytestmark = [pytest.mark.browser]

LABELS = ["neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil", "ig"]
LABELS += ["erythroblast", "platelet", "parasitized"]
PEOPLE = [None, None, None, "artefact", "other", *LABELS]


def random_slide(rng: random.Random) -> tuple[list[Cell], int]:
    cells = [
        Cell(
            rng.choice(LABELS),
            rng.choice(["confident", "review", "unfamiliar"]),
            rng.choice(PEOPLE),
            rng.choice([None, None, *PEOPLE]),
        )
        for _ in range(rng.randint(0, 260))
    ]
    return cells, rng.choice([100, 200])


SLIDES = [random_slide(random.Random(seed)) for seed in range(60)]
# Rounding ties: 1 of 8 (12.5), 1 and 3 of 400 (0.25, 0.75), a slide with no white cell.
SLIDES += [
    ([Cell("monocyte", "confident")] + [Cell("neutrophil", "confident")] * 7, 100),
    ([Cell("basophil", "confident")] * 3 + [Cell("lymphocyte", "confident")] * 397, 200),
    ([Cell("platelet", "confident"), Cell("erythroblast", "unfamiliar", "erythroblast")], 100),
    ([], 100),
]


@pytest.fixture(scope="module")
def page(app_origin_page):
    return app_origin_page


def test_phone_and_server_give_the_same_differential(page):
    got = page.evaluate(
        """async (slides) => {
            const { differential } = await import('/js/classifier/differential.js');
            return slides.map(([cells, target]) => differential(cells, { target }));
        }""",
        [[[dataclasses.asdict(c) for c in cells], target] for cells, target in SLIDES],
    )
    for (cells, target), js in zip(SLIDES, got, strict=True):
        assert js == differential(cells, target).to_dict()
    ties = [row["percent"] for row in got[-4]["rows"] + got[-3]["rows"] if row["count"]]
    assert ties == [87.5, 12.5, 99.3, 0.8]  # half-up on both sides


def test_display_names_are_the_same(page):
    labels = [*LABELS, "artefact", "other", "uninfected", "band_cell"]
    card = {"display_names": {"ig": "Granulocyte immature"}}
    got = page.evaluate(
        """async ([labels, card]) => {
            const { displayName } = await import('/js/classifier/differential.js');
            return [labels.map((l) => displayName(l)), labels.map((l) => displayName(l, card))];
        }""",
        [labels, card],
    )
    assert got[0] == [display_name(label) for label in labels]
    assert got[1] == [display_name(label, card) for label in labels]
