// Provider credentials (BYOK): add per provider with its own fields, test against the provider, rotate the secret, edit
// label and settings, disable/enable, delete. Secrets go in and never come back: the page shows the key preview only.
import { useEffect, useRef, useState } from "preact/hooks";
import { del, get, patch, post } from "../api";
import { Confirm, Empty, ErrorNote, Field, Loaded, Page, Select, messageOf, useAction, useAsync } from "../components";
import { canManage, useApp } from "../context";
import { dateTime } from "../format";
import type { Credential, CredentialTestResult } from "../types-admin";

/** Where a value goes in the request body: the top-level apiKey, the secrets bundle, or the non-secret config. */
type Slot = "apiKey" | "secret" | "config";

interface InputSpec {
  key: string;
  label: string;
  slot: Slot;
  required: boolean;
  kind?: "password" | "textarea" | "url" | "email";
  hint?: string;
}

interface ProviderSpec { id: string; name: string; fields: InputSpec[] }

const apiKey: InputSpec = { key: "apiKey", label: "API key", slot: "apiKey", required: true, kind: "password" };
const keyOnly = (id: string, name: string): ProviderSpec => ({ id, name, fields: [apiKey] });

/** The providers the API accepts (ProviderId.All) and their fields (ProviderCredentialRules). */
export const providers: ProviderSpec[] = [
  keyOnly("openai", "OpenAI"),
  keyOnly("anthropic", "Anthropic"),
  keyOnly("gemini", "Google Gemini"),
  keyOnly("mistral", "Mistral"),
  keyOnly("deepseek", "DeepSeek"),
  keyOnly("openrouter", "OpenRouter"),
  keyOnly("together", "Together AI"),
  keyOnly("perplexity", "Perplexity"),
  keyOnly("xai", "xAI"),
  {
    id: "azure_openai",
    name: "Azure OpenAI",
    fields: [
      apiKey,
      { key: "endpoint", label: "Endpoint", slot: "config", required: true, kind: "url", hint: "e.g. https://my-resource.openai.azure.com" },
      { key: "deployment", label: "Deployment", slot: "config", required: true },
      { key: "apiVersion", label: "API version", slot: "config", required: false, hint: "Optional, e.g. 2024-10-21." },
    ],
  },
  {
    id: "openai_compatible",
    name: "OpenAI-compatible",
    fields: [
      apiKey,
      { key: "baseUrl", label: "Base URL", slot: "config", required: true, kind: "url", hint: "e.g. https://api.example.com/v1" },
      { key: "defaultModel", label: "Default model", slot: "config", required: false },
    ],
  },
  {
    id: "aws_bedrock",
    name: "AWS Bedrock",
    fields: [
      { key: "region", label: "Region", slot: "config", required: true, hint: "e.g. us-east-1" },
      { key: "accessKeyId", label: "Access key ID", slot: "secret", required: true, kind: "password" },
      { key: "secretAccessKey", label: "Secret access key", slot: "secret", required: true, kind: "password" },
      { key: "sessionToken", label: "Session token", slot: "secret", required: false, kind: "password", hint: "Only for temporary credentials." },
    ],
  },
  {
    id: "google_vertex",
    name: "Google Vertex AI",
    fields: [
      { key: "projectId", label: "Project ID", slot: "config", required: true },
      { key: "location", label: "Location", slot: "config", required: true, hint: "e.g. us-central1" },
      { key: "defaultModel", label: "Default model", slot: "config", required: true, hint: "e.g. gemini-2.5-flash" },
      { key: "endpointUrl", label: "Endpoint URL", slot: "config", required: false, kind: "url", hint: "Optional." },
      { key: "clientEmail", label: "Client email", slot: "secret", required: true, kind: "email" },
      { key: "privateKey", label: "Private key", slot: "secret", required: true, kind: "textarea", hint: "The service account's PEM key (-----BEGIN PRIVATE KEY----- …)." },
      { key: "privateKeyId", label: "Private key ID", slot: "secret", required: false, kind: "password" },
    ],
  },
];

const specOf = (provider: string): ProviderSpec => providers.find((p) => p.id === provider) ?? keyOnly(provider, provider);
const providerName = (provider: string) => specOf(provider).name;
/** How a credential is named in buttons and messages: its label, else its provider id. */
const nameOf = (credential: Credential) => credential.label?.trim() || credential.provider;

const base = (workspaceId: string) => `/api/workspaces/${encodeURIComponent(workspaceId)}/provider-credentials`;

