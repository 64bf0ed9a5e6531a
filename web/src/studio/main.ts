interface Health {
  status: string;
  database: string;
}

async function showHealth(target: HTMLElement): Promise<void> {
  try {
    const response = await fetch("/health");
    const body = (await response.json()) as Health | { detail: string };
    target.textContent =
      "database" in body ? `Backend ${body.status}, database ${body.database}.` : `Backend unavailable: ${body.detail}`;
  } catch {
    target.textContent = "The backend cannot be reached. Is `make dev` running?";
  }
}

const statusLine = document.getElementById("status");
if (statusLine) void showHealth(statusLine);
