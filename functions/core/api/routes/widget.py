from fastapi import APIRouter, Request, Response

from functions.core import widget, widget_look
from functions.core.api.deps import AppSettings, Clock, Db
from functions.core.api.openapi import problems

router = APIRouter(prefix="/v1", tags=["widget"])


@router.post("/widget/token", status_code=201, responses=problems(403, 404, 429, 503))
async def widget_token(
    body: widget.WidgetTokenRequest, request: Request, db: Db, settings: AppSettings, clock: Clock
) -> widget.WidgetToken:
    # The ASGI client is the caller's address: Mangum sets it from API Gateway's requestContext sourceIp
    # (never from headers), and `avatar-studio dev` is the direct peer unless FORWARDED_ALLOW_IPS
    # declares the proxies whose X-Forwarded-For uvicorn may believe.
    client_ip = request.client.host if request.client else None
    own_origins = [*settings.cors_origins, str(request.base_url)]
    return await widget.issue_visitor_token(
        db,
        settings,
        body,
        origin=request.headers.get("origin"),
        client_ip=client_ip,
        own_origins=own_origins,
        now=clock(),
    )


@router.get("/widget/look/{public_id}", responses=problems(404))
async def widget_look_of(public_id: str, response: Response, db: Db) -> widget_look.PublicLook:
    """Public: widget.js draws its launcher with it. An owner's change shows on the next page view."""
    response.headers["Cache-Control"] = "no-cache"
    return await widget_look.public_look(db, public_id)
