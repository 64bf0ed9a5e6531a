"""Lambda: avatar configuration (API Gateway HTTP API through Mangum)."""

from mangum import Mangum

from functions.core.api.app import create_app
from functions.core.api.routes import avatars

app = create_app([avatars.router])
handler = Mangum(app, lifespan="off")
