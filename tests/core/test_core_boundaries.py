"""The classifier core stands on its own: training and the core never load the server.

Each check runs in a fresh interpreter, so what an earlier test imported cannot hide a
dependency: a training run must not pay for Flask, SQLAlchemy and Alembic, and the phones'
reference classifier must not need TensorFlow."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVER = (
    "flask",
    "flask_sqlalchemy",
    "flask_login",
    "flask_jwt_extended",
    "flask_wtf",
    "sqlalchemy",
    "alembic",
    "backend",
)


def loaded_after(statement: str) -> set[str]:
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    return {name.split(".")[0] for name in json.loads(run.stdout.splitlines()[-1])}


@pytest.mark.parametrize(
    "statement",
    [
        "import training.train",
        "import training.release, training.field_framing, training.other_labs",
        "import classifier.classify, classifier.find_cells, classifier.model_card",
    ],
)
def test_training_and_the_core_never_load_the_server(statement):
    assert loaded_after(statement).isdisjoint(SERVER)


def test_the_core_needs_neither_training_nor_tensorflow():
    loaded = loaded_after("import classifier.classify, classifier.find_cells")
    assert loaded.isdisjoint({"training", "tensorflow", "keras"})


def test_old_module_paths_are_the_same_modules():
    import backend.classify
    import backend.find_cells
    import classifier.classify
    import classifier.find_cells

    assert backend.classify is classifier.classify
    assert backend.find_cells is classifier.find_cells
