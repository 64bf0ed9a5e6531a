// Generated from the API's OpenAPI document by `python -m functions.core.api.web_types`; do not edit.
// tests/functional/test_web_types.py fails when it no longer matches the API.

export interface ContactIn {
  name?: string;
  email?: string | null;
  phone?: string | null;
  note?: string;
}

export interface ContactOut {
  id: string;
  avatar_id: string | null;
  session_id: string | null;
  name: string;
  email: string | null;
  phone: string | null;
  note: string;
  created_at: string;
}

export interface ContactSaved {
  id: string;
}

export interface ToolCreate {
  /** JSON Schema of the arguments */
  parameters?: Record<string, unknown> | null;
  /** Header names and secret values sent with every request; never shown again */
  headers?: Record<string, string> | null;
  kind?: ToolKind;
  /** How the LLM calls it; a built-in tool's is its kind */
  name?: string | null;
  /** When the LLM should use it */
  description?: string;
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | null;
  url?: string | null;
  timeout_ms?: number;
  enabled?: boolean;
}

export interface ToolCreated {
  id: string;
  avatar_id: string;
  kind: ToolKind;
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  method: string | null;
  url: string | null;
  timeout_ms: number;
  enabled: boolean;
  header_names: string[];
  created_at: string;
  updated_at: string;
  /** Verifies the X-Avatar-Studio-Signature of the tool's requests; shown only now */
  signing_secret: string;
}

export type ToolKind = "http" | "capture_contact" | "handoff_to_human" | "end_conversation";

export interface ToolOut {
  id: string;
  avatar_id: string;
  kind: ToolKind;
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  method: string | null;
  url: string | null;
  timeout_ms: number;
  enabled: boolean;
  header_names: string[];
  created_at: string;
  updated_at: string;
}

export interface ToolPatch {
  parameters?: Record<string, unknown> | null;
  /** Replaces every header of the tool */
  headers?: Record<string, string> | null;
  description?: string | null;
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | null;
  url?: string | null;
  timeout_ms?: number | null;
  enabled?: boolean | null;
}

export interface ToolTest {
  /** As the LLM would give them */
  arguments?: Record<string, unknown>;
}

export interface ToolTestResult {
  ok: boolean;
  status: number | null;
  result: unknown;
  elapsed_ms: number;
}
