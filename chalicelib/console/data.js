// Databases → a database's keys (paged, prefix filter) → one entity: view, edit, create, delete.

import { call, enc } from "./api.js";
import { confirmButton, field, h, jsonEditor, pretty } from "./dom.js";

export const PAGE_SIZE = 50;

export async function databasesView(ctx, root) {
  const name = h("input", { type: "text", name: "database", required: true });
  const open = h(
    "form",
    { class: "inline" },
    field("Database", name),
    h("button", { type: "submit" }, "Open"),
  );
  open.addEventListener("submit", (event) => {
    event.preventDefault();
    if (name.value) ctx.show(keysView, name.value);
  });
  const list = h("ul", { class: "list" });
  root.append(h("h2", {}, "Databases"), open, list);
  const databases = await call("GET", "api/schemas");
  for (const db of databases) {
    list.append(h("li", {}, h("button", { type: "button", class: "link", onclick: () => ctx.show(keysView, db) }, db)));
  }
  if (!databases.length) list.append(h("li", { class: "empty" }, "No database holds an entity yet."));
}

export async function keysView(ctx, root, db) {
  const cursors = [null]; // the cursor of each page walked so far: Previous pops one
  let nextCursor = null;
  let prefix = "";
  const prefixInput = h("input", { type: "search", name: "prefix" });
  const filter = h("form", { class: "inline" }, field("Key prefix", prefixInput), h("button", { type: "submit" }, "Filter"));
  const list = h("ul", { class: "list keys" });
  const pageLabel = h("span", { class: "page" });
  const previous = h("button", { type: "button" }, "Previous page");
  const next = h("button", { type: "button" }, "Next page");

  async function load() {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (prefix) params.set("prefix", prefix);
    if (cursors.at(-1)) params.set("cursor", cursors.at(-1));
    const page = await call("GET", `entity/${enc(db)}/keys?${params}`);
    list.replaceChildren(
      ...page.keys.map((key) =>
        h("li", {}, h("button", { type: "button", class: "link", onclick: () => ctx.show(entityView, db, key) }, key)),
      ),
    );
    if (!page.keys.length) list.append(h("li", { class: "empty" }, "No keys."));
    nextCursor = page.next_cursor;
    next.disabled = !nextCursor;
    previous.disabled = cursors.length === 1;
    pageLabel.textContent = `Page ${cursors.length}`;
  }
  const reload = () => load().catch((error) => ctx.fail(error));
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    prefix = prefixInput.value;
    cursors.splice(1);
    reload();
  });
  next.addEventListener("click", () => {
    cursors.push(nextCursor);
    reload();
  });
  previous.addEventListener("click", () => {
    cursors.pop();
    reload();
  });

  root.append(
    h("h2", {}, "Database ", h("q", {}, db)),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => ctx.show(databasesView) }, "All databases"),
      ctx.can("write") && h("button", { type: "button", onclick: () => ctx.show(entityView, db, null) }, "New entity"),
    ),
    filter,
    list,
    h("div", { class: "pager" }, previous, pageLabel, next),
  );
  await load();
}

/** One entity; key null: a new one (created only if the key is free). */
export async function entityView(ctx, root, db, key) {
  const creating = key === null;
  const writable = ctx.can("write");
  let etag = null;
  let text = "{}";
  if (!creating) {
    const got = await call("GET", `entity/${enc(db)}?key=${enc(key)}`, { text: true });
    etag = got.etag;
    text = pretty(got.text);
  }
  const keyInput = h("input", { type: "text", name: "key", required: true, value: creating ? "" : key, readOnly: !creating });
  const editor = jsonEditor(text, { readOnly: !writable, label: "Value" });
  const back = () => ctx.show(keysView, db);

  async function save() {
    const value = editor.valid();
    const name = keyInput.value;
    if (value === null) return;
    if (!name) {
      editor.showError("The key is empty.");
      return;
    }
    // The body is built as text so the value's numbers and strings are sent exactly as typed.
    const body = `{${JSON.stringify(name)}: ${value}}`;
    const headers = creating ? { "If-None-Match": "*" } : { "If-Match": etag };
    try {
      const reply = await call("PUT", `entity/${enc(db)}`, { body, headers, text: true });
      if (creating) {
        await ctx.show(entityView, db, name);
        ctx.say("Created.", "info");
        return;
      }
      etag = reply.etag;
      ctx.say("Saved.", "info");
    } catch (error) {
      if (error.status === 412) {
        editor.showError(creating ? "An entity with this key exists already." : "Changed by someone else since you opened it: reload it.");
      } else if (error.status === 400) {
        editor.showError(error.message); // the server's validation error (schema, name, JSON)
      } else {
        ctx.fail(error);
      }
    }
  }

  async function remove() {
    try {
      await call("DELETE", `entity/${enc(db)}?key=${enc(key)}`);
      await ctx.show(keysView, db);
      ctx.say(`Deleted ${key}.`, "info");
    } catch (error) {
      ctx.fail(error);
    }
  }

  root.append(
    h("h2", {}, creating ? "New entity in " : "Entity in ", h("q", {}, db)),
    field("Key", keyInput),
    editor.el,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: back }, "Back to keys"),
      writable && h("button", { type: "button", class: "primary", onclick: save }, creating ? "Create" : "Save"),
      writable && !creating && confirmButton("Delete", remove),
    ),
  );
}
