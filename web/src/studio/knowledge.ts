/** Knowledge documents: upload by picker or drag and drop, progress polled until ready or failed, delete. */

import { ApiClient, humanMessage } from "../lib/api";
import { h } from "../lib/dom";
import { uploadDocument } from "../lib/uploads";

interface KnowledgeDocument {
  id: string;
  title: string;
  source_name: string;
  status: "queued" | "indexing" | "ready" | "failed";
  chunks_done: number;
  chunks_total: number;
  error: string | null;
}

const POLL_MS = 1000;

export function knowledgePanel(api: ApiClient, avatarId: string): HTMLElement {
  const list = h("ul", { class: "docs", "aria-label": "Documents" });
  const error = h("p", { class: "error", role: "alert" });
  const picker = h("input", {
    type: "file",
    multiple: true,
    accept: ".md,.markdown,.txt,.html,.htm,.pdf,text/markdown,text/plain,text/html,application/pdf",
    "aria-label": "Choose documents to upload",
  });
  const drop = h(
    "div",
    { class: "drop" },
    h("p", {}, "Drop Markdown, text, HTML or PDF files here, or choose them:"),
    picker,
  );
  const rows = new Map<string, HTMLElement>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const panel = h("div", {}, h("h3", {}, "Knowledge"), drop, error, list);

  function render(doc: KnowledgeDocument): void {
    const progress = h("progress", {
      max: Math.max(1, doc.chunks_total),
      value: doc.chunks_done,
      "aria-label": `Indexing progress of ${doc.title}`,
    });
    const state =
      doc.status === "failed"
        ? `failed: ${doc.error ?? "unknown reason"}`
        : doc.status === "ready"
          ? `ready (${doc.chunks_total} chunks)`
          : `${doc.status} ${doc.chunks_done}/${doc.chunks_total}`;
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete ${doc.title}` }, "Delete");
    remove.addEventListener("click", () => {
      api.json("DELETE", `/v1/knowledge/${doc.id}`).then(
        () => {
          rows.get(doc.id)?.remove();
          rows.delete(doc.id);
        },
        (failure: unknown) => (error.textContent = humanMessage(failure)),
      );
    });
    const row = h(
      "li",
      { "data-document": doc.id, "data-status": doc.status },
      h("strong", {}, doc.title || doc.source_name),
      doc.status === "ready" || doc.status === "failed" ? null : progress,
      h("span", { class: doc.status === "failed" ? "error" : "" }, state),
      remove,
    );
    const existing = rows.get(doc.id);
    if (existing) existing.replaceWith(row);
    else list.prepend(row);
    rows.set(doc.id, row);
    if (doc.status === "queued" || doc.status === "indexing") poll(doc.id);
  }

  function poll(id: string): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!panel.isConnected) return;
      api.json<KnowledgeDocument>("GET", `/v1/knowledge/${id}`).then(render, (failure: unknown) => {
        error.textContent = humanMessage(failure);
      });
    }, POLL_MS);
    timers.add(timer);
  }

  async function upload(files: Iterable<File>): Promise<void> {
    error.textContent = "";
    for (const file of files) {
      try {
        const documentId = await uploadDocument(api, avatarId, file);
        render(await api.json<KnowledgeDocument>("GET", `/v1/knowledge/${documentId}`));
      } catch (failure) {
        error.textContent = `${file.name}: ${humanMessage(failure)}`;
      }
    }
  }

  picker.addEventListener("change", () => {
    void upload(picker.files ?? []).then(() => (picker.value = ""));
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    void upload(event.dataTransfer?.files ?? []);
  });

  api.json<KnowledgeDocument[]>("GET", `/v1/avatars/${avatarId}/knowledge`).then(
    (docs) => [...docs].reverse().forEach(render),
    (failure: unknown) => (error.textContent = humanMessage(failure)),
  );
  return panel;
}
