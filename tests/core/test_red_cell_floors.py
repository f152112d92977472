"""Red-cell field mode finds the red cells of malaria-fields (another site than the NIH crops):
floors at IoU >= 0.5, two points under what was measured when the finder was tuned on these
same 10 fields (bench/red_cell_fields.py; docs/classifier.md has the figures and says so)."""

import functools

import pytest

from bench.red_cell_fields import finder_scores, near_edge
from training.annotations import matched_pairs

FLOORS = {
    # what a slide counts: cells away from the photo's edge
    "counted": {"recall": 0.913, "precision": 0.909},
    # every found cell against every boxed one, cut cells included
    "all": {"recall": 0.918, "precision": 0.787},
}


@functools.cache
def scores():
    return finder_scores()


@pytest.mark.parametrize("part", sorted(FLOORS))
def test_red_cells_found_on_malaria_fields_above_the_floors(part):
    figures = scores()[part]
    assert scores()["photos"] == 10
    for key, floor in FLOORS[part].items():
        assert figures[key] >= floor, (part, key, figures)


def test_counted_leaves_out_cut_cells_only():
    counted, every = scores()["counted"], scores()["all"]
    assert 0 < every["annotated"] - counted["annotated"] < every["annotated"] / 5
    assert counted["found"] < every["found"]


def test_matching_is_one_to_one_and_needs_half_overlap():
    truth = [[0, 0, 10, 10], [20, 0, 30, 10]]
    found = [[0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 24, 10]]
    # the second find overlaps the first box as well, but that box is taken; the third
    # covers only 40% of its box
    assert matched_pairs(found, truth) == [(0, 0)]


def test_near_edge_is_within_the_margin():
    assert near_edge([2, 50, 40, 90], 100, 100)
    assert near_edge([50, 50, 98, 90], 100, 100)
    assert not near_edge([3, 3, 97, 97], 100, 100)
