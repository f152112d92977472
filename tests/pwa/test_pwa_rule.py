"""The app's preprocessing and decision rule, run in Chromium, against the Python reference:
the Pillow resize port gives the very pixels of classifier.classify.load_image, and decide() gives
classifier.classify.decide's (label, confidence, status, reason) on a table of edge cases."""

import base64

import numpy as np
import pytest
from PIL import Image

from bench.inputs import dataset_images
from classifier.classify import STATUS_REASONS, decide, field_decision, load_image

pytestmark = [pytest.mark.browser]

LABELS = ["a", "b", "c"]
DECISION = {"unfamiliar_below": 0.3, "confident_at_or_above": 0.8}
CASES = [
    ([0.9, 0.05, 0.05], 0.9),  # confident
    ([0.8, 0.1, 0.1], 0.5),  # exactly at the confident threshold
    ([0.5, 0.3, 0.2], 0.9),  # review: below the threshold
    ([0.95, 0.03, 0.02], 0.29),  # unfamiliar wins over confident
    ([0.95, 0.03, 0.02], 0.3),  # exactly at the familiarity threshold: familiar
    ([0.4, 0.4, 0.2], 1.0),  # a tie: the first maximum, like np.argmax
    ([0.5, 0.3, 0.2], 0.1),  # unfamiliar wins over below the threshold
]
# decide's (status, reason) of each case
CASE_CALLS = [
    ("confident", None),
    ("confident", None),
    ("review", "below_threshold"),
    ("unfamiliar", "unfamiliar"),
    ("confident", None),
    ("review", "below_threshold"),
    ("unfamiliar", "unfamiliar"),
]


@pytest.fixture(scope="module")
def page(app_origin_page):
    return app_origin_page


def test_decide_matches_backend_classify(page):
    got = page.evaluate(
        """async ([cases, labels, decision]) => {
            const { decide } = await import('/js/classifier/decision-rule.js');
            return cases.map(([p, f]) => decide(Float32Array.from(p), f, labels, decision));
        }""",
        [CASES, LABELS, DECISION],
    )
    for (probabilities, familiarity), js, call in zip(CASES, got, CASE_CALLS, strict=True):
        probabilities = np.asarray(probabilities, dtype=np.float32)
        label, confidence, status, reason = decide(probabilities, familiarity, LABELS, DECISION)
        assert (js["label"], js["status"], js["reason"]) == (label, status, reason)
        assert js["confidence"] == pytest.approx(confidence)
        assert (status, reason) == call


def test_field_cells_use_the_field_thresholds_in_both(page):
    with_field = {**DECISION, "field": {"confident_at_or_above": 0.95}}
    got = page.evaluate(
        """async ([cases, labels, decisions]) => {
            const { decide, fieldDecision } = await import('/js/classifier/decision-rule.js');
            return decisions.map((d) => cases.map(([p, f]) => {
                const call = decide(Float32Array.from(p), f, labels, fieldDecision(d));
                return [call.status, call.reason];
            }));
        }""",
        [CASES, LABELS, [DECISION, with_field]],
    )
    for decision, js in zip((DECISION, with_field), got, strict=True):
        rule = field_decision(decision)
        python = [list(decide(np.float32(p), f, LABELS, rule)[2:]) for p, f in CASES]
        assert js == python
    # 0.9 is confident for a close-up but under the field cell's stricter threshold
    assert got[0][0] == ["confident", None] and got[1][0] == ["review", "below_threshold"]


def js_resize(page, rgb: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    h, w, _ = rgb.shape
    values = page.evaluate(
        """async ([b64, w, h, outW, outH]) => {
            const { pilResize } = await import('/js/classifier/pil-resize.js');
            const rgb = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const out = pilResize(rgb, w, h, outW, outH, 'bilinear');
            let text = '';
            for (let i = 0; i < out.length; i += 8192) {
                text += String.fromCharCode.apply(null, out.subarray(i, i + 8192));
            }
            return btoa(text);
        }""",
        [base64.b64encode(rgb.tobytes()).decode(), w, h, out_w, out_h],
    )
    return np.frombuffer(base64.b64decode(values), dtype=np.uint8).reshape(out_h, out_w, 3)


@pytest.mark.parametrize("dataset", ["pbc", "malaria"])
@pytest.mark.parametrize("size", [96, 160, 224])
def test_resize_gives_the_pixels_of_backend_classify(page, dataset, size):
    for path in dataset_images(dataset, per_class=1)[:3]:
        rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
        assert np.array_equal(js_resize(page, rgb, size, size), load_image(str(path), size)), path


def test_resize_matches_pillow_on_every_kind_of_size_change(page):
    # Up, down and mixed along each axis: Pillow picks the order of its two passes by size.
    rng = np.random.default_rng(7)
    for _ in range(25):
        w, h = (int(v) for v in rng.integers(8, 300, 2))
        out_w, out_h = (int(v) for v in rng.integers(8, 260, 2))
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        want = np.asarray(Image.fromarray(rgb).resize((out_w, out_h), Image.Resampling.BILINEAR))
        assert np.array_equal(js_resize(page, rgb, out_w, out_h), want), (w, h, out_w, out_h)


# (probabilities, familiarity, views): the view check (model.json view_check) in both rules
VIEW_CASES = [
    ([0.9, 0.05, 0.05], 0.9, [[0.85, 0.1, 0.05]]),  # holds when turned: confident
    ([0.9, 0.05, 0.05], 0.9, [[0.79, 0.2, 0.01]]),  # does not hold: review
    ([0.9, 0.05, 0.05], 0.9, [[0.8, 0.1, 0.1]]),  # exactly at the threshold when turned
    ([0.9, 0.05, 0.05], 0.9, [[0.05, 0.9, 0.05]]),  # another class when turned: review
    ([0.9, 0.05, 0.05], 0.2, [[0.05, 0.9, 0.05]]),  # unfamiliar stays unfamiliar
    ([0.5, 0.3, 0.2], 0.9, [[0.99, 0.0, 0.01]]),  # a sure view never lifts a review
    ([0.9, 0.05, 0.05], 0.9, [[0.9, 0.05, 0.05], [0.7, 0.2, 0.1]]),  # every view must hold
]


def test_view_check_matches_backend_classify(page):
    got = page.evaluate(
        """async ([cases, labels, decision]) => {
            const { decide } = await import('/js/classifier/decision-rule.js');
            return cases.map(([p, f, views]) => decide(Float32Array.from(p), f, labels, decision,
                views.map((v) => Float32Array.from(v))));
        }""",
        [VIEW_CASES, LABELS, DECISION],
    )
    expected = [
        ("confident", None),
        ("review", "view_check"),
        ("confident", None),
        ("review", "view_check"),
        ("unfamiliar", "unfamiliar"),
        ("review", "below_threshold"),  # unsure on the image itself: the turn is not the reason
        ("review", "view_check"),
    ]
    for case, js, call in zip(VIEW_CASES, got, expected, strict=True):
        probabilities, familiarity, views = case
        python = decide(np.float32(probabilities), familiarity, LABELS, DECISION, np.float32(views))
        assert (js["label"], js["status"], js["reason"]) == (python[0], *python[2:])
        assert python[2:] == call


def test_both_rules_name_the_same_reasons(page):
    # The codes records carry to the server: one enum, in the same order, on both sides.
    js = page.evaluate(
        "async () => (await import('/js/classifier/decision-rule.js')).STATUS_REASONS"
    )
    assert js == list(STATUS_REASONS) == ["below_threshold", "view_check", "unfamiliar", "no_cell"]
