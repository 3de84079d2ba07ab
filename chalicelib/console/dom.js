// Building the page without HTML parsing: every value from the server is set as text
// (textContent, value), so stored data can never become markup or script.

/** h("button", {class: "x", onclick: fn}, "text", child) → an element. Strings become text nodes. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && typeof el[name] !== "function") el[name] = value; // properties: value, type, hidden...
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A labelled form control: <label>Text <input …></label>. */
export function field(text, control) {
  return h("label", { class: "field" }, h("span", {}, text), control);
}

/** A button that asks once more before doing something that cannot be undone (no dialogs). */
export function confirmButton(text, action) {
  const button = h("button", { type: "button", class: "danger" }, text);
  let armed = false;
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = `Really ${text.toLowerCase()}?`;
      return;
    }
    armed = false;
    button.textContent = text;
    await action();
  });
  return button;
}

/** Re-indents JSON text token by token: strings and numbers stay exactly as written (no float rounding). */
export function pretty(text) {
  try {
    JSON.parse(text);
  } catch {
    return text; // not JSON: shown as it is
  }
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|[{}[\],:]|[^\s{}[\],:"]+/g) || [];
  let out = "";
  let depth = 0;
  const newline = () => "\n" + "  ".repeat(depth);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === "{" || t === "[") {
      const close = t === "{" ? "}" : "]";
      if (tokens[i + 1] === close) {
        out += t + close;
        i++;
        continue;
      }
      depth++;
      out += t + newline();
    } else if (t === "}" || t === "]") {
      depth--;
      out += newline() + t;
    } else if (t === ",") out += "," + newline();
    else if (t === ":") out += ": ";
    else out += t;
  }
  return out;
}

/** A JSON editor: a textarea whose parse errors are shown as you type; errors from the server go below it. */
export function jsonEditor(text, { readOnly = false, label = "JSON" } = {}) {
  const area = h("textarea", { class: "json", spellcheck: false, readOnly, value: text, rows: 14 });
  area.setAttribute("aria-label", label);
  const error = h("p", { class: "error", role: "status", hidden: true });
  const check = () => {
    try {
      JSON.parse(area.value);
      showError("");
      return true;
    } catch (e) {
      showError(`Invalid JSON: ${e.message}`);
      return false;
    }
  };
  const showError = (message) => {
    error.textContent = message;
    error.hidden = !message;
  };
  area.addEventListener("input", check);
  return {
    el: h("div", { class: "editor" }, area, error),
    area,
    /** The text to send, or null (with the parse error shown) when it is not JSON. */
    valid: () => (check() ? area.value : null),
    showError,
  };
}

export function table(headings, rows) {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows),
  );
}
