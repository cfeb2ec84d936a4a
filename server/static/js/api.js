// The same-origin REST API (/api/v1) with the bearer token kept in sessionStorage.
//
// Every request sends `Authorization: Bearer <token>`. A 401 anywhere forgets the token and returns to the sign-in
// page with the server's reason (`signOut(reason)`); callers see an AuthError they can ignore.

export const API = "/api/v1";

const TOKEN_KEY = "fusiongait.token";
const REASON_KEY = "fusiongait.signin_reason";
const RETURN_KEY = "fusiongait.return_to";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** The reason the user was sent back to sign-in (read once). */
export function takeSignInReason() {
  const reason = sessionStorage.getItem(REASON_KEY);
  sessionStorage.removeItem(REASON_KEY);
  return reason;
}

/** The page to return to after signing in (read once). */
export function takeReturnRoute() {
  const route = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  return route && route.startsWith("#/") && !route.startsWith("#/login") ? route : null;
}

/** Forget the token and go to sign-in, saying why (reason may be empty for a plain sign-out). */
/**
 * Forget the token and go to the sign-in page. A `reason` is shown there (an error: a refused or expired token);
 * `returnHere` alone (no reason) only remembers the page to come back to, as when someone opens a link before
 * signing in.
 */
export function signOut(reason = "", { returnHere = Boolean(reason) } = {}) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (reason) sessionStorage.setItem(REASON_KEY, reason);
  if (returnHere && location.hash.startsWith("#/") && !location.hash.startsWith("#/login")) {
    sessionStorage.setItem(RETURN_KEY, location.hash);
  }
  if (location.hash !== "#/login") location.hash = "#/login";
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** Raised after a 401 has already sent the user to sign-in: nothing more to show. */
export class AuthError extends ApiError {
  constructor(message) {
    super(401, "unauthorized", message);
    this.name = "AuthError";
  }
}

async function errorOf(response) {
  let code = "http_error";
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

/**
 * Call the API. `path` is relative to /api/v1 ("/patients"). Options: method, json (a body to send as JSON),
 * as ("json" | "text" | "response"), signal, token (override, for validating a token at sign-in), on401
 * ("signout" | "throw").
 */
export async function api(path, { method = "GET", json, as = "json", signal, token, on401 = "signout" } = {}) {
  const headers = { Accept: as === "text" ? "text/html" : "application/json" };
  const bearer = token ?? getToken();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(API + path, { method, headers, body, signal, cache: "no-store" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "cannot reach the FusionGait service (network error)");
  }
  if (response.status === 401) {
    const err = await errorOf(response);
    if (on401 === "throw") throw err;
    signOut(`Signed out: the server refused the token (${err.message}). Paste a valid token to continue.`);
    throw new AuthError(err.message);
  }
  if (!response.ok) throw await errorOf(response);
  if (as === "response") return response;
  if (as === "text") return response.text();
  if (response.status === 204) return null;
  return response.json();
}
