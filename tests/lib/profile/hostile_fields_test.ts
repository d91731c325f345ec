import assert from "node:assert/strict";
import { formatProfile, profileMarkdown } from "../../../lib/profile/format.ts";
import { profileCollection } from "../../../lib/profile/profile.ts";
import { freshDatabase } from "../../support/db.ts";
import { hasControl, NASTY, NASTY_STRINGS } from "../../support/nasty.ts";

Deno.test("the profile's terminal table shows escape sequences in field names, never sends them", async () => {
  await using db = await freshDatabase();
  await db.sql`create schema lml_raw`;
  await db.sql`
    create table lml_raw.hostile (
      _id text primary key, doc jsonb not null, original bytea,
      extracted_at timestamptz not null default now())`;
  // PostgreSQL text holds no NUL: every other nasty string is a key and a value.
  const keys = NASTY_STRINGS.filter((s) => !s.includes("\u0000") && s.isWellFormed());
  const doc = Object.fromEntries(keys.map((k) => [k, k]));
  await db.sql`insert into lml_raw.hostile (_id, doc) values ('a', ${db.sql.json(doc)})`;
  const profile = await profileCollection(db.sql, "hostile");
  assert.ok(profile.fields.some((f) => f.path.includes("\x1b")), "the profile keeps the real path");
  const text = formatProfile(profile);
  for (const line of text.split("\n")) {
    assert.ok(!hasControl(line), JSON.stringify(line));
  }
  assert.ok(!text.includes("\x1b") && !text.includes("\r"), "nothing reaches the terminal raw");
  assert.ok(text.includes("\\x1b[31mred"), "the escape is shown");
  const rows = text.split("\n").filter((l) => l.startsWith("owner\\x0acreate"));
  assert.equal(rows.length, 1, "a key with line breaks stays on its row");
  assert.ok(!hasControl(profileMarkdown(profile).replace(/\n/g, "")));
  assert.ok(!profileMarkdown(profile).includes(`\n${NASTY.newline.split("\n")[1]}`));
});
