"""Lambda: owner insights, answer feedback and unanswered questions (API Gateway through Mangum)."""

from functions.core.api.app import create_app
from functions.core.api.lambda_adapter import lambda_handler
from functions.core.api.routes import insights

app = create_app([insights.router])
handler = lambda_handler(app)
