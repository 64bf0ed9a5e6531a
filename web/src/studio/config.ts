/** What the functions tell the client about themselves (GET /v1/config). */

import { ApiClient, ApiError } from "../lib/api";

/** A JSON schema property of a provider's options model, as pydantic writes it. */
export interface OptionSchema {
  type?: string;
  enum?: unknown[];
  anyOf?: OptionSchema[];
  $ref?: string;
  default?: unknown;
  description?: string;
  title?: string;
}

/** A provider as it declares itself (functions/core/providers/avatar/*.py). */
export interface ProviderInfo {
  name: string;
  label: string;
  configured: boolean;
  legacy: boolean;
  settings: string[];
  capabilities: { speaks_text: boolean; takes_audio: boolean; converses: boolean; lists_sessions: boolean };
  options_schema: { properties?: Record<string, OptionSchema> };
}

export interface ClientConfig {
  mode: string;
  llm: { offline: boolean; model: string | null };
  stt: { enabled: boolean; engine?: string | null };
  /** The end-of-speech wait a new avatar gets; a server without /v1/config leaves the studio's field empty. */
  hands_free?: { end_of_speech_default_ms: number };
  providers: Record<string, boolean>;
  provider_catalog: ProviderInfo[];
  supabase: { url: string | null; anon_key: string | null };
}

const LOCAL_DEFAULTS: ClientConfig = {
  mode: "local",
  llm: { offline: false, model: null },
  stt: { enabled: false },
  providers: { local: true },
  provider_catalog: [
    {
      name: "local",
      label: "Built-in avatar",
      configured: true,
      legacy: false,
      settings: [],
      capabilities: { speaks_text: false, takes_audio: true, converses: false, lists_sessions: false },
      options_schema: { properties: {} },
    },
  ],
  supabase: { url: null, anon_key: null },
};

export async function loadConfig(api: ApiClient): Promise<ClientConfig> {
  try {
    return await api.json<ClientConfig>("GET", "/v1/config");
  } catch (error) {
    // A server without the config route is a local dev server: sign in through the dev login.
    if (error instanceof ApiError && error.status === 404) return LOCAL_DEFAULTS;
    throw error;
  }
}
