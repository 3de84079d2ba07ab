// The console's only way to the server. The session token lives in sessionStorage
// (this tab only, gone when it closes): never a cookie, never in a URL. Every call
// sends it as `Authorization: Bearer`, to this origin only, without cookies or referrer.

const TOKEN = "deltadb.session";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const enc = encodeURIComponent;

export function token() {
  return sessionStorage.getItem(TOKEN);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN);
}

/** Exchanges a pasted admin key or API key for a session token (POST /api/login). */
export async function login(key) {
  const reply = await call("POST", "api/login", { body: { key }, auth: false });
  sessionStorage.setItem(TOKEN, reply.token);
  return reply;
}

/**
 * One request; paths are relative to the page, so a stage prefix (API Gateway) is kept.
 * body: an object (sent as JSON) or a string (sent as it is: JSON text from an editor).
 * Resolves to the parsed JSON body, or with `text: true` to {text, etag}.
 * A 4xx/5xx rejects with ApiError carrying the server's {"error": ...} message.
 */
export async function call(method, path, { body, auth = true, text = false, headers = {} } = {}) {
  const sent = { ...headers };
  if (auth) sent.Authorization = `Bearer ${token() || ""}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    sent["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(new URL(path, document.baseURI), {
      method,
      headers: sent,
      body: payload,
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError(0, "the server cannot be reached");
  }
  const raw = await response.text();
  if (!response.ok) throw new ApiError(response.status, errorMessage(raw, response.status));
  if (text) return { text: raw, etag: response.headers.get("ETag") };
  return raw ? JSON.parse(raw) : null;
}

function errorMessage(raw, status) {
  try {
    const parsed = JSON.parse(raw);
    if (parsed && typeof parsed.error === "string") return parsed.error;
  } catch {
    // not the contract's error body
  }
  return `HTTP ${status}`;
}