/** The body parts the fields fill: apiKey, secrets and config, leaving out optional ones left empty. */
function bodyOf(fields: InputSpec[], values: Record<string, string>) {
  const body: { apiKey?: string; secrets?: Record<string, string>; config?: Record<string, string> } = {};
  for (const field of fields) {
    const value = (values[field.key] ?? "").trim();
    if (value === "") continue;
    if (field.slot === "apiKey") body.apiKey = value;
    else if (field.slot === "secret") (body.secrets ??= {})[field.key] = value;
    else (body.config ??= {})[field.key] = value;
  }
  return body;
}

interface TestOutcome { text: string; ok: boolean }

export function CredentialsPage() {
  const { workspace } = useApp();
  const manage = canManage(workspace);
  const list = useAsync(() => get<{ data: Credential[] }>(base(workspace.id)), [workspace.id]);
  const [form, setForm] = useState<{ mode: "add" } | { mode: "rotate" | "edit"; credential: Credential } | null>(null);
  const [deleting, setDeleting] = useState<Credential | null>(null);
  const [testing, setTesting] = useState<string | null>(null);
  const [tests, setTests] = useState<Record<string, TestOutcome>>({});
  const [notice, setNotice] = useState("");
  const action = useAction();

  const done = (message: string) => {
    setForm(null);
    setNotice(message);
    list.reload();
  };

  const test = async (credential: Credential) => {
    setTesting(credential.id);
    setNotice("");
    let outcome: TestOutcome;
    try {
      const result = await post<CredentialTestResult>(`${base(workspace.id)}/${encodeURIComponent(credential.id)}/test`);
      const status = result.providerStatus ? ` (provider answered ${result.providerStatus})` : "";
      outcome = result.ok
        ? { ok: true, text: `Test passed: ${providerName(credential.provider)} answered in ${Math.round(result.latencyMs)} ms.${result.message ? " " + result.message : ""}` }
        : { ok: false, text: `Test failed: ${result.message || "the provider refused the credential."}${status}` };
    } catch (failure) {
      outcome = { ok: false, text: `Test failed: ${messageOf(failure)}` };
    }
    setTests((all) => ({ ...all, [credential.id]: outcome }));
    setTesting(null);
  };

  const toggle = (credential: Credential) =>
    action.run(async () => {
      setNotice("");
      const status = credential.status === "active" ? "disabled" : "active";
      await patch(`${base(workspace.id)}/${encodeURIComponent(credential.id)}`, { status });
      setNotice(`${nameOf(credential)} is ${status === "active" ? "enabled" : "disabled"}.`);
      list.reload();
    });

  const columns = manage ? 6 : 5;
  return (
    <Page
      title="Provider credentials"
      actions={
        manage ? (
          <button type="button" class="primary" aria-expanded={form?.mode === "add"} onClick={() => (setNotice(""), setForm({ mode: "add" }))}>
            Add credential
          </button>
        ) : undefined
      }
    >
      <p class="muted page-intro">
        Your own provider keys (BYOK). The gateway stores them encrypted and never shows them again: only a short preview.
        {manage ? null : " Only owners and admins can add or change credentials."}
      </p>
      {form?.mode === "add" ? <AddForm onCancel={() => setForm(null)} onSaved={(c) => done(`${nameOf(c)} is saved.`)} /> : null}
      {form?.mode === "rotate" ? (
        <RotateForm key={form.credential.id} credential={form.credential} onCancel={() => setForm(null)} onSaved={(c) => done(`${nameOf(c)} has a new secret.`)} />
      ) : null}
      {form?.mode === "edit" ? (
        <EditForm key={form.credential.id} credential={form.credential} onCancel={() => setForm(null)} onSaved={(c) => done(`${nameOf(c)} is saved.`)} />
      ) : null}
      <ErrorNote message={action.error} />
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <Loaded state={list}>
        {({ data }) =>
          data.length === 0 ? (
            <Empty>No provider credentials yet.</Empty>
          ) : (
            <div class="table-wrap">
              <table class="credentials">
                <caption>Credentials</caption>
                <thead>
                  <tr>
                    <th scope="col">Provider</th>
                    <th scope="col">Label</th>
                    <th scope="col">Status</th>
                    <th scope="col">Key preview</th>
                    <th scope="col">Updated</th>
                    {manage ? <th scope="col">Actions</th> : null}
                  </tr>
                </thead>
                <tbody>
                  {data.map((c) => {
                    const name = nameOf(c);
                    const outcome = tests[c.id];
                    return [
                      <tr key={c.id}>
                        <td>
                          {providerName(c.provider)}
                          <br />
                          <code class="muted">{c.provider}</code>
                        </td>
                        <th scope="row">{c.label ?? <span class="muted">—</span>}</th>
                        <td>
                          <span class={`badge badge-${c.status === "active" ? "active" : "disabled"}`}>{c.status === "active" ? "Active" : "Disabled"}</span>
                        </td>
                        <td>
                          <code>{c.keyPreview}</code>
                        </td>
                        <td>{dateTime(c.updatedAt)}</td>
                        {manage ? (
                          <td class="row-actions">
                            <button type="button" aria-label={`Test ${name}`} disabled={testing !== null} onClick={() => void test(c)}>
                              {testing === c.id ? "Testing…" : "Test"}
                            </button>
                            <button type="button" aria-label={`Rotate ${name}`} onClick={() => (setNotice(""), setForm({ mode: "rotate", credential: c }))}>
                              Rotate
                            </button>
                            <button type="button" aria-label={`Edit ${name}`} onClick={() => (setNotice(""), setForm({ mode: "edit", credential: c }))}>
                              Edit
                            </button>
                            <button
                              type="button"
                              aria-label={`${c.status === "active" ? "Disable" : "Enable"} ${name}`}
                              disabled={action.busy}
                              onClick={() => void toggle(c)}
                            >
                              {c.status === "active" ? "Disable" : "Enable"}
                            </button>
                            <button type="button" class="danger-text" aria-label={`Delete ${name}`} onClick={() => setDeleting(c)}>
                              Delete
                            </button>
                          </td>
                        ) : null}
                      </tr>,
                      outcome ? (
                        <tr key={`${c.id}-test`} class="test-row">
                          <td colSpan={columns}>
                            <p role="status" class={outcome.ok ? "notice" : "error test-failed"}>
                              {outcome.text}
                            </p>
                          </td>
                        </tr>
                      ) : null,
                    ];
                  })}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
      {deleting ? (
        <Confirm
          title={`Delete ${nameOf(deleting)}?`}
          message="Requests that use this provider through the gateway fail until another credential is added. The secret is erased."
          confirmLabel="Delete"
          onAnswer={(yes) => {
            const credential = deleting;
            setDeleting(null);
            if (yes)
              void action.run(async () => {
                setNotice("");
                await del(`${base(workspace.id)}/${encodeURIComponent(credential.id)}`);
                setTests((all) => {
                  const rest = { ...all };
                  delete rest[credential.id];
                  return rest;
                });
                setNotice(`${nameOf(credential)} is deleted.`);
                list.reload();
              });
          }}
        />
      ) : null}
    </Page>
  );
}

/** One input per field: passwords for secrets, a textarea for a PEM key. */
function Inputs({ fields, values, onInput }: { fields: InputSpec[]; values: Record<string, string>; onInput: (key: string, value: string) => void }) {
  return (
    <>
      {fields.map((field) =>
        field.kind === "textarea" ? (
          <SecretArea key={field.key} label={field.label} hint={field.hint} value={values[field.key] ?? ""} onInput={(v) => onInput(field.key, v)} required={field.required} />
        ) : (
          <Field
            key={field.key}
            label={field.label}
            type={field.kind ?? "text"}
            value={values[field.key] ?? ""}
            onInput={(v) => onInput(field.key, v)}
            required={field.required}
            hint={field.hint ?? (field.required ? undefined : "Optional.")}
            autoComplete={field.kind === "password" ? "new-password" : "off"}
          />
        ),
      )}
    </>
  );
}

let areaIds = 0;

/** A private key: a textarea (PEM keys span lines) that browsers do not spell-check or remember. */
function SecretArea({ label, value, onInput, hint, required }: { label: string; value: string; onInput: (value: string) => void; hint?: string; required: boolean }) {
  const id = useRef(`secret-area-${++areaIds}`).current;
  return (
    <div class="field field-wide">
      <label for={id}>{label}</label>
      <textarea
        id={id}
        rows={5}
        value={value}
        required={required}
        spellcheck={false}
        autoComplete="off"
        class="secret-area"
        aria-describedby={hint ? `${id}-hint` : undefined}
        onInput={(event) => onInput((event.target as HTMLTextAreaElement).value)}
      />
      {hint ? (
        <small id={`${id}-hint`} class="muted">
          {hint}
        </small>
      ) : null}
    </div>
  );
}

/** A form that opens on a button press takes the focus, so keyboard users land in it. */
function useFocusFirst() {
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    ref.current?.querySelector<HTMLElement>("select, input, textarea")?.focus();
    ref.current?.scrollIntoView({ block: "nearest" });
  }, []);
  return ref;
}

