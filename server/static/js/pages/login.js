// Sign-in: paste a token; it is checked with GET /api/v1/patients and kept in sessionStorage (this tab only).

import { api, getToken, setToken, takeReturnRoute, takeSignInReason } from "../api.js";
import { h } from "../dom.js";

export function render(main, _params, ctx) {
  ctx.setTitle("Sign in");
  const reason = takeSignInReason();
  const error = h("p", { id: "signin-error", class: "notice notice-error", role: "alert", "data-testid": "signin-error" });
  error.hidden = !reason;
  if (reason) error.textContent = reason;

  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-help signin-error",
    "data-testid": "token-input",
  });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "signin-submit" }, "Sign in");
  const form = h(
    "form",
    { class: "signin card", "data-testid": "signin-form", "aria-labelledby": "signin-title", novalidate: true },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("label", { for: "token" }, "Access token"),
    input,
    h(
      "p",
      { id: "token-help", class: "muted" },
      "Paste a clinician or admin token (from “fusiongait admin create-token”). It is kept only in this browser tab " +
        "and forgotten when the tab closes or you sign out.",
    ),
    submit,
    error,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    error.hidden = true;
    if (!token) {
      showError("Paste a token first.");
      return;
    }
    submit.disabled = true;
    submit.textContent = "Checking…";
    try {
      await api("/patients", { token, on401: "throw", signal: ctx.signal });
      setToken(token);
      ctx.announce("Signed in.");
      location.hash = takeReturnRoute() || "#/patients";
    } catch (err) {
      if (err.name === "AbortError") return;
      if (err.status === 401) showError(`The server did not accept this token: ${err.message}.`);
      else if (err.status === 403) {
        showError(`This token may not use the dashboard (${err.message}); use a clinician or admin token.`);
      } else showError(`Could not sign in: ${err.message}.`);
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });

  function showError(text) {
    error.textContent = text;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }

  main.append(h("div", { class: "signin-wrap" }, form));
  if (getToken()) {
    main.prepend(h("p", { class: "notice" }, "You are signed in already; a new token replaces the current one."));
  }
  input.focus();
}
