"""Lambda: avatar configuration and API keys (API Gateway HTTP API through Mangum)."""

from functions.core.api.init import long_lived_init
from functions.core.api.lambda_adapter import lambda_handler

with long_lived_init():
    from functions.core.api.app import create_app
    from functions.core.api.routes import api_keys, avatars

    app = create_app([avatars.router, api_keys.router])
handler = lambda_handler(app)
