"""Cells a spreadsheet would run as a formula, or rewrite, and cells it would not: the table both
CSV exports are tested on (the dashboard's safe_cell and the phone's pwa/js/data/csv.js)."""

FORMULA_CELLS = [
    "=1+1",
    '=HYPERLINK("http://evil.example","click")',
    "+33 6 12",
    "-2+3",
    "@SUM(A1)",
    " =1+1",  # behind a space
    "   \t=cmd|' /C calc'!A0",  # spaces and a tab
    "\u3000=1",  # ideographic space
    "\u00a0@x",  # no-break space
    "\u200b=1",  # zero-width space (a format character)
    "\ufeff=1",  # byte-order mark
    "\x00=1",  # NUL
    '＝HYPERLINK("http://evil.example")',  # fullwidth =
    "＋1",  # fullwidth +
    "－1",  # fullwidth -
    "＠SUM(A1)",  # fullwidth @
    "﹦1",  # small =
    " ＝1",  # a space, then fullwidth
    "\tnote",  # a leading tab, CR or LF is rewritten by some spreadsheets
    "\rnote",
    "\nnote",
]
PLAIN_CELLS = [
    "neutrophil",
    " neutrophil",
    "a=b",
    "S-1",
    "Lame-Ω-7é",
    "１２",  # fullwidth digits
    "好中球",
    "",
]