function useValues(initial: Record<string, string> = {}) {
  const [values, setValues] = useState<Record<string, string>>(initial);
  const set = (key: string, value: string) => setValues((all) => ({ ...all, [key]: value }));
  return { values, setValues, set };
}

function AddForm({ onCancel, onSaved }: { onCancel: () => void; onSaved: (credential: Credential) => void }) {
  const { workspace } = useApp();
  const [provider, setProvider] = useState(providers[0].id);
  const [label, setLabel] = useState("");
  const { values, setValues, set } = useValues();
  const { busy, error, run } = useAction();
  const formRef = useFocusFirst();
  const spec = specOf(provider);

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const body = { provider, label: label.trim() || undefined, ...bodyOf(spec.fields, values) };
      const created = await post<Credential>(base(workspace.id), body);
      setValues({});
      onSaved(created);
    });
  };

  return (
    <form ref={formRef} class="panel" onSubmit={submit} aria-labelledby="add-credential-heading" autoComplete="off">
      <h2 id="add-credential-heading">New credential</h2>
      <div class="grid">
        <Select
          label="Provider"
          value={provider}
          onChange={(value) => (setProvider(value), setValues({}))}
          options={providers.map((p) => ({ value: p.id, label: `${p.name} (${p.id})` }))}
        />
        <Field label="Label" value={label} onInput={setLabel} hint="Optional: tells credentials apart, e.g. “production”." />
        <Inputs fields={spec.fields} values={values} onInput={set} />
      </div>
      <ErrorNote message={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Save credential
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** A new secret for an existing credential: the secret fields only, never the old ones. */
function RotateForm({ credential, onCancel, onSaved }: { credential: Credential; onCancel: () => void; onSaved: (credential: Credential) => void }) {
  const { workspace } = useApp();
  const fields = specOf(credential.provider).fields.filter((f) => f.slot !== "config");
  const { values, set } = useValues();
  const { busy, error, run } = useAction();
  const formRef = useFocusFirst();
  const title = `Rotate ${nameOf(credential)}`;

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const { apiKey: key, secrets } = bodyOf(fields, values);
      const body = fields.some((f) => f.slot === "apiKey") ? { apiKey: key ?? "" } : { secrets: secrets ?? {} };
      onSaved(await patch<Credential>(`${base(workspace.id)}/${encodeURIComponent(credential.id)}`, body));
    });
  };

  return (
    <form ref={formRef} class="panel" onSubmit={submit} aria-label={title} autoComplete="off">
      <h2>{title}</h2>
      <p class="muted">
        {providerName(credential.provider)} · current key <code>{credential.keyPreview}</code>. The old secret stops being used as soon as you save.
      </p>
      <div class="grid">
        <Inputs fields={fields} values={values} onInput={set} />
      </div>
      <ErrorNote message={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Save new secret
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** Label and non-secret settings. */
function EditForm({ credential, onCancel, onSaved }: { credential: Credential; onCancel: () => void; onSaved: (credential: Credential) => void }) {
  const { workspace } = useApp();
  const fields = specOf(credential.provider).fields.filter((f) => f.slot === "config");
  const [label, setLabel] = useState(credential.label ?? "");
  const { values, set } = useValues({ ...credential.config });
  const { busy, error, run } = useAction();
  const formRef = useFocusFirst();
  const title = `Edit ${nameOf(credential)}`;

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const body: Record<string, unknown> = { label: label.trim() || null };
      if (fields.length > 0) body.config = bodyOf(fields, values).config ?? {};
      onSaved(await patch<Credential>(`${base(workspace.id)}/${encodeURIComponent(credential.id)}`, body));
    });
  };

  return (
    <form ref={formRef} class="panel" onSubmit={submit} aria-label={title} autoComplete="off">
      <h2>{title}</h2>
      <p class="muted">{providerName(credential.provider)}. To change the secret, use Rotate.</p>
      <div class="grid">
        <Field label="Label" value={label} onInput={setLabel} />
        <Inputs fields={fields} values={values} onInput={set} />
      </div>
      <ErrorNote message={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Save changes
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
