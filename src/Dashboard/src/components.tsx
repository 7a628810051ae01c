// The pieces every page is made of: data loading with its states, errors in the API's words, tables, forms and dialogs.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";

export interface AsyncState<T> {
  data: T | undefined;
  error: string;
  loading: boolean;
  reload: () => void;
}

/** Runs <paramref name="load"/> when its dependencies change; the page renders loading, error or data. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setLoading(true);
    setError("");
    load().then(
      (value) => current && (setData(value), setLoading(false)),
      (failure: unknown) => current && (setError(messageOf(failure)), setLoading(false)),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data, error, loading, reload };
}

export function messageOf(failure: unknown): string {
  if (failure instanceof ApiError) return failure.message;
  if (failure instanceof Error) return failure.message;
  return String(failure);
}

/** Runs an action (a form's submit, a button), keeping its busy flag and its error for the page to show. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError("");
    try {
      await action();
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

export const Loading = () => (
  <p class="muted" role="status">
    Loading…
  </p>
);

export const ErrorNote = ({ message }: { message: string }) =>
  message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;

export const Notice = ({ message }: { message: string }) =>
  message ? (
    <p class="notice" role="status">
      {message}
    </p>
  ) : null;

export const Empty = ({ children }: { children: ComponentChildren }) => <p class="empty">{children}</p>;

/** Loading, error or the content, for one request's state. */
export function Loaded<T>({ state, children }: { state: AsyncState<T>; children: (data: T) => ComponentChildren }) {
  if (state.error) return <ErrorNote message={state.error} />;
  if (state.loading && state.data === undefined) return <Loading />;
  return state.data === undefined ? null : <>{children(state.data)}</>;
}

export const Page = ({ title, actions, children }: { title: string; actions?: ComponentChildren; children: ComponentChildren }) => (
  <section class="page">
    <header class="page-header">
      <h1>{title}</h1>
      {actions ? <div class="actions">{actions}</div> : null}
    </header>
    {children}
  </section>
);

export const Kpi = ({ label, value, detail }: { label: string; value: string; detail?: string }) => (
  <section class="kpi" aria-label={label}>
    <h2>{label}</h2>
    <p class="kpi-value">{value}</p>
    {detail ? <p class="muted">{detail}</p> : null}
  </section>
);

export interface FieldProps {
  label: string;
  value: string;
  onInput: (value: string) => void;
  type?: "text" | "email" | "password" | "number" | "date" | "url" | "search" | "datetime-local";
  required?: boolean;
  placeholder?: string;
  autoComplete?: string;
  hint?: string;
  step?: string;
  min?: string;
}

let fieldIds = 0;
const useId = (prefix: string) => useRef(`${prefix}-${++fieldIds}`).current;

/** A field's hint; its control points at it with aria-describedby={`${id}-hint`}. */
export const Hint = ({ id, text }: { id: string; text?: string }) =>
  text ? (
    <small id={`${id}-hint`} class="muted">
      {text}
    </small>
  ) : null;

export function Field({ label, value, onInput, type = "text", required, placeholder, autoComplete, hint, step, min }: FieldProps) {
  const id = useId("field");
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {/* Preact 11 types each input type separately; the attributes are plain HTML either way. */}
      <input
        {...({ id, type, value, required, placeholder, autoComplete, step, min } as Record<string, unknown>)}
        aria-describedby={hint ? `${id}-hint` : undefined}
        onInput={(event) => onInput((event.target as HTMLInputElement).value)}
      />
      <Hint id={id} text={hint} />
    </div>
  );
}

export function TextArea({ label, value, onInput, rows = 4 }: { label: string; value: string; onInput: (value: string) => void; rows?: number }) {
  const id = useId("area");
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea id={id} rows={rows} value={value} onInput={(event) => onInput((event.target as HTMLTextAreaElement).value)} />
    </div>
  );
}

export function Select({ label, value, onChange, options }: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: readonly (string | { value: string; label: string })[];
}) {
  const id = useId("select");
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange((event.target as HTMLSelectElement).value)}>
        {options.map((option) =>
          typeof option === "string" ? (
            <option key={option} value={option}>
              {option}
            </option>
          ) : (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ),
        )}
      </select>
    </div>
  );
}

/** A modal dialog (native &lt;dialog&gt;: focus is trapped and Escape closes it). */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const headingId = useId("dialog");
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={headingId} onCancel={(event) => (event.preventDefault(), onClose())}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </dialog>
  );
}

/** Asks before a destructive action. Either answer closes it; "yes" then runs onConfirm. */
export function Confirm({ title, message, confirmLabel, onClose, onConfirm }: {
  title: string;
  message: ComponentChildren;
  confirmLabel: string;
  onClose: () => void;
  onConfirm: () => void;
}) {
  return (
    <Dialog title={title} onClose={onClose}>
      <p>{message}</p>
      <div class="actions">
        <button type="button" class="danger" onClick={() => (onClose(), onConfirm())}>
          {confirmLabel}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

/** A form's buttons: submit (disabled while the form's action runs) and Cancel. */
export const FormActions = ({ submitLabel, busy, onCancel }: { submitLabel: string; busy: boolean; onCancel: () => void }) => (
  <div class="actions">
    <button type="submit" class="primary" disabled={busy}>
      {submitLabel}
    </button>
    <button type="button" onClick={onCancel}>
      Cancel
    </button>
  </div>
);

/** A report's filter buttons: "Apply filters" (off while the report loads) and, if given, one that resets them. */
export const FilterActions = ({ loading, reset }: { loading: boolean; reset?: { label: string; onClick: () => void } }) => (
  <div class="filter-actions">
    <button type="submit" class="primary" disabled={loading}>
      Apply filters
    </button>
    {reset ? (
      <button type="button" onClick={reset.onClick}>
        {reset.label}
      </button>
    ) : null}
  </div>
);

/** Copies text with the Clipboard API and says so. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState("");
  return (
    <span class="copy">
      <button
        type="button"
        onClick={() =>
          navigator.clipboard.writeText(text).then(
            () => setState("Copied"),
            () => setState("Copy failed: select the text and copy it by hand."),
          )
        }
      >
        {label}
      </button>
      {state ? <span role="status">{state}</span> : null}
    </span>
  );
}
