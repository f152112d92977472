"""The phone's CSV export (pwa/js/data/csv.js) neutralises the very cells the dashboard's does
(backend/dashboard/exports.py safe_cell): the same table, the module run by Node (it touches no
browser API), each cell read back with Python's csv reader."""

import csv
import io
import json
import subprocess

from backend.dashboard.exports import safe_cell
from bench.pwa_driver import PWA_DIR
from tests.dashboard.csv_cases import FORMULA_CELLS, PLAIN_CELLS

SCRIPT = """
import { readFileSync } from "node:fs";
const { cell } = await import(process.argv[1]);
const cells = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(cells.map(cell)));
"""


def test_the_phone_and_the_dashboard_neutralise_the_same_cells():
    cells = FORMULA_CELLS + PLAIN_CELLS + [None]
    module = (PWA_DIR / "js" / "data" / "csv.js").as_uri()
    result = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT, module],
        input=json.dumps(cells),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    written = json.loads(result.stdout)
    for text, field in zip(cells, written, strict=True):
        rows = list(csv.reader(io.StringIO(field, newline="")))  # one field, as a spreadsheet
        read = rows[0][0] if rows else ""
        assert read == safe_cell(text), (text, field)
        assert read.startswith("'") == (text in FORMULA_CELLS), (text, field)
