"""Lambda: knowledge documents, upload and indexing (API Gateway HTTP API through Mangum)."""

from functions.core.api.init import long_lived_init
from functions.core.api.lambda_adapter import lambda_handler

with long_lived_init():
    from functions.core.api.app import create_app
    from functions.core.api.routes import knowledge

    app = create_app([knowledge.router])
# What the upload route imports when it first runs (indexing, and HTML's reader), held by the snapshot.
handler = lambda_handler(
    app, preload=("functions.core.knowledge.indexing", "functions.core.knowledge.html_text")
)
