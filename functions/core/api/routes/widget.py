from fastapi import APIRouter, Request

from functions.core import widget
from functions.core.api.deps import AppSettings, Db

router = APIRouter(prefix="/v1", tags=["widget"])


@router.post("/widget/token", status_code=201)
async def widget_token(
    body: widget.WidgetTokenRequest, request: Request, db: Db, settings: AppSettings
) -> widget.WidgetToken:
    # The ASGI client is the caller's address: Mangum sets it from API Gateway's sourceIp, and uvicorn
    # from X-Forwarded-For only when the direct peer is in --forwarded-allow-ips (a trusted proxy).
    client_ip = request.client.host if request.client else None
    own_origins = [*settings.cors_origins, str(request.base_url)]
    return await widget.issue_visitor_token(
        db, settings, body, origin=request.headers.get("origin"), client_ip=client_ip, own_origins=own_origins
    )
