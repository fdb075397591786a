// Starting an import: read the CSV's header, ask the console for suggested mappings, let the
// person adjust them, then create the import (the API's rules) and PUT the file to its upload URL.
"use strict";
(function () {
  const section = document.getElementById("start-import");
  if (!section) return;
  const store = section.dataset.store;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("csv-file");
  const form = document.getElementById("mapping-form");
  const rows = document.getElementById("mapping-rows");
  const status = document.getElementById("import-status");
  let chosen = null;

  // The first record of a CSV file: fields split on commas outside double quotes.
  function headerFields(text) {
    const fields = [];
    let field = "", quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
        else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { fields.push(field); field = ""; }
      else if (c === "\n" || c === "\r") break;
      else field += c;
    }
    fields.push(field);
    return fields.map((f) => f.trim()).filter((f) => f.length > 0);
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.message || response.statusText);
    return answer;
  }

  async function choose(file) {
    chosen = file;
    status.textContent = "Reading " + file.name + "…";
    const columns = headerFields(await file.slice(0, 65536).text());
    if (columns.length === 0) { status.textContent = "The file has no header line."; return; }
    const { mappings } = await post(`/console/api/stores/${store}/imports/suggestions`, { columns });
    const suggested = new Map(mappings.map((m) => [m.columnName, m]));
    rows.replaceChildren();
    const options = document.getElementById("trait-options");
    columns.forEach((column, index) => {
      const row = document.createElement("tr");
      const name = document.createElement("th");
      name.scope = "row";
      const label = document.createElement("label");
      label.htmlFor = "map-" + index;
      label.textContent = column;
      name.append(label);
      const cell = document.createElement("td");
      const select = document.createElement("select");
      select.id = "map-" + index;
      select.dataset.column = column;
      select.append(options.content.cloneNode(true));
      const hit = suggested.get(column);
      if (hit) select.value = `${hit.traitGroup}.${hit.traitName}`;
      cell.append(select);
      const why = document.createElement("td");
      why.textContent = hit ? hit.rationale : "";
      row.append(name, cell, why);
      rows.append(row);
    });
    document.getElementById("file-name").textContent = file.name;
    form.hidden = false;
    status.textContent = `${columns.length} columns read; ${mappings.length} mapped by name. Check them, then start the import.`;
    document.getElementById("map-0").focus();
  }

  input.addEventListener("change", () => { if (input.files.length) choose(input.files[0]).catch(fail); });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) choose(event.dataTransfer.files[0]).catch(fail);
  });

  function fail(error) { status.textContent = "Not started: " + error.message; }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const columnMappings = [...rows.querySelectorAll("select")]
      .filter((select) => select.value)
      .map((select) => {
        const [traitGroup, traitName] = select.value.split(".");
        return { columnName: select.dataset.column, traitGroup, traitName };
      });
    try {
      status.textContent = "Creating the import…";
      const started = await post(`/console/api/stores/${store}/imports`, {
        filename: chosen.name, fileSize: chosen.size, columnMappings,
      });
      status.textContent = "Uploading " + chosen.name + "…";
      const upload = await fetch(started.uploadUrl, { method: "PUT", body: chosen });
      if (!upload.ok) throw new Error((await upload.json()).message || upload.statusText);
      window.location.assign(started.page);
    } catch (error) { fail(error); }
  });
})();
