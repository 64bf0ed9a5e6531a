/**
 * Knowledge files go straight to storage: the API hands out a ticket (a signed form for the uploads
 * bucket, or for the local server's stand-in), the file is posted there, and its arrival starts the
 * indexing. Lambda never carries the file, so its 6 MB payload limit does not apply.
 */

import { ApiClient, errorFromResponse, type Fetch, offlineError } from "./api";

export interface UploadTicket {
  document_id: string;
  url: string;
  fields: Record<string, string>;
  expires_at: string;
}

/** Asks for a ticket, then posts the ticket's fields and the file (last, as S3 requires) to its url. */
export async function uploadDocument(
  api: ApiClient,
  avatarId: string,
  file: File,
  fetcher: Fetch = (input, init) => fetch(input, init),
): Promise<string> {
  const ticket = await api.json<UploadTicket>("POST", `/v1/avatars/${encodeURIComponent(avatarId)}/knowledge/uploads`, {
    filename: file.name,
    content_type: file.type || null,
    size_bytes: file.size,
  });
  const form = new FormData();
  for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
  form.append("file", file);
  let response: Response;
  try {
    response = await fetcher(ticket.url, { method: "POST", body: form });
  } catch {
    throw offlineError();
  }
  if (!response.ok) throw await errorFromResponse(response);
  return ticket.document_id;
}
