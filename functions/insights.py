"""Lambda: owner insights, answer feedback and unanswered questions (API Gateway through Mangum)."""

from functions.core.api.init import long_lived_init
from functions.core.api.lambda_adapter import lambda_handler

with long_lived_init():
    from functions.core.api.app import create_app
    from functions.core.api.routes import insights

    app = create_app([insights.router])
# What the routes import when they first run (the report, the unanswered questions, indexing, the avatar
# providers' declarations for the prices), held by the snapshot.
handler = lambda_handler(
    app,
    preload=(
        "functions.core.insights.report",
        "functions.core.insights.unanswered",
        "functions.core.knowledge.indexing",
        "functions.core.providers.avatar.registry",
    ),
)
