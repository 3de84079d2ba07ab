// The console's shell: sign-in, the navigation, messages, and who is signed in.
// What a credential may not do is not offered (from GET /api/me); a 403 that still
// happens (a key changed meanwhile) is shown as a message, the page stays usable.

import { apiKeysView, schemasView, workersView } from "./admin.js";
import { ApiError, call, login, signOut, token } from "./api.js";
import { databasesView } from "./data.js";
import { field, h } from "./dom.js";

const $ = (id) => document.getElementById(id);
const main = $("main");
const message = $("message");
const nav = $("nav");
const who = $("who");
const signOutButton = $("signout");

// Each section and the permission it needs (null: any credential; the schema list is public).
const VIEWS = {
  databases: { needs: "read", render: databasesView },
  schemas: { needs: null, render: schemasView },
  keys: { needs: "admin", render: apiKeysView },
  workers: { needs: "admin", render: workersView },
};

function say(text, kind = "error") {
  message.textContent = text;
  message.className = `message ${kind}`;
  message.hidden = !text;
}

const ctx = {
  me: null,
  say,
  can(permission) {
    return Boolean(this.me) && (this.me.is_admin || this.me.permissions.includes(permission));
  },
  /** Replaces the page's content with a view: render(ctx, section, ...args). */
  async show(render, ...args) {
    say("");
    const section = h("section", { class: "view" });
    main.replaceChildren(section);
    try {
      await render(ctx, section, ...args);
    } catch (error) {
      ctx.fail(error);
    }
  },
  /** An error from a call, shown as a message; a 401 means the session is over. */
  fail(error) {
    if (!(error instanceof ApiError)) {
      say(`Unexpected error: ${error.message}`);
      return;
    }
    if (error.status === 401) {
      ended("Your session has ended: sign in again.");
    } else if (error.status === 403) {
      say(`Not allowed: ${error.message}`);
    } else {
      say(error.message);
    }
  },
};

function signInView(note = "") {
  ctx.me = null;
  nav.hidden = true;
  signOutButton.hidden = true;
  who.textContent = "";
  const key = h("input", { type: "password", name: "key", autocomplete: "off", required: true });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "signin" },
    h("h2", {}, "Sign in"),
    h("p", {}, "Paste the admin key or an API key (dk_…). It is exchanged for a session token kept in this tab only."),
    field("Admin key or API key", key),
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = key.value.trim();
    key.value = ""; // the key itself is not kept anywhere
    submit.disabled = true;
    try {
      await login(value);
      await start();
    } catch (error) {
      signOut();
      say(error instanceof ApiError && error.status === 401 ? `Sign-in failed: ${error.message}` : error.message);
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  say(note, "info");
  key.focus();
}

function ended(note) {
  signOut();
  signInView(note);
}

async function start() {
  ctx.me = await call("GET", "api/me");
  who.textContent = `${ctx.me.client_id} · ${ctx.me.permissions.join(", ") || "no permissions"}`;
  for (const button of nav.querySelectorAll("button")) {
    const view = VIEWS[button.dataset.view];
    button.hidden = view.needs !== null && !ctx.can(view.needs);
  }
  nav.hidden = false;
  signOutButton.hidden = false;
  await ctx.show(ctx.can("read") ? databasesView : schemasView);
}

nav.addEventListener("click", (event) => {
  const view = VIEWS[event.target.dataset?.view];
  if (view) ctx.show(view.render);
});
signOutButton.addEventListener("click", () => ended("Signed out."));

if (token()) {
  start().catch((error) => (error instanceof ApiError && error.status === 401 ? ended("") : ctx.fail(error)));
} else {
  signInView();
}
