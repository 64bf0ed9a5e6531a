/**
 * The avatar's tools: HTTP tools the owner defines (JSON Schema arguments, secret headers that are never
 * shown back), the built-in ones switched on or off, and "Test this tool" through the server.
 */

import { ApiClient, ApiError, humanMessage } from "../lib/api";
import type { components } from "../api/schema";
import { h } from "../lib/dom";

type ToolCreate = components["schemas"]["ToolCreate"];
type ToolCreated = components["schemas"]["ToolCreated"];
type ToolKind = components["schemas"]["ToolKind"];
type ToolOut = components["schemas"]["ToolOut"];
type ToolPatch = components["schemas"]["ToolPatch"];
type ToolTest = components["schemas"]["ToolTest"];
type ToolTestResult = components["schemas"]["ToolTestResult"];

/** An avatar's tool as the API lists it. */
export type Tool = ToolOut;

const METHODS = ["POST", "GET", "PUT", "PATCH", "DELETE"] as const;
const NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;
const HEADER_NAME = /^[A-Za-z0-9-]{1,100}$/;
/** How much of a tool's answer the test shows; the LLM itself is given at most 4,000 characters. */
export const SHOWN_RESULT_CHARS = 2000;

const BUILT_IN: { kind: Exclude<ToolKind, "http">; label: string; help: string }[] = [
  {
    kind: "capture_contact",
    label: "Take contact details",
    help: "The avatar saves a visitor's name, email, phone and note when they want to be contacted; you find them under Contacts. Without an LLM key, the widget offers a small form instead.",
  },
  {
    kind: "handoff_to_human",
    label: "Hand over to a person",
    help: "When a visitor asks for a person, the avatar POSTs {event, reason, session_id} to your webhook (signed like any tool) and tells the visitor someone will follow up.",
  },
  {
    kind: "end_conversation",
    label: "End the conversation",
    help: "The avatar ends the conversation after saying goodbye.",
  },
];

const EXAMPLE_SCHEMA = `{
  "type": "object",
  "properties": {
    "order": {"type": "string", "description": "The order number, e.g. A-17"}
  },
  "required": ["order"]
}`;

/** What is wrong with a parameters text as a tool's JSON Schema, or null when it will do. */
export function schemaProblem(text: string): string | null {
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    return `Not valid JSON: ${(error as Error).message}`;
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return "The schema must be a JSON object.";
  const object = schema as Record<string, unknown>;
  if (object.type !== "object") return 'The arguments must be an object: start with "type": "object".';
  const properties = object.properties;
  if (properties !== undefined && (typeof properties !== "object" || properties === null || Array.isArray(properties))) {
    return '"properties" must be an object of argument names.';
  }
  const required = object.required;
  if (required !== undefined) {
    if (!Array.isArray(required) || required.some((name) => typeof name !== "string")) return '"required" must be a list of argument names.';
    const known = Object.keys((properties as Record<string, unknown> | undefined) ?? {});
    const unknown = required.filter((name: string) => !known.includes(name));
    if (unknown.length) return `"required" names arguments that "properties" does not define: ${unknown.join(", ")}.`;
  }
  return null;
}

/** Sample arguments from a schema: each property's example, default or enum value, else a placeholder. */
export function sampleArguments(schema: Record<string, unknown>): Record<string, unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const sample: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    const examples = property.examples;
    const values = property.enum;
    if (Array.isArray(examples) && examples.length) sample[name] = examples[0];
    else if ("default" in property) sample[name] = property.default;
    else if (Array.isArray(values) && values.length) sample[name] = values[0];
    else if (property.type === "integer" || property.type === "number") sample[name] = 1;
    else if (property.type === "boolean") sample[name] = true;
    else sample[name] = "";
  }
  return sample;
}

function problemText(error: unknown): string {
  if (error instanceof ApiError && error.errors?.length) return error.errors.join("; ");
  return humanMessage(error);
}

function field(label: string, control: HTMLElement, help?: string): HTMLElement {
  const id = control.id;
  const helpId = help ? `${id}-help` : undefined;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  return h("label", { class: "field", for: id }, label, control, help ? h("p", { class: "help", id: helpId }, help) : null);
}

