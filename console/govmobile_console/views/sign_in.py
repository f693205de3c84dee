"""Signing in: username and password, and the one-time code when the account has one.

The admin API answers every wrong credential alike (it must not tell an attacker which part was
right), so the console cannot ask for the code only once the password is known to be right
without spending a failed login against the throttle. The code's field is therefore on the same
form, and an account without TOTP leaves it empty.
"""

from __future__ import annotations

import streamlit as st

from govmobile_client.errors import ApiError, ClientError, Throttled, Unauthenticated
from govmobile_console import drafts, session
from govmobile_console.context import page_context
from govmobile_console.header import header


def sign_in_page() -> None:
    context = page_context()
    _ = context._
    header(context, None)
    st.title(_("GovMobile console"))
    notice = session.notice()
    if notice is session.Notice.SESSION_ENDED:
        st.warning(_("Your session has ended. Sign in again to go on; what you were typing is kept."))
    elif notice is session.Notice.SIGNED_OUT:
        st.info(_("You have signed out."))
    username_key = drafts.restore("sign_in.username")
    with st.form("sign_in"):
        st.text_input(_("Username"), key=username_key, max_chars=64, autocomplete="username")
        password = st.text_input(
            _("Password"), type="password", max_chars=256, autocomplete="current-password"
        )
        code = st.text_input(
            _("One-time code"),
            max_chars=10,
            help=_(
                "The 6 digits your authenticator app shows. Leave it empty if your account has no one-time code."
            ),
            autocomplete="one-time-code",
        )
        submitted = st.form_submit_button(_("Sign in"), type="primary")
    drafts.keep("sign_in.username")
    if not submitted:
        return
    username = str(st.session_state.get(username_key) or "").strip()
    if not username or not password:
        st.error(_("Enter your username and password."))
        return
    try:
        session.sign_in(context.settings, username, password, code.strip() or None)
    except Throttled:
        st.error(_("Too many attempts. Wait a few minutes, then try again."))
        return
    except Unauthenticated:
        st.error(_("Wrong username, password or one-time code."))
        return
    except ApiError as exc:
        st.error(session.refusal(exc, _))
        return
    except ClientError as exc:
        session.unreachable(exc, _)
    st.rerun()
