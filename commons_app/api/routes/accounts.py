"""Accounts and tokens: register, log in, refresh, log out, who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from commons_app.api.deps import CurrentIdentity, CurrentUser, DbSession, client_address
from commons_app.api.schemas import ErrorOut, Me, PasswordChange, RefreshIn, TokenPairOut, UserCreate, UserPublic
from commons_app.services import auth, ratelimit

router = APIRouter(tags=["accounts"])
ERRORS = {code: {"model": ErrorOut} for code in (401, 409, 422, 429)}


def _pair(pair: auth.TokenPair) -> TokenPairOut:
    return TokenPairOut(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@router.post("/users/", status_code=status.HTTP_201_CREATED, response_model=UserPublic, responses=ERRORS)
def register(body: UserCreate, db: DbSession, request: Request) -> UserPublic:
    """Create an account (role ``member``)."""
    user = auth.register_user(
        session=db, username=body.username, email=body.email, password=body.password, address=client_address(request)
    )
    return UserPublic.model_validate(user, from_attributes=True)


@router.post("/token", response_model=TokenPairOut, responses=ERRORS)
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DbSession, request: Request) -> TokenPairOut:
    """OAuth2 password flow: form fields ``username`` and ``password``."""
    return _pair(
        auth.log_in(session=db, username=form.username, password=form.password, address=client_address(request))
    )


@router.post("/token/refresh", response_model=TokenPairOut, responses=ERRORS)
def refresh(body: RefreshIn, db: DbSession, request: Request) -> TokenPairOut:
    """Trade a refresh token for a new pair; the presented one dies, and reuse revokes the session."""
    ratelimit.hit("refresh", client_address(request))
    return _pair(auth.refresh_session(session=db, refresh_token=body.refresh_token))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def logout(body: RefreshIn, identity: CurrentIdentity, db: DbSession) -> Response:
    """End the session: its access and refresh tokens are refused from now on."""
    auth.log_out(session=db, identity=identity, refresh_token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=Me, responses=ERRORS)
def me(user: CurrentUser) -> Me:
    """The caller's account."""
    return Me.model_validate(user, from_attributes=True)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def change_password(body: PasswordChange, user: CurrentUser, db: DbSession) -> Response:
    """Change the caller's password; every session of the caller ends."""
    auth.change_password(session=db, user=user, current_password=body.current_password, new_password=body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