/** One header row of the form: a name and a secret value, typed once and never shown back. */
function headerRow(onRemove: (row: HTMLElement) => void): HTMLElement {
  const row = h("div", { class: "header-row" });
  const name = h("input", { name: "header_name", placeholder: "X-Api-Key", "aria-label": "Header name", autocomplete: "off" });
  const value = h("input", { name: "header_value", type: "password", placeholder: "secret value", "aria-label": "Header value (secret)", autocomplete: "new-password" });
  const remove = h("button", { type: "button", class: "danger", "aria-label": "Remove this header" }, "Remove");
  remove.addEventListener("click", () => onRemove(row));
  row.append(name, value, remove);
  return row;
}

function readHeaders(rows: HTMLElement): { headers: Record<string, string>; problem: string | null } {
  const headers: Record<string, string> = {};
  for (const row of rows.querySelectorAll<HTMLElement>(".header-row")) {
    const [name, value] = [...row.querySelectorAll("input")].map((input) => input.value.trim());
    if (!name && !value) continue;
    if (!HEADER_NAME.test(name ?? "")) return { headers, problem: `"${name}" is not a header name: letters, digits and "-".` };
    if (!value) return { headers, problem: `Enter the value of ${name}.` };
    headers[name ?? ""] = value ?? "";
  }
  return { headers, problem: null };
}

