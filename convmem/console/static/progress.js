// An import's page while it runs: its progress, read every second until it has finished,
// then the page once more for the final error report.
"use strict";
(function () {
  const section = document.getElementById("progress");
  if (!section || section.dataset.finished === "yes") return;
  const show = (id, text) => { document.getElementById(id).textContent = text; };
  async function poll() {
    const response = await fetch(section.dataset.url, { credentials: "same-origin" });
    if (!response.ok) { show("progress-note", "Progress is not available right now."); return; }
    const p = await response.json();
    show("import-state", p.status);
    show("import-rows", p.totalRows === null ? String(p.processedRows) : `${p.processedRows} of ${p.totalRows}`);
    show("import-errors", String(p.errors));
    show("import-warnings", String(p.warnings));
    const bar = document.getElementById("import-bar");
    if (p.totalRows) { bar.max = p.totalRows; bar.value = p.processedRows; }
    if (p.finished) { window.location.reload(); return; }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
