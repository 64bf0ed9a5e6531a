"""Lambda: knowledge documents, upload and indexing (API Gateway HTTP API through Mangum)."""

from functions.core.api.app import create_app
from functions.core.api.lambda_adapter import lambda_handler
from functions.core.api.routes import knowledge

app = create_app([knowledge.router])
handler = lambda_handler(app)
