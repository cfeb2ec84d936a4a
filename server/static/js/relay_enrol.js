// "Phone relay" on a home session of the patient page: issues a relay token for the session and shows the QR code
// that opens the phone relay page (relay.html) enrolled with it (POST /sessions/{id}/relay-enrolment; the SVG is
// made by the service). Every click issues a new token; earlier ones stay valid until they expire or are revoked.
//
// data-testid: relay-enrol-button (data-session-id), relay-enrol-panel, relay-qr (the image), relay-link (the
// link, which holds the token), relay-enrol-error.

import { api } from "./api.js";
import { fmtDateTime, h, notice } from "./dom.js";

export function relayEnrolButton(session) {
  const panel = h("div", { class: "relay-enrol", "data-testid": "relay-enrol-panel", hidden: true, "aria-live": "polite" });
  const button = h(
    "button",
    { type: "button", class: "secondary", "data-testid": "relay-enrol-button", "data-session-id": session.id, "aria-expanded": "false" },
    "Phone relay: show QR code",
  );
  const hide = () => {
    panel.hidden = true;
    panel.replaceChildren();
    button.setAttribute("aria-expanded", "false");
    button.focus();
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    panel.hidden = false;
    panel.replaceChildren(notice("Issuing a relay token…"));
    try {
      const out = await api(`/sessions/${encodeURIComponent(session.id)}/relay-enrolment`, {
        method: "POST",
        json: { label: "phone relay", service_url: location.origin },
      });
      const img = h("img", {
        src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(out.qr_svg)}`,
        alt: "QR code that opens the FusionGait sensor page for this home session on the patient's phone",
        width: 240,
        height: 240,
        "data-testid": "relay-qr",
      });
      panel.replaceChildren(
        h("p", {}, "Let the patient scan this code with their Android phone’s camera and open it in Chrome. The page then connects to the three sensors and sends their data here."),
        img,
        h("p", { class: "muted" }, `Valid until ${out.expires_at ? fmtDateTime(out.expires_at) : "revoked"}. It can only upload to this session.`),
        h(
          "details",
          {},
          h("summary", {}, "Show the link instead (it holds the token: give it only to the patient)"),
          h("p", {}, h("code", { "data-testid": "relay-link", style: { overflowWrap: "anywhere" } }, out.relay_url)),
        ),
        h("button", { type: "button", class: "secondary", onClick: hide }, "Hide the QR code"),
      );
      button.setAttribute("aria-expanded", "true");
    } catch (err) {
      if (err.name === "AbortError" || err.name === "AuthError") return;
      panel.replaceChildren(notice(`Could not enrol a phone relay: ${err.message}`, "error", { "data-testid": "relay-enrol-error" }));
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "relay-enrol-cell" }, button, panel);
}
