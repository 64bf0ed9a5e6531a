"""Lambda: session lifecycle, history and usage (API Gateway HTTP API through Mangum)."""

from functions.core.api.app import create_app
from functions.core.api.lambda_adapter import lambda_handler
from functions.core.api.routes import sessions

app = create_app([sessions.router])
handler = lambda_handler(app)
