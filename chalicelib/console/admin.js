// Schemas (list, view, edit, create, delete), API keys (admin) and workers (admin).

import { call, enc } from "./api.js";
import { confirmButton, field, h, jsonEditor, pretty, table } from "./dom.js";

const PERMISSIONS = ["read", "write", "admin"];

export async function schemasView(ctx, root) {
  const list = h("ul", { class: "list" });
  root.append(
    h("h2", {}, "Schemas"),
    h("p", {}, "A schema whose id is a database's name validates every value written to that database."),
    ctx.can("write") && h("div", { class: "actions" }, h("button", { type: "button", onclick: () => ctx.show(schemaView, null) }, "New schema")),
    list,
  );
  const ids = await call("GET", "admin/schemas");
  for (const id of ids) {
    list.append(h("li", {}, h("button", { type: "button", class: "link", onclick: () => ctx.show(schemaView, id) }, id)));
  }
  if (!ids.length) list.append(h("li", { class: "empty" }, "No schemas."));
}

export async function schemaView(ctx, root, id) {
  const creating = id === null;
  const writable = ctx.can("write");
  const text = creating ? '{"type": "object"}' : pretty((await call("GET", `schema/${enc(id)}`, { text: true })).text);
  const idInput = h("input", { type: "text", name: "schema-id", required: true, value: creating ? "" : id, readOnly: !creating });
  const editor = jsonEditor(text, { readOnly: !writable, label: "Schema" });

  async function save() {
    const body = editor.valid();
    if (body === null) return;
    if (!idInput.value) {
      editor.showError("The schema id is empty.");
      return;
    }
    try {
      await call("PUT", `schema/${enc(idInput.value)}`, { body });
      if (creating) await ctx.show(schemaView, idInput.value);
      ctx.say("Schema saved.", "info");
    } catch (error) {
      if (error.status === 400) editor.showError(error.message);
      else ctx.fail(error);
    }
  }

  async function remove() {
    try {
      await call("DELETE", `schema/${enc(id)}`);
      await ctx.show(schemasView);
      ctx.say(`Deleted schema ${id}.`, "info");
    } catch (error) {
      ctx.fail(error);
    }
  }

  root.append(
    h("h2", {}, creating ? "New schema" : "Schema"),
    field("Id", idInput),
    editor.el,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => ctx.show(schemasView) }, "Back to schemas"),
      writable && h("button", { type: "button", class: "primary", onclick: save }, creating ? "Create" : "Save"),
      writable && !creating && confirmButton("Delete", remove),
    ),
  );
}

export async function apiKeysView(ctx, root) {
  const name = h("input", { type: "text", name: "name", required: true });
  const expires = h("input", { type: "text", name: "expires_in", placeholder: "e.g. 7d (empty: never)" });
  const boxes = PERMISSIONS.map((p) => h("input", { type: "checkbox", name: "permission", value: p, checked: p === "read" }));
  const secretPanel = h("div", { class: "secret", hidden: true });
  const rows = h("tbody");
  const hideSecret = () => {
    secretPanel.replaceChildren(); // the secret leaves the page
    secretPanel.hidden = true;
  };
  const form = h(
    "form",
    { class: "create" },
    h("h3", {}, "New API key"),
    field("Name", name),
    h("fieldset", {}, h("legend", {}, "Permissions"), boxes.map((box) => h("label", { class: "check" }, box, box.value))),
    field("Expires in", expires),
    h("button", { type: "submit", class: "primary" }, "Create key"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: name.value, permissions: boxes.filter((b) => b.checked).map((b) => b.value) };
    if (expires.value.trim()) body.expires_in = expires.value.trim();
    try {
      const created = await call("POST", "api/keys", { body });
      const secret = h("input", { type: "text", readOnly: true, value: created.secret, class: "secret-value" });
      secret.setAttribute("aria-label", "New key's secret");
      secretPanel.replaceChildren(
        h("p", {}, "Key ", h("q", {}, created.name), " created. Copy its secret now: it is shown only this once."),
        secret,
        h("button", { type: "button", onclick: hideSecret }, "Done"),
      );
      secretPanel.hidden = false;
      name.value = "";
      await refresh();
    } catch (error) {
      ctx.fail(error);
    }
  });

  async function refresh() {
    const keys = await call("GET", "api/keys");
    rows.replaceChildren(...keys.map(keyRow));
  }

  function keyRow(key) {
    const act = (fn) => async () => {
      try {
        await fn();
        await refresh();
      } catch (error) {
        ctx.fail(error);
      }
    };
    const toggle = () => call("PATCH", `api/keys/${enc(key.id)}`, { body: { enabled: !key.enabled } });
    return h(
      "tr",
      { dataset: { keyId: key.id } },
      h("td", {}, key.name),
      h("td", { class: "mono" }, key.id),
      h("td", {}, key.permissions.join(", ")),
      h("td", {}, key.created_at || ""),
      h("td", {}, key.expires_at || "never"),
      h("td", { class: key.enabled ? "ok" : "off" }, key.enabled ? "enabled" : "disabled"),
      h(
        "td",
        { class: "row-actions" },
        h("button", { type: "button", onclick: act(toggle) }, key.enabled ? "Disable" : "Enable"),
        confirmButton("Delete", act(() => call("DELETE", `api/keys/${enc(key.id)}`))),
      ),
    );
  }

  const list = table(["Name", "Id", "Permissions", "Created", "Expires", "State", ""], []);
  list.querySelector("tbody").replaceWith(rows);
  root.append(h("h2", {}, "API keys"), secretPanel, form, list);
  await refresh();
}

export async function workersView(ctx, root) {
  const workers = await call("GET", "admin/workers");
  const rows = workers.map((w) =>
    h(
      "tr",
      {},
      h("td", { class: "mono" }, w.worker_id),
      h("td", {}, w.status),
      h("td", { class: "mono" }, w.key_id ?? ""),
      h("td", {}, w.last_seen ?? ""),
      h("td", { class: "mono" }, JSON.stringify(w.tags ?? {})),
    ),
  );
  root.append(
    h("h2", {}, "Workers"),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => ctx.show(workersView) }, "Refresh")),
    table(["Worker", "Status", "Key id", "Last seen", "Tags"], rows),
  );
}
