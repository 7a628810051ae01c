// The invite page: shows the invitation (GET /api/invites/{token}, no session), then signs the person in or up with the
// invited email and accepts (POST /api/invites/{token}/accept). The session token stays in this page's memory only.
"use strict";

const token = (() => {
  try {
    return decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
  } catch {
    return "";
  }
})();
const $ = (id) => document.getElementById(id);
let invitedEmail = "";
let submitter = "signin";

async function call(method, path, body, session) {
  const headers = { "Content-Type": "application/json" };
  if (session) headers.Authorization = "Bearer " + session;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error((data.error && data.error.message) || "The server answered " + response.status + ".");
  }
  return data;
}

function show(text) { $("result").textContent = text; }

async function load() {
  try {
    const { invite, workspace } = await call("GET", "/api/invites/" + encodeURIComponent(token));
    invitedEmail = invite.email;
    $("workspace").textContent = workspace.name;
    $("inviter").textContent = invite.invitedBy ? (invite.invitedBy.name ? invite.invitedBy.name + " (" + invite.invitedBy.email + ")" : invite.invitedBy.email) : "—";
    $("role").textContent = invite.role;
    $("email").textContent = invite.email;
    $("expires").textContent = new Date(invite.expiresAt).toLocaleString();
    $("details").hidden = false;
    const states = {
      pending: "You are invited to join " + workspace.name + ".",
      expired: "This invitation has expired. Ask whoever invited you to send it again.",
      accepted: "This invitation has already been used.",
    };
    $("status").textContent = states[invite.status] || invite.status;
    $("accept").hidden = invite.status !== "pending";
  } catch (error) {
    $("status").textContent = "This invitation cannot be shown: " + error.message;
  }
}

$("signin").addEventListener("click", () => { submitter = "signin"; });
$("signup").addEventListener("click", () => { submitter = "signup"; });
$("accept").addEventListener("submit", async (event) => {
  event.preventDefault();
  show("");
  const password = $("password").value;
  try {
    const session = submitter === "signup"
      ? (await call("POST", "/api/auth/signup", { email: invitedEmail, password, name: $("name").value.trim() || undefined })).token
      : (await call("POST", "/api/auth/login", { email: invitedEmail, password })).token;
    const { workspace } = await call("POST", "/api/invites/" + encodeURIComponent(token) + "/accept", {}, session);
    $("accept").hidden = true;
    $("status").textContent = "You joined " + workspace.name + " as " + workspace.role + ".";
  } catch (error) {
    show(error.message);
  }
});

load();
