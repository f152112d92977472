"""The command lines give what they gave before the classifier core moved out of `backend`.

`golden/<model>.<set>.jsonl` was printed by `python -m backend.classify` (and
`backend.find_cells`) before the move, over the images listed in `golden/<set>.txt` (paths
relative to the datasets folder): 50 pbc test images, 13 malaria test images and 10 bccd field
photos. The new module paths and the old aliases must print the same lines. Labels, statuses,
boxes, keys and their order must match exactly; probabilities to within 2e-4, since another
CPU's float kernels may round the fourth decimal the other way. One key was added since, on
purpose: "status_reason" (why a call is not confident; null when it is),
which must agree with the status."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from training.paths import datasets_root

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = [
    ("classifier.classify", "wbc-differential/1.0.0", "pbc", []),
    ("classifier.classify", "wbc-differential/1.1.0", "pbc", []),
    ("classifier.classify", "malaria-screen/1.0.0", "malaria", []),
    ("classifier.classify", "wbc-differential/1.0.0", "field", ["--field"]),
    ("classifier.classify", "wbc-differential/1.1.0", "field", ["--field"]),
    ("backend.classify", "wbc-differential/1.1.0", "pbc", []),
    ("backend.classify", "wbc-differential/1.1.0", "field", ["--field"]),
    ("classifier.find_cells", None, "field", []),
    ("backend.find_cells", None, "field", []),
]


# The status each reason goes with (classifier.classify.STATUS_REASONS).
REASON_OF = {"confident": {None}, "review": {"below_threshold", "view_check"}}
REASON_OF["unfamiliar"] = {"unfamiliar", "no_cell"}


def same(new, old, where: str) -> None:
    assert type(new) is type(old), f"{where}: {new!r} != {old!r}"
    if isinstance(old, dict):
        if "status" in old and "status_reason" not in old:
            reason = new.get("status_reason", "missing")
            assert reason in REASON_OF[old["status"]], f"{where}: {reason!r} for {old['status']}"
            new = {key: value for key, value in new.items() if key != "status_reason"}
        assert list(new) == list(old), f"{where}: keys {list(new)} != {list(old)}"
        for key in old:
            same(new[key], old[key], f"{where}.{key}")
    elif isinstance(old, list):
        assert len(new) == len(old), f"{where}: {len(new)} items, was {len(old)}"
        for i, (a, b) in enumerate(zip(new, old, strict=True)):
            same(a, b, f"{where}[{i}]")
    elif isinstance(old, float):
        assert new == pytest.approx(old, abs=2e-4), f"{where}: {new} != {old}"
    else:
        assert new == old, f"{where}: {new!r} != {old!r}"


@pytest.mark.parametrize(("module", "model", "image_set", "flags"), CASES)
def test_cli_prints_what_it_printed_before_the_move(module, model, image_set, flags):
    images = (GOLDEN / f"{image_set}.txt").read_text().split()
    assert all((datasets_root() / image).is_file() for image in images), "datasets missing"
    model_args = [str(REPO / "tflite_models" / model)] if model else []
    run = subprocess.run(
        [sys.executable, "-m", module, *model_args, *flags, *images],
        cwd=datasets_root(),
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    golden_name = f"{model.replace('/', '-') if model else 'find_cells'}.{image_set}.jsonl"
    old_lines = (GOLDEN / golden_name).read_text().splitlines()
    new_lines = run.stdout.splitlines()
    assert len(new_lines) == len(old_lines) == len(images)
    for new, old in zip(new_lines, old_lines, strict=True):
        same(json.loads(new), json.loads(old), json.loads(old)["image"])
