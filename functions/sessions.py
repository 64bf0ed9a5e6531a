"""Lambda: session lifecycle, history, usage, widget visitor tokens and looks (API Gateway through Mangum)."""

from functions.core.api.app import create_app
from functions.core.api.lambda_adapter import lambda_handler
from functions.core.api.routes import sessions, widget

app = create_app([sessions.router, widget.router])
handler = lambda_handler(app)
