"""Lambda: session lifecycle, history and usage (API Gateway HTTP API through Mangum)."""

from mangum import Mangum

from functions.core.api.app import create_app
from functions.core.api.routes import sessions

app = create_app([sessions.router])
handler = Mangum(app, lifespan="off")
