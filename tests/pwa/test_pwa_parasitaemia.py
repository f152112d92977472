"""The phone's parasitaemia (pwa/js/classifier/parasitaemia.js, in Chromium) and the server's
(classifier.parasitaemia) give the same answer on the same cells, to the last digit: random
malaria slides with people's corrections, unrecognised cells, artefacts and white cells, and the
edge cases of the interval and of the rounding."""

import dataclasses
import json
import random

import pytest

from classifier.differential import Cell
from classifier.parasitaemia import TARGETS, parasitaemia

pytestmark = [pytest.mark.browser]

LABELS = ["parasitized", "uninfected", "uninfected", "uninfected"]
PEOPLE = [None, None, None, "artefact", "other", "parasitized", "uninfected", "lymphocyte"]


def random_slide(rng: random.Random) -> tuple[list[Cell], int]:
    size = rng.choice([rng.randint(0, 40), rng.randint(0, 1200)])
    cells = [
        Cell(
            rng.choice(LABELS),
            rng.choice(["confident", "confident", "review", "unfamiliar"]),
            rng.choice(PEOPLE),
            rng.choice([None, None, None, *PEOPLE]),
            id=f"r{i}",
        )
        for i in range(size)
    ]
    return cells, rng.choice(TARGETS)


def red(parasitized: int, uninfected: int) -> list[Cell]:
    return [Cell("parasitized", "confident")] * parasitized + [
        Cell("uninfected", "confident")
    ] * uninfected


SLIDES = [random_slide(random.Random(seed)) for seed in range(56)]
SLIDES += [
    ([], 1000),  # nothing at all
    ([Cell("parasitized", "unfamiliar", id=f"u{i}") for i in range(7)], 500),  # all waiting
    (red(1, 999), 1000),  # 1 of 1000
    (red(12, 988), 1000),  # the hand-worked 1.20 % (0.69-2.09)
    (red(1000, 0), 1000),  # p = n: the interval's top is 100
    (red(1, 799), 500),  # 0.125 %: a half-up tie at two decimals
    (red(13, 19987), 5000),  # 0.065 %
    (red(2, 1), 2000),  # 66.666...
]


@pytest.fixture(scope="module")
def page(app_origin_page):
    return app_origin_page


def test_phone_and_server_give_the_same_parasitaemia(page):
    got = page.evaluate(
        """async (slides) => {
            const { parasitaemia } = await import('/js/classifier/parasitaemia.js');
            return slides.map(([cells, target]) => JSON.stringify(parasitaemia(cells, { target })));
        }""",
        [[[dataclasses.asdict(c) for c in cells], target] for cells, target in SLIDES],
    )
    assert len(got) == len(SLIDES) == 64
    for (cells, target), js in zip(SLIDES, got, strict=True):
        python = parasitaemia(cells, target)
        assert _json_text(python) == js
    edges = [(r["parasitaemia"], r["ci95"]) for r in map(json.loads, got[-6:])]
    assert edges == [
        (0.1, [0.02, 0.56]),
        (1.2, [0.69, 2.09]),
        (100, [99.62, 100]),
        (0.13, [0.02, 0.7]),
        (0.07, [0.04, 0.11]),
        (66.67, [20.77, 93.85]),
    ]


def _json_text(value) -> str:
    """Python's JSON in the form JS's JSON.stringify writes it (1.0 as 1, no spaces)."""

    def plain(v):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False)
