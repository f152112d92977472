// Draws the overview charts from the JSON the page carries; the same numbers are in the
// tables beside each chart, so nothing is lost without JavaScript or for a screen reader.
(function () {
  "use strict";
  const source = document.getElementById("overview-data");
  if (!source || typeof Chart === "undefined") return;
  const palette = ["#0b5cad", "#1a7f37", "#b3261e", "#8a5a00", "#6f42c1", "#0a7b83", "#d4580b", "#57606a"];
  // status colours match the badges of the tables: green, amber, red
  const statusColours = { confident: "#1a7f37", review: "#8a5a00", unfamiliar: "#b3261e" };
  const colour = (key, i) => statusColours[key] || palette[i % palette.length];
  let drawn = 0;
  for (const chart of JSON.parse(source.textContent)) {
    const canvas = document.getElementById("chart-" + chart.id);
    if (!canvas) continue;
    const round = chart.type === "doughnut";
    new Chart(canvas, {
      type: chart.type,
      data: {
        labels: chart.labels,
        datasets: [{
          label: chart.series, // the page's language
          data: chart.values,
          backgroundColor: round ? chart.keys.map(colour) : palette[0],
          borderColor: round ? "#fff" : palette[0],
          tension: 0.2,
        }],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: round } },
        scales: round ? {} : { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    drawn += 1;
  }
  document.body.dataset.chartsDrawn = String(drawn);
})();
