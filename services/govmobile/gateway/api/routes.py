"""Admin API for intranet-app routes (through the management listener)."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from govmobile.core.accounts import Principal
from govmobile.gateway.models import Route, RoutePublic, RouteWrite
from govmobile.gateway.routes import RouteAdministration
from govmobile.web.openapi import errors
from govmobile.web.params import ID_LENGTH

RoutePath = Annotated[str, Path(max_length=ID_LENGTH, description="the route's id or name")]


def intranet_app_router(
    routes: RouteAdministration, authenticate: Callable[..., Principal], status: Callable[[Route], str]
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/routes", tags=["routes"])

    def public(route: Route, admin: Principal | None = None) -> RoutePublic:
        view = RoutePublic.of(route, data_plane=status(route))
        scope = admin.tenant_scope() if admin else None
        if scope is not None:
            # A department's admins do not learn which other departments an app admits.
            view = view.model_copy(update={"allowed_tenants": [scope]})
        return view

    @router.get("", response_model=list[RoutePublic])
    def list_all(admin: Annotated[Principal, Depends(authenticate)]) -> list[RoutePublic]:
        """Routes: every one for platform admins, those admitting their department for its admins."""
        return [public(r, admin) for r in routes.list(admin)]

    @router.get("/{route}", response_model=RoutePublic, responses=errors(404))
    def show(route: RoutePath, admin: Annotated[Principal, Depends(authenticate)]) -> RoutePublic:
        return public(routes.get(admin, route), admin)

    @router.post("", response_model=RoutePublic, status_code=201, responses=errors(400, 403, 409))
    def create(body: RouteWrite, admin: Annotated[Principal, Depends(authenticate)]) -> RoutePublic:
        """Add an intranet app (platform admins). The data plane picks it up within a second."""
        return public(routes.create(admin, body))

    @router.put("/{route}", response_model=RoutePublic, responses=errors(400, 403, 404, 409))
    def replace(
        route: RoutePath, body: RouteWrite, admin: Annotated[Principal, Depends(authenticate)]
    ) -> RoutePublic:
        return public(routes.replace(admin, route, body))

    @router.delete("/{route}", status_code=204, responses=errors(403, 404))
    def remove(route: RoutePath, admin: Annotated[Principal, Depends(authenticate)]) -> Response:
        routes.delete(admin, route)
        return Response(status_code=204)

    return router
