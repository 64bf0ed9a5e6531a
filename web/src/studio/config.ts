/** What the functions tell the client about themselves (GET /v1/config). */

import { ApiClient, ApiError } from "../lib/api";

export interface ClientConfig {
  mode: string;
  llm: { offline: boolean; model: string | null };
  stt: { enabled: boolean; engine?: string | null };
  providers: Record<string, boolean>;
  supabase: { url: string | null; anon_key: string | null };
}

const LOCAL_DEFAULTS: ClientConfig = {
  mode: "local",
  llm: { offline: false, model: null },
  stt: { enabled: false },
  providers: { local: true },
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
