"""The admin's own account: who they are, and turning on a one-time code (TOTP) with a QR code.

The secret is the API's: it is made by the admin API, shown here once as a QR code (and as text,
for authenticators that cannot scan), kept only in this browser session's server-side state until
the admin confirms it with a code, and never written anywhere by the console.
"""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import segno
import streamlit as st

from govmobile_client.errors import ApiError
from govmobile_console import labels, session
from govmobile_console.context import page_context
from govmobile_console.header import header

#: The provisioning URI (with its secret) between starting and confirming enrolment.
_PENDING_TOTP = "gm.pending_totp"
#: Set when enrolment was just confirmed, to say so once.
_TOTP_ENABLED = "gm.totp_enabled"


def account_page() -> None:
    context = page_context()
    _ = context._
    signed_in = session.current()
    if signed_in is None:  # the navigation shows this page only when signed in
        session.end()
    header(context, signed_in)
    st.title(_("My account"))
    st.caption(_("Username"))
    st.text(signed_in.me.username)
    st.caption(_("Role"))
    st.text(labels.label(labels.role(_), signed_in.me.role))
    if signed_in.department is not None:
        st.caption(_("Department"))
        st.text(signed_in.department.name)

    st.subheader(_("One-time code (TOTP)"))
    st.write(
        _(
            "With a one-time code, signing in needs your password and the code your authenticator "
            "app shows. Setting up a new one replaces the old one once you confirm it."
        )
    )
    if st.session_state.pop(_TOTP_ENABLED, False):
        st.success(_("The one-time code is on. You will need it the next time you sign in."))
    if st.button(_("Set up a one-time code"), key="account.start_totp"):
        started = session.api(signed_in, lambda c: c.auth.start_totp(), _)
        st.session_state[_PENDING_TOTP] = started.provisioning_uri
    uri = st.session_state.get(_PENDING_TOTP)
    if not isinstance(uri, str):
        return
    st.image(qr_png(uri), caption=_("Scan this with your authenticator app"), width=260)
    st.caption(_("Or enter this key by hand"))
    st.code(secret_of(uri), language=None)
    with st.form("account.confirm_totp", clear_on_submit=True):
        code = st.text_input(
            _("The code your authenticator shows"), max_chars=10, autocomplete="one-time-code"
        )
        confirmed = st.form_submit_button(_("Confirm"), type="primary")
    if not confirmed:
        return
    try:
        session.api(signed_in, lambda c: c.auth.confirm_totp(code.strip()), _)
    except ApiError as exc:
        if exc.code == "bad_totp":
            st.error(_("That code does not match. Check your authenticator's clock, then try the next code."))
        else:
            st.error(session.refusal(exc, _))
        return
    st.session_state.pop(_PENDING_TOTP, None)
    st.session_state[_TOTP_ENABLED] = True
    st.rerun()  # drawn again without the QR code: the secret is shown no more


def qr_png(text: str) -> bytes:
    """A QR code of ``text`` as a PNG image (segno: pure Python)."""
    image = io.BytesIO()
    segno.make(text, error="m", micro=False).save(image, kind="png", scale=6, border=2)
    return image.getvalue()


def secret_of(provisioning_uri: str) -> str:
    """The base32 secret in an ``otpauth://`` URI, grouped by four for typing."""
    secret = parse_qs(urlsplit(provisioning_uri).query).get("secret", [""])[0]
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
