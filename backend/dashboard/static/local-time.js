// The pages print every time in UTC (<time datetime="…Z">2026-12-01 14:05 UTC</time>), so they
// read the same without JavaScript and in any copy; here each one is shown in the reader's own
// time zone, named, with the UTC text kept as its tooltip.
(function () {
  "use strict";
  const zones = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" });
  const pad = (n) => String(n).padStart(2, "0");
  for (const element of document.querySelectorAll("time[datetime]")) {
    const moment = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(moment.getTime())) continue;
    const zone = zones.formatToParts(moment).find((p) => p.type === "timeZoneName");
    const local = `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())} ` +
      `${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
    element.title = element.textContent;
    element.textContent = `${local} ${zone ? zone.value : ""}`.trim();
  }
  document.body.dataset.localTimes = "done";
})();
