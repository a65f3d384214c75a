// The API client. Tokens live in this module's memory only: never in cookies, localStorage
// or sessionStorage (docs/decisions.md, Dashboard). Reloading the page signs out.

let session = null; // {token, refreshToken, user}
let refreshing = null;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function currentUser() {
  return session ? session.user : null;
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) {
    if (response.ok) return null;
    throw new ApiError(response.status, `the server answered ${response.status} ${response.statusText}`);
  }
  const body = await response.json();
  if (!response.ok) {
    let message = body.message || `the server answered ${response.status}`;
    if (response.status === 429 && response.headers.get("Retry-After")) {
      message += ` (retry in ${response.headers.get("Retry-After")} s)`;
    }
    throw new ApiError(response.status, message);
  }
  return body;
}

async function raw(path, { method = "GET", json, form, auth = true } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (auth) {
    if (!session) throw new ApiError(401, "you are signed out; sign in again");
    headers.Authorization = `Bearer ${session.token}`;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "omit",
                                   referrerPolicy: "no-referrer", cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "the server cannot be reached; check your connection and try again");
  }
  return response;
}

async function refresh() {
  if (!session) throw new ApiError(401, "you are signed out; sign in again");
  if (!refreshing) {
    const refreshToken = session.refreshToken;
    refreshing = raw("/api/v1/auth/token", { method: "POST", json: { refreshToken }, auth: false })
      .then(parse)
      .then((pair) => { if (session) session = pair; })
      .catch((err) => { session = null; throw err; })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

// A call with the access token; an expired one is refreshed once, then the call is retried.
export async function api(path, options = {}) {
  let response = await raw(path, options);
  if (response.status === 401 && options.auth !== false && session) {
    await refresh();
    response = await raw(path, options);
  }
  if (response.status === 401) session = null;
  return parse(response);
}

export async function signIn(email, password) {
  const response = await raw("/api/v1/auth/login", { method: "POST", json: { email, password },
                                                      auth: false });
  session = await parse(response);
  return session.user;
}

export async function signOut() {
  const current = session;
  session = null;
  if (current) {
    try {
      await raw("/api/v1/auth/logout", { method: "POST", json: { refreshToken: current.refreshToken },
                                         auth: false });
    } catch (err) { /* signed out locally whatever the network says */ }
  }
}
