"""Lambda: the streaming routes (turns as server-sent events, chat completions, speech).

Python Lambdas cannot stream a response themselves, so this app runs under uvicorn inside the
function, behind a Function URL in RESPONSE_STREAM mode, with the AWS Lambda Web Adapter layer
relaying each invocation to it (see functions/stream.sh and serverless.yml). It starts from a SnapStart
snapshot too, through the adapter's hooks (functions/core/api/routes/snapstart.py).
"""

from fastapi import FastAPI

from functions.core.api.init import long_lived_init

# What a turn imports when it first needs it (the tool runtime, the offline answerer, the avatar
# providers), held by the snapshot.
SNAPSHOT_PRELOAD = (
    "functions.core.tools.conversation",
    "functions.core.tools.runtime",
    "functions.core.llm.offline",
    "functions.core.providers.avatar.registry",
)

with long_lived_init():
    from functions.core.api.app import create_app
    from functions.core.api.routes import chat, health, snapstart, speech, turns

    app: FastAPI = create_app(
        [
            health.router,
            turns.router,
            chat.router,
            speech.router,
            snapstart.snapstart_router(SNAPSHOT_PRELOAD),
        ]
    )
