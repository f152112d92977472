// Slides: classifications grouped under a patient/sample id, with the running differential
// count (count and % per class, toward the 100 cells of a manual differential). A corrected
// label counts instead of the model's.
export const TARGET_CELLS = 100;

export function differential(records, labels) {
  const counts = new Map(labels.map((l) => [l, 0]));
  for (const r of records) {
    const label = r.corrected_label || r.label;
    counts.set(label, (counts.get(label) || 0) + 1);
  }
  const total = records.length;
  const rows = [...counts].map(([label, count]) => ({ label, count, percent: total ? (100 * count) / total : 0 }));
  return { rows, total };
}

export class SlidePanel {
  constructor(root, { onCreate, onSelect, onExport }) {
    this.q = (sel) => root.querySelector(sel);
    this.q("#slide-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const sampleId = this.q("#slide-sample").value.trim();
      if (sampleId) onCreate(sampleId);
      this.q("#slide-sample").value = "";
    });
    this.q("#slide-select").addEventListener("change", (e) => onSelect(e.target.value || null));
    this.q("#slide-csv").addEventListener("click", onExport);
  }

  render(slides, currentId, records, labels) {
    const select = this.q("#slide-select");
    const sorted = [...slides].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    select.replaceChildren(
      new Option("No slide (single images)", ""),
      ...sorted.map((s) => new Option(`${s.sampleId} · ${s.createdAt.slice(0, 10)}`, s.id)),
    );
    select.value = currentId || "";
    const { rows, total } = differential(records, labels);
    this.q("#slide-csv").disabled = !currentId;
    this.q("#slide-meter").value = Math.min(total, TARGET_CELLS);
    this.q("#slide-progress").textContent = currentId
      ? `${total} of ${TARGET_CELLS} cells counted${total >= TARGET_CELLS ? " — target reached" : ""}.`
      : "Start or choose a slide; new results are then counted on it.";
    this.q("#slide-table tbody").replaceChildren(
      ...rows.map((row) => {
        const tr = document.createElement("tr");
        for (const value of [row.label, row.count, row.percent.toFixed(1)]) {
          const td = document.createElement("td");
          td.textContent = value;
          tr.append(td);
        }
        return tr;
      }),
    );
    return { rows, total };
  }
}
