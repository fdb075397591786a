// The five DataMappings operations through the official Node `twilio` package; prints one JSON result.
// Usage: node data_mappings.js BASE_URL ACCOUNT_SID AUTH_TOKEN STORE_ID DATASET_ID
delete process.env.TWILIO_REGION;
delete process.env.TWILIO_EDGE;
const twilio = require("twilio");

async function main() {
  const [baseUrl, accountSid, token, store, datasetId] = process.argv.slice(2);
  const client = twilio(accountSid, token);
  client.memory.baseUrl = baseUrl;
  const mem = client.memory.v1;
  const out = {};

  const mappingTo = (expression, traitName) => ({ type: "TRAITS", mappings: [{ expression, traitGroup: "Contact", traitName }] });
  const created = await mem.dataMappings(store).create({
    displayName: "node-ingress",
    description: "made from Node",
    mappingFrom: { type: "INGRESS", columns: ["mail", "given"] },
    mappingTo: mappingTo("mail", "email"),
  });
  out.created = created.message;
  const operation = await mem.operations(created.statusUrl.split("/").pop()).fetch();
  const id = operation.result.id;
  await mem.dataMappings(store).create({
    displayName: "node-warehouse",
    mappingFrom: { type: "DATASET_WAREHOUSE", datasetId },
    mappingTo: mappingTo("email_address", "email"),
  });

  const fetched = await mem.dataMappings(store, id).fetchWithHttpInfo();
  out.fetched = { id: fetched.body.id, version: fetched.body.version, mappingFrom: fetched.body.mappingFrom, isEnabled: fetched.body.isEnabled };
  // Node sends null as given: a null description removes it.
  await mem.dataMappings(store, id).patch(
    { description: null, mappingTo: mappingTo("given", "firstName") },
    { "If-Match": fetched.headers.etag }
  );
  const patched = await mem.dataMappings(store, id).fetch();
  out.patched = { version: patched.version, description: patched.description === undefined ? null : patched.description, mappingTo: patched.mappingTo };
  try {
    await mem.dataMappings(store, id).patch({ isEnabled: false }, { "If-Match": fetched.headers.etag });
    out.stale = "accepted";
  } catch (err) {
    out.stale = { status: err.status, code: err.code };
  }

  const listed = [];
  await new Promise((resolve, reject) =>
    mem.dataMappings(store).each({ pageSize: 1, done: (err) => (err ? reject(err) : resolve()) }, (m) => listed.push(m.displayName))
  );
  out.listed = listed;
  const ingress = await mem.dataMappings(store).list({ type: "INGRESS" });
  out.ingress = ingress.map((m) => m.id);

  const removed = await mem.dataMappings(store, id).remove();
  out.removed = removed;
  try {
    await mem.dataMappings(store, id).fetch();
    out.afterDelete = "found";
  } catch (err) {
    out.afterDelete = { status: err.status, code: err.code };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err), status: err.status, code: err.code }));
  process.exit(1);
});