export function toolsPanel(api: ApiClient, avatarId: string): HTMLElement {
  const base = `/v1/avatars/${avatarId}/tools`;
  const error = h("p", { class: "error", role: "alert" });
  const status = h("div", { role: "status", "data-part": "tools-status" });
  const list = h("ul", { class: "tools", "aria-label": "HTTP tools" });
  const builtIns = h("div", { class: "built-ins" });
  const editor = h("div", { "data-part": "tool-editor" });
  const addButton = h("button", { type: "button", class: "primary" }, "Add an HTTP tool");
  let tools: Tool[] = [];

  function load(): Promise<void> {
    return api.json<Tool[]>("GET", base).then(
      (found) => {
        tools = found;
        render();
      },
      (failure: unknown) => {
        error.textContent = humanMessage(failure);
      },
    );
  }

  function render(): void {
    const http = tools.filter((tool) => tool.kind === "http");
    list.replaceChildren(...http.map(toolItem));
    if (http.length === 0) list.append(h("li", {}, "No HTTP tools yet."));
    builtIns.replaceChildren(...BUILT_IN.map(({ kind, label, help }) => builtInRow(kind, label, help)));
  }

  function toolItem(tool: Tool): HTMLElement {
    const edit = h("button", { type: "button", "aria-label": `Edit ${tool.name}` }, "Edit");
    edit.addEventListener("click", () => openEditor(tool));
    const test = h("button", { type: "button", "aria-label": `Test this tool: ${tool.name}` }, "Test this tool");
    const tester = h("div", { class: "tester" });
    test.addEventListener("click", () => tester.replaceChildren(testForm(tool)));
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete ${tool.name}` }, "Delete");
    remove.addEventListener("click", () => {
      if (!confirm(`Delete the tool ${tool.name}? The avatar stops using it at once.`)) return;
      api.json("DELETE", `${base}/${tool.id}`).then(
        () => void load().then(() => (status.textContent = `Deleted ${tool.name}.`)),
        (failure: unknown) => (error.textContent = humanMessage(failure)),
      );
    });
    const headers = tool.header_names.length
      ? h("span", { "data-part": "header-names" }, "Secret headers: ", ...tool.header_names.map((name) => h("code", {}, `${name}: set`)))
      : null;
    return h(
      "li",
      { "data-tool": tool.name },
      h("div", { class: "tool-head" }, h("strong", {}, tool.name), tool.enabled ? null : h("span", { class: "badge" }, "off"), h("code", {}, `${tool.method} ${tool.url}`)),
      h("p", { class: "help" }, tool.description),
      headers,
      h("div", { class: "row" }, test, edit, remove),
      tester,
    );
  }

  function builtInRow(kind: Exclude<ToolKind, "http">, label: string, help: string): HTMLElement {
    const tool = tools.find((t) => t.kind === kind);
    const id = `builtin-${kind}`;
    const toggle = h("input", { type: "checkbox", id, checked: tool?.enabled ?? false, "aria-describedby": `${id}-help` });
    const webhook =
      kind === "handoff_to_human"
        ? h("input", { id: `${id}-url`, type: "url", name: "webhook", placeholder: "https://example.com/avatar-handoff", value: tool?.url ?? "" })
        : null;
    const problem = h("p", { class: "error" });
    const save = (enabled: boolean): void => {
      problem.textContent = "";
      const url = webhook?.value.trim();
      if (enabled && webhook && !url) {
        problem.textContent = "Enter your webhook's address first: the hand-over is announced there.";
        toggle.checked = false;
        webhook.focus();
        return;
      }
      const change: ToolPatch = { enabled, ...(url && url !== tool?.url ? { url } : {}) };
      const request = tool
        ? api.json<ToolOut>("PATCH", `${base}/${tool.id}`, change)
        : api.json<ToolCreated>("POST", base, { kind, enabled, ...(url ? { url } : {}) } satisfies ToolCreate);
      request.then(
        () => void load().then(() => (status.textContent = `${label}: ${enabled ? "on" : "off"}.`)),
        (failure: unknown) => {
          toggle.checked = !enabled;
          problem.textContent = problemText(failure);
        },
      );
    };
    toggle.addEventListener("change", () => save(toggle.checked));
    const saveWebhook = webhook && tool ? h("button", { type: "button" }, "Save address") : null;
    saveWebhook?.addEventListener("click", () => save(toggle.checked));
    return h(
      "div",
      { class: "built-in", "data-kind": kind },
      h("label", { class: "check", for: id }, toggle, label, h("code", {}, kind)),
      h("p", { class: "help", id: `${id}-help` }, help),
      webhook ? h("div", { class: "row" }, field("Webhook address", webhook), saveWebhook) : null,
      problem,
    );
  }

  function openEditor(tool: Tool | null): void {
    editor.replaceChildren(toolForm(tool));
    editor.querySelector<HTMLElement>("input, textarea")?.focus();
  }

  function toolForm(tool: Tool | null): HTMLElement {
    const prefix = tool ? `tool-${tool.id}` : "tool-new";
    const name = h("input", { id: `${prefix}-name`, name: "name", required: true, maxlength: 64, value: tool?.name ?? "", disabled: tool !== null, autocomplete: "off" });
    const description = h("textarea", { id: `${prefix}-description`, name: "description", required: true, maxlength: 1000, rows: 2 });
    description.value = tool?.description ?? "";
    const parameters = h("textarea", { id: `${prefix}-parameters`, name: "parameters", rows: 7, spellcheck: "false", class: "code" });
    parameters.value = tool ? JSON.stringify(tool.parameters, null, 2) : EXAMPLE_SCHEMA;
    const schemaNote = h("p", { class: "help", "data-part": "schema-check", "aria-live": "polite" });
    const checkSchema = (): boolean => {
      const problem = schemaProblem(parameters.value);
      schemaNote.textContent = problem ?? "Valid: an object of arguments.";
      schemaNote.classList.toggle("error", problem !== null);
      parameters.setAttribute("aria-invalid", String(problem !== null));
      return problem === null;
    };
    parameters.addEventListener("input", checkSchema);
    const method = h("select", { id: `${prefix}-method`, name: "method" }, ...METHODS.map((m) => h("option", { value: m, selected: (tool?.method ?? "POST") === m }, m)));
    const url = h("input", { id: `${prefix}-url`, name: "url", type: "url", required: true, placeholder: "https://api.example.com/orders/status", value: tool?.url ?? "" });
    const timeout = h("input", { id: `${prefix}-timeout`, name: "timeout_ms", type: "number", min: 100, max: 30000, step: 100, value: tool?.timeout_ms ?? 5000 });
    const enabled = h("input", { id: `${prefix}-enabled`, type: "checkbox", name: "enabled", checked: tool?.enabled ?? true });
    const rows = h("div", { class: "header-rows" });
    const addHeader = h("button", { type: "button" }, "Add a header");
    addHeader.addEventListener("click", () => {
      const row = headerRow((removed) => removed.remove());
      rows.append(row);
      row.querySelector("input")?.focus();
    });
    const replaceHeaders = h("input", { id: `${prefix}-replace`, type: "checkbox", name: "replace_headers" });
    const headerTools = h("div", { hidden: tool !== null && tool.header_names.length > 0 }, rows, addHeader);
    replaceHeaders.addEventListener("change", () => (headerTools.hidden = !replaceHeaders.checked));
    const existing =
      tool && tool.header_names.length
        ? h(
            "div",
            {},
            h("p", { "data-part": "header-names" }, "Set: ", ...tool.header_names.map((n) => h("code", {}, `${n}: set`))),
            h("label", { class: "check", for: replaceHeaders.id }, replaceHeaders, "Replace the secret headers (enter every header the tool keeps)"),
          )
        : null;
    const problem = h("div", { class: "error", role: "alert" });
    const cancel = h("button", { type: "button" }, "Cancel");
    cancel.addEventListener("click", () => editor.replaceChildren());
    const form = h(
      "form",
      { class: "fields tool-form", "aria-label": tool ? `Edit ${tool.name}` : "New HTTP tool", novalidate: true },
      h("h4", {}, tool ? `Edit ${tool.name}` : "New HTTP tool"),
      field("Name", name, "How the LLM calls it: letters, digits, _ and -, starting with a letter (e.g. order_status)."),
      field("Description", description, "When the avatar should use it, in a sentence the LLM reads (e.g. “Look up the status of an order by its number.”)."),
      field("Parameters (JSON Schema)", parameters, 'The arguments as a JSON Schema object; each call is checked against it before your system is asked. {"type": "object", "properties": {}} takes none.'),
      schemaNote,
      h("div", { class: "row" }, field("Method", method), field("Timeout (ms)", timeout, "100 to 30,000.")),
      field("URL", url, "Must be a public http(s) address. GET sends the arguments as the query, other methods as a JSON body."),
      h(
        "fieldset",
        { class: "headers" },
        h("legend", {}, "Secret headers"),
        h("p", { class: "help" }, "Sent with every request (an API key of your system). Values are stored on the server and never shown again, nor given to the LLM."),
        existing,
        headerTools,
      ),
      h("label", { class: "check", for: enabled.id }, enabled, "On: the avatar may use it"),
      problem,
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, tool ? "Save tool" : "Add tool"), cancel),
    );
    if (tool) checkSchema();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      problem.replaceChildren();
      const problems: string[] = [];
      if (!tool && !NAME_PATTERN.test(name.value.trim())) problems.push("Name: letters, digits, _ and -, starting with a letter.");
      if (!description.value.trim()) problems.push("Description: say when the avatar should use this tool.");
      if (!checkSchema()) problems.push(`Parameters: ${schemaNote.textContent}`);
      if (!/^https?:\/\/\S+$/.test(url.value.trim())) problems.push("URL: an http:// or https:// address.");
      const timeoutMs = Number(timeout.value);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 30000) problems.push("Timeout: 100 to 30,000 milliseconds.");
      const sendHeaders = tool === null || tool.header_names.length === 0 || replaceHeaders.checked;
      const { headers, problem: headerProblem } = readHeaders(rows);
      if (sendHeaders && headerProblem) problems.push(`Headers: ${headerProblem}`);
      if (problems.length) {
        problem.replaceChildren(...problems.map((text) => h("p", {}, text)));
        return;
      }
      // An edit sends headers only when they change: the server replaces all of them with what it gets.
      const changedHeaders = sendHeaders && (tool !== null || Object.keys(headers).length > 0) ? { headers } : {};
      const fields = {
        description: description.value.trim(),
        parameters: JSON.parse(parameters.value) as Record<string, unknown>,
        method: method.value as NonNullable<ToolPatch["method"]>,
        url: url.value.trim(),
        timeout_ms: timeoutMs,
        enabled: enabled.checked,
        ...changedHeaders,
      };
      const body: ToolPatch = fields;
      const created: ToolCreate = { ...fields, kind: "http", name: name.value.trim() };
      const request: Promise<Tool & { signing_secret?: string }> = tool
        ? api.json<ToolOut>("PATCH", `${base}/${tool.id}`, body)
        : api.json<ToolCreated>("POST", base, created);
      request.then(
        (saved) => {
          editor.replaceChildren();
          const secret = saved.signing_secret;
          const said = [h("p", {}, `${tool ? "Saved" : "Added"} ${saved.name}.`)];
          if (secret) {
            said.push(
              h("p", {}, "Its signing secret, shown only this once: verify the X-Avatar-Studio-Signature of its requests with it (see docs/api.md)."),
              h("p", { class: "secret", "data-part": "signing-secret" }, secret),
            );
          }
          // Said once the list shows the tool, so what it announces is there to use.
          void load().then(() => status.replaceChildren(...said));
        },
        (failure: unknown) => problem.replaceChildren(h("p", {}, problemText(failure))),
      );
    });
    return form;
  }

  function testForm(tool: Tool): HTMLElement {
    const id = `test-${tool.id}`;
    const args = h("textarea", { id, name: "arguments", rows: 4, spellcheck: "false", class: "code" });
    args.value = JSON.stringify(sampleArguments(tool.parameters), null, 2);
    const run = h("button", { type: "submit", class: "primary" }, "Run test");
    const outcome = h("div", { class: "test-outcome", "data-part": "test-outcome", "aria-live": "polite" });
    const form = h(
      "form",
      { class: "fields", "aria-label": `Test ${tool.name}` },
      field("Sample arguments (JSON)", args, "As the LLM would give them. The server checks them against the schema and sends the real, signed request."),
      h("div", { class: "row" }, run),
      outcome,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      let parsed: unknown;
      try {
        parsed = JSON.parse(args.value || "{}");
      } catch (failure) {
        outcome.replaceChildren(h("p", { class: "error", role: "alert" }, `Not valid JSON: ${(failure as Error).message}`));
        return;
      }
      run.disabled = true;
      outcome.replaceChildren(h("p", {}, `Calling ${tool.url}…`));
      api
        .json<ToolTestResult>("POST", `${base}/${tool.id}/test`, { arguments: parsed as Record<string, unknown> } satisfies ToolTest)
        .then(
          (result) => outcome.replaceChildren(...testResult(result)),
          (failure: unknown) => outcome.replaceChildren(h("p", { class: "error", role: "alert", "data-part": "test-problem" }, problemText(failure))),
        )
        .finally(() => (run.disabled = false));
    });
    return form;
  }

  addButton.addEventListener("click", () => openEditor(null));
  void load();
  return h(
    "div",
    { class: "tools-panel" },
    h("h3", {}, "Tools"),
    h("p", { class: "help" }, "Tools let the avatar act during a conversation: look something up in your systems, take a visitor's details, or hand over to a person. They need an LLM key on the server; the avatar decides from each description when to call it."),
    error,
    status,
    h("h4", {}, "Built-in tools"),
    builtIns,
    h("h4", {}, "HTTP tools"),
    list,
    addButton,
    editor,
  );
}

/** A test's outcome: worked or not, the status, the time taken and the answer, cut to a readable length. */
export function testResult(result: ToolTestResult): HTMLElement[] {
  const text = typeof result.result === "string" ? result.result : JSON.stringify(result.result, null, 2);
  const shown = text.length > SHOWN_RESULT_CHARS ? `${text.slice(0, SHOWN_RESULT_CHARS)}\n… (${text.length - SHOWN_RESULT_CHARS} more characters)` : text;
  const verdict = result.ok ? "Worked" : "Failed";
  const summary = [result.status === null ? "no answer" : `HTTP ${result.status}`, `${Math.round(result.elapsed_ms)} ms`].join(" · ");
  return [
    h("p", { class: result.ok ? "ok" : "error", "data-part": "test-summary" }, h("strong", {}, verdict), ` · ${summary}`),
    // Focusable, so a keyboard can scroll a long answer.
    h("pre", { "data-part": "test-result", tabindex: 0, "aria-label": "The tool's answer" }, shown),
  ];
}
