from fastapi import APIRouter, Request

from functions.core import widget
from functions.core.api.deps import AppSettings, Db
from functions.core.api.openapi import problems

router = APIRouter(prefix="/v1", tags=["widget"])


@router.post("/widget/token", status_code=201, responses=problems(403, 404, 429, 503))
async def widget_token(
    body: widget.WidgetTokenRequest, request: Request, db: Db, settings: AppSettings
) -> widget.WidgetToken:
    # The ASGI client is the caller's address: Mangum sets it from API Gateway's requestContext sourceIp
    # (never from headers), and `avatar-studio dev` is the direct peer unless FORWARDED_ALLOW_IPS
    # declares the proxies whose X-Forwarded-For uvicorn may believe.
    client_ip = request.client.host if request.client else None
    return await widget.issue_visitor_token(
        db, settings, body, origin=request.headers.get("origin"), client_ip=client_ip
    )
