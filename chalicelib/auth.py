"""The API-key authorizer, a Chalice built-in authorizer.

It runs in API Gateway, ``chalice local``, the test client and the local stack alike.
A missing header is refused by the gateway itself (401). A present but unknown
or revoked token is let through marked ``authenticated: false`` so that the view
layer answers 401 in the project's one error shape; role checks happen there too.
"""

from __future__ import annotations

from chalice.app import AuthRequest, AuthResponse, Blueprint

from chalicelib.deps import get_deps

auth_blueprint = Blueprint(__name__)

ANONYMOUS = "anonymous"


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@auth_blueprint.authorizer(ttl_seconds=0)
def api_key_authorizer(auth_request: AuthRequest) -> AuthResponse:
    token = bearer_token(auth_request.token)
    principal = get_deps().keys.authenticate(token) if token else None
    if principal is None:
        return AuthResponse(routes=["*"], principal_id=ANONYMOUS, context={"authenticated": "false"})
    return AuthResponse(
        routes=["*"],
        principal_id=principal.name,
        context={
            "authenticated": "true",
            "key_id": str(principal.key_id),
            "role": principal.role.value,
            "rate_limit_per_minute": str(principal.rate_limit_per_minute or ""),
        },
    )
