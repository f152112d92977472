// CSV export (RFC 4180 quoting; a cell a spreadsheet would run as a formula gets a leading ').
const COLUMNS = [
  "id", "captured_at", "slide_id", "sample_id", "model_name", "model_version", "label",
  "corrected_label", "reviewed_label", "reviewed_by", "confidence", "status", "sync_state", "sync_error", "device_id", "note",
];

// The server's rule (backend/dashboard/exports.py safe_cell): = + - @ also count behind leading
// blanks or control characters and in fullwidth or small forms (NFKC folds ＝ to =); a cell that
// starts with a tab, CR or LF is quoted too.
const LEADING_BLANKS = /^[\s\p{C}]+/u;

export function cell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  const head = text.normalize("NFKC").replace(LEADING_BLANKS, "");
  if (/^[=+\-@]/.test(head) || /^[\t\r\n]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function predictionsCsv(records, slidesById = {}) {
  const lines = [COLUMNS.join(",")];
  for (const r of records) {
    const slide = slidesById[r.slide_id];
    const row = {
      ...r,
      sample_id: slide ? slide.sample_id || slide.sampleId : "",
      reviewed_by: r.review ? r.review.by : "",
      sync_state: r.syncState,
      sync_error: r.syncError,
    };
    lines.push(COLUMNS.map((c) => cell(row[c])).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

/** The slide's table (slide-panel.js's slideTable): a row per class (percent only for white
 * cells), then the white-cell total. */
export function countsCsv(sampleId, table) {
  const lines = [["sample_id", "class", "count", "percent", "note"].join(",")];
  // Percentages come already rounded half-up by the rule: toFixed only pads the digits.
  const digits = table.digits || 1;
  for (const row of table.rows) {
    const percent = row.percent === null || row.percent === undefined ? "" : row.percent.toFixed(digits);
    lines.push([cell(sampleId), cell(row.label), row.count, percent, cell(row.note)].join(","));
  }
  if (table.kind === "malaria") {
    lines.push([cell(sampleId), "total", table.counts.red_cells, "", `red cells counted of ${table.counts.target}`].join(","));
    return lines.join("\r\n") + "\r\n";
  }
  const white = table.counts.white_cells;
  lines.push([cell(sampleId), "total", white, white ? "100.0" : "0.0", "white cells"].join(","));
  return lines.join("\r\n") + "\r\n";
}

export function downloadText(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
