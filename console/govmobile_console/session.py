"""The console's session: the signed-in admin's API session, kept in Streamlit's per-browser state.

The console holds no secret but this session token, in server memory (``st.session_state`` never
reaches the browser). The services decide everything: who may see which department, and how long
the session lasts. The console's session ends when the API session does: the first call the API
refuses as unauthenticated (expired, revoked, the account disabled) sends the admin back to sign
in, with a notice, and what they were typing stays in their drafts (``drafts``).

Every call to the API goes through ``api``, the one place that turns the client's errors into
what the admin sees: sign in again, a banner when the appliance cannot be reached, never a
traceback.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

import streamlit as st

from govmobile_client import GovMobileClient
from govmobile_client.errors import (
    ApiError,
    ClientError,
    ConnectionFailed,
    NotConfigured,
    ServerError,
    TlsUntrusted,
    Unauthenticated,
    UnexpectedAnswer,
)
from govmobile_client.models import Me, Role, Tenant
from govmobile_console.i18n import Translate
from govmobile_console.settings import ConsoleSettings

ResultT = TypeVar("ResultT")

_SIGNED_IN = "gm.signed_in"
_NOTICE = "gm.notice"


class Notice(enum.StrEnum):
    """Why the admin is on the sign-in page again."""

    SIGNED_OUT = "signed_out"
    SESSION_ENDED = "session_ended"


@dataclass
class SignedIn:
    """The admin behind this browser session: the client carrying their token, and who they are."""

    client: GovMobileClient
    me: Me
    #: A department admin's (or auditor's) own department; None for a platform admin.
    department: Tenant | None

    @property
    def sees_every_department(self) -> bool:
        return self.me.role is Role.PLATFORM_ADMIN


def current() -> SignedIn | None:
    found = st.session_state.get(_SIGNED_IN)
    return found if isinstance(found, SignedIn) else None


def sign_in(settings: ConsoleSettings, username: str, password: str, code: str | None) -> SignedIn:
    """Log in to the admin API; raises the client's error when it refuses or cannot be reached."""
    client = GovMobileClient(settings.api_url, ca_file=settings.ca_file, timeout=settings.api_timeout)
    try:
        client.auth.login(username, password, code or None)
        me = client.auth.me()
        department = client.tenants.show(me.tenant_id) if me.tenant_id else None
    except BaseException:
        client.close()
        raise
    signed_in = SignedIn(client, me, department)
    st.session_state[_SIGNED_IN] = signed_in
    st.session_state.pop(_NOTICE, None)
    return signed_in


def sign_out() -> None:
    """Revoke the API session, then forget it (even if the appliance cannot be reached: the
    token then dies at its expiry, and this browser no longer holds it)."""
    signed_in = current()
    if signed_in is not None:
        with contextlib.suppress(ClientError):
            signed_in.client.auth.logout()
    _forget(Notice.SIGNED_OUT)


def end(notice: Notice = Notice.SESSION_ENDED) -> NoReturn:
    """The API session is over: back to signing in, drafts kept."""
    _forget(notice)
    st.rerun()


def notice() -> Notice | None:
    value = st.session_state.get(_NOTICE)
    return Notice(value) if value in set(Notice) else None


def _forget(reason: Notice) -> None:
    signed_in = st.session_state.pop(_SIGNED_IN, None)
    if isinstance(signed_in, SignedIn):
        signed_in.client.close()
    st.session_state[_NOTICE] = reason.value


def api(signed_in: SignedIn, call: Callable[[GovMobileClient], ResultT], _: Translate) -> ResultT:
    """The answer to one call of the admin API, or the page stops with what the admin can do.

    An unauthenticated answer ends the session (``end``); an appliance that cannot be reached
    or fails shows a banner and stops the page. Refusals the page can explain (a department
    that does not exist or is not the admin's, a bad value) reach the page as ``ApiError``."""
    try:
        return call(signed_in.client)
    except Unauthenticated:
        end()
    except (ConnectionFailed, ServerError, UnexpectedAnswer, NotConfigured) as exc:
        unreachable(exc, _)


def unreachable(exc: ClientError, _: Translate) -> NoReturn:
    """A banner for an appliance that cannot be reached or failed, and the page stops."""
    if isinstance(exc, TlsUntrusted):
        st.error(_("The admin API's TLS certificate is not trusted. Check the console's CA file setting."))
    elif isinstance(exc, ConnectionFailed):
        st.error(_("The admin API cannot be reached right now. Nothing was changed; try again in a moment."))
    elif isinstance(exc, ServerError):
        st.error(
            _("The appliance failed to answer this request. Nothing was changed; try again in a moment.")
        )
    else:
        st.error(
            _("The admin API gave an answer the console does not understand. Check the console's settings.")
        )
    with st.expander(_("Details")):
        # As text, never markdown or HTML: the message may quote what a server sent.
        st.text(str(exc))
    st.stop()


def refusal(exc: ApiError, _: Translate) -> str:
    """What the admin is told when the API refuses, in their language where the console knows
    the reason, else the API's own one-line message."""
    if exc.status == 404:
        return _("Not found, or not in your department.")
    if exc.status == 403:
        return _("Your role does not allow this.")
    if exc.status == 429:
        return _("Too many attempts. Wait a few minutes, then try again.")
    return exc.message
