"""Lambda: the streaming routes (turns as server-sent events, chat completions, speech).

Python Lambdas cannot stream a response themselves, so this app runs under uvicorn inside the
function, behind a Function URL in RESPONSE_STREAM mode, with the AWS Lambda Web Adapter layer
relaying each invocation to it (see functions/stream.sh and serverless.yml).
"""

from fastapi import FastAPI

from functions.core.api.init import long_lived_init

with long_lived_init():
    from functions.core.api.app import create_app
    from functions.core.api.routes import chat, health, speech, turns

    app: FastAPI = create_app([health.router, turns.router, chat.router, speech.router])
