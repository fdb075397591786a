// Drives a running convmem with the official Node `twilio` package; prints one JSON result.
// Usage: node scenario.js BASE_URL ACCOUNT_SID AUTH_TOKEN STORE_ID
delete process.env.TWILIO_REGION;
delete process.env.TWILIO_EDGE;
const twilio = require("twilio");

async function main() {
  const [baseUrl, accountSid, token, store] = process.argv.slice(2);
  const client = twilio(accountSid, token);
  client.memory.baseUrl = baseUrl;
  const mem = client.memory.v1;
  const out = {};

  const a = await mem.profiles(store).create({ traits: { Contact: { email: "node@example.com", firstName: "Ann", city: "Oslo" } } });
  const b = await mem.profiles(store).create({ traits: { Contact: { phone: "+13175550199" } } });
  const merged = await mem.profiles(store).create({ traits: { Contact: { email: "node@example.com", phone: "+13175550199" } } });
  out.created = [a.id, b.id, merged.id];

  await mem.profiles(store, a.id).patch({ traits: { Contact: { city: null, lastName: "Lee" } } });
  const fetched = await mem.profiles(store, a.id).fetch({ traitGroups: "Contact" });
  out.traits = fetched.traits;

  const moved = await mem.profiles(store, b.id).fetch();
  out.movedId = moved.id === undefined ? null : moved.id;

  const lookup = await mem.lookup(store).create({ idType: "phone", value: "(317) 555-0199" });
  out.lookup = { normalizedValue: lookup.normalizedValue, profiles: lookup.profiles };

  for (let i = 0; i < 3; i++) {
    await mem.profiles(store).create({ traits: { Contact: { email: `page${i}@example.com` } } });
  }
  const seen = [];
  await new Promise((resolve, reject) =>
    mem.profiles(store).each({ pageSize: 2, done: (err) => (err ? reject(err) : resolve()) }, (id) => seen.push(id))
  );
  out.listed = seen;

  const removed = await mem.profiles(store, a.id).remove();
  out.removed = removed;
  try {
    await mem.profiles(store, a.id).fetch();
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
