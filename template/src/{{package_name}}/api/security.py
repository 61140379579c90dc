"""Bearer-key auth that fails closed: a route is public only when it is declared public.

Public routes (probes, metrics, the OpenAPI document) live on the public router; every
other path, whatever its prefix, needs a key. The check runs twice, each for a reason:

- The request middleware checks the key before routing, for every path that is not
  public: a refused request costs no routing and its body is never read, and a route a
  team adds anywhere (``/v2/...``, straight on the app) is protected without anything
  to remember.
- The protected router's dependency, ``authenticated_key``, returns the key id the
  routes use (``KeyDep``). Tests replace it the usual way,
  ``app.dependency_overrides[authenticated_key] = ...``; the middleware then leaves
  the decision to the override.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, APIRouter

from ..errors import APIError

SECURITY_SCHEME = "HTTPBearer"


def unauthorized() -> APIError:
    """Return the 401 of a missing or wrong key."""
    return APIError(
        401,
        "missing or invalid API key",
        type="authentication_error",
        code="invalid_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def authenticated_key(request: Request) -> str:
    """Return the id of the caller's key (``anonymous`` with auth off), or refuse with 401.

    The middleware has checked the key from the headers and left its id in the
    request's state; None there means it was missing or wrong.
    """
    key_id: str | None = request.scope.get("state", {}).get("key_id")
    if key_id is None:
        raise unauthorized()
    return key_id


def public_paths(app: FastAPI, routers: Iterable[APIRouter]) -> frozenset[str]:
    """Return the paths anyone may call: the public routers' and the API documentation's."""
    paths = {
        route.path for router in routers for route in router.routes if isinstance(route, APIRoute)
    }
    documentation = (app.openapi_url, app.docs_url, app.redoc_url)
    paths.update(path for path in documentation if path)
    if app.docs_url and app.swagger_ui_oauth2_redirect_url:
        paths.add(app.swagger_ui_oauth2_redirect_url)
    return frozenset(paths)


def key_check_overridden(overrides: Mapping[Any, Any]) -> bool:
    """Whether a test replaced the key dependency (``app.dependency_overrides``)."""
    return authenticated_key in overrides


def document_bearer_auth(app: FastAPI, public: frozenset[str]) -> None:
    """Declare the bearer scheme in the app's OpenAPI, on every operation that is not public.

    The way FastAPI's guide "Extending OpenAPI" shows: wrap ``app.openapi``, which
    builds the document once and keeps it.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[SECURITY_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "One of the keys in API_KEYS.",
        }
        for path, operations in schema.get("paths", {}).items():
            if path not in public:
                for operation in operations.values():
                    operation["security"] = [{SECURITY_SCHEME: []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
