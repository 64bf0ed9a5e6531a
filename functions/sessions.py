"""Lambda: session lifecycle, history, usage, widget visitor tokens and looks (API Gateway through Mangum)."""

from functions.core.api.init import long_lived_init
from functions.core.api.lambda_adapter import lambda_handler

with long_lived_init():
    from functions.core.api.app import create_app
    from functions.core.api.routes import config, health, sessions, widget

    app = create_app([health.router, config.router, sessions.router, widget.router])
# What the routes import when they first run (GET /v1/config's speech engines), held by the snapshot.
handler = lambda_handler(app, preload=("functions.core.speech.tts",))
