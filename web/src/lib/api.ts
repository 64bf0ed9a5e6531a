/** The functions' HTTP API: bearer token, problem JSON turned into ApiError, plain-words messages. */

export interface Problem {
  status: number;
  code: string;
  detail: string;
  provider?: string;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly provider: string | undefined;
  readonly retryAfter: number | undefined;
  /** A validation problem's messages, one per field ("allowed_origins: …"). */
  readonly errors: string[] | undefined;

  constructor(problem: Problem, retryAfter?: number) {
    super(problem.detail);
    this.name = "ApiError";
    this.status = problem.status;
    this.code = problem.code;
    this.detail = problem.detail;
    this.provider = problem.provider;
    this.retryAfter = retryAfter;
    this.errors = Array.isArray(problem.errors) ? problem.errors.map(String) : undefined;
  }
}

export const OFFLINE_MESSAGE = "The server cannot be reached. Check your internet connection, then try again.";
export const STT_MESSAGE = "Voice input needs a transcription key; type your question instead";

/** What to tell a person about an error, with the fix when there is one. */
export function humanMessage(error: unknown): string {
  if (!(error instanceof ApiError)) {
    return error instanceof Error && error.message ? error.message : "Something went wrong; please try again.";
  }
  switch (error.code) {
    case "offline":
      return OFFLINE_MESSAGE;
    case "quota_exceeded":
      return error.detail;
    case "stt_unavailable":
      return STT_MESSAGE;
    case "origin_not_allowed":
      return `This website is not allowed to show this avatar: ${error.detail}.`;
    case "rate_limited":
      return `Too many requests right now; try again in ${error.retryAfter ?? 30} seconds.`;
    case "session_ended":
      return "This conversation has ended. Press Start to begin a new one.";
  }
  if (error.provider && error.detail.includes("not configured")) {
    // Waiting will not help here: the server needs the provider's key.
    const setting = /set ([A-Z_]+)/.exec(error.detail)?.[1];
    const needs = setting ? ` (it needs ${setting})` : "";
    return `The ${error.provider} avatar service is not set up on this server${needs}. Switch this avatar to the built-in avatar in Settings, or set the key and restart the server.`;
  }
  if (error.provider) {
    return `The avatar service (${error.provider}) is unavailable right now: ${error.detail}. Try again in a minute, or switch this avatar to the local provider.`;
  }
  if (error.status === 401) return "Your sign-in has expired. Sign in again.";
  if (error.status >= 500) return `The server had a problem: ${error.detail}. Try again in a moment.`;
  return error.detail;
}

function isProblem(value: unknown): value is Problem {
  const candidate = value as Partial<Problem> | null;
  return typeof candidate?.code === "string" && typeof candidate.detail === "string";
}

/** Builds the ApiError for a response that is not ok, whatever its body. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const retry = Number(response.headers.get("retry-after"));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : undefined;
  if (isProblem(body)) return new ApiError({ ...body, status: response.status }, retryAfter);
  return new ApiError(
    { status: response.status, code: `http_${response.status}`, detail: response.statusText || "request failed" },
    retryAfter,
  );
}

export function offlineError(): ApiError {
  return new ApiError({ status: 0, code: "offline", detail: "network request failed" });
}

export type Fetch = typeof fetch;

/**
 * The routes that stream their answers (turn events, speech, chat completions): in the cloud they live
 * on the streaming Function URL, every other route on the HTTP API (serverless.yml).
 */
const STREAMING_PATH = /^\/v1\/(?:tts|chat\/completions|sessions\/[^/]+\/(?:turns(?:\/.*)?|chat\/completions))$/;

export function isStreamingPath(path: string): boolean {
  return STREAMING_PATH.test(path.split("?")[0]);
}

/** Where the functions answer: one origin locally, the HTTP API and the streaming URL in the cloud. */
export interface ApiAddresses {
  api: string;
  stream: string;
}

/**
 * The addresses the static site was deployed with (`config.json` next to the page, written by
 * `avatar-studio deploy site`); where it names none (the local server answers nulls: the pages and the
 * API share whatever origin the browser sees) or there is none, both are the page's origin.
 */
export async function loadAddresses(pageOrigin: string, fetcher: Fetch = (input, init) => fetch(input, init)): Promise<ApiAddresses> {
  try {
    const response = await fetcher(`${pageOrigin}/config.json`, { cache: "no-cache" });
    if (response.ok) {
      const found = (await response.json()) as Partial<ApiAddresses>;
      if (typeof found.api === "string" && typeof found.stream === "string") return { api: found.api, stream: found.stream };
    }
  } catch {
    // No deployed configuration: the page is served by the functions themselves.
  }
  return { api: pageOrigin, stream: pageOrigin };
}

export class ApiClient {
  readonly base: string;
  readonly streamBase: string;
  token: string | null;
  private readonly fetcher: Fetch;

  constructor(
    base: string | ApiAddresses,
    token: string | null = null,
    fetcher: Fetch = (input, init) => fetch(input, init),
  ) {
    const addresses = typeof base === "string" ? { api: base, stream: base } : base;
    this.base = addresses.api.replace(/\/+$/, "");
    this.streamBase = addresses.stream.replace(/\/+$/, "");
    this.token = token;
    this.fetcher = fetcher;
  }

  url(path: string): string {
    return `${isStreamingPath(path) ? this.streamBase : this.base}${path}`;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}`, ...extra } : { ...extra };
  }

  /** Sends a request; JSON bodies are encoded, FormData is sent as is. Throws ApiError unless ok. */
  async request(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<Response> {
    const headers = this.headers(init.headers as Record<string, string> | undefined);
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = "application/json";
    }
    let response: Response;
    try {
      response = await this.fetcher(this.url(path), { ...init, method, headers, body: payload });
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      throw offlineError();
    }
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request(method, path, body, { headers: { accept: "application/json" } });
    return (response.status === 204 ? undefined : await response.json()) as T;
  }
}
