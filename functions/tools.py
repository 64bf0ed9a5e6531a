"""Lambda: an avatar's tools (the endpoints it may call in a conversation) and the contacts visitors
leave with it (API Gateway HTTP API through Mangum)."""

from functions.core.api.init import long_lived_init
from functions.core.api.lambda_adapter import lambda_handler

with long_lived_init():
    from functions.core.api.app import create_app
    from functions.core.api.routes import tools

    app = create_app([tools.router])
# What the tool test route imports when it first runs (a tool's request), held by the snapshot.
handler = lambda_handler(app, preload=("functions.core.tools.runtime",))
