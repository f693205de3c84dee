"""The pages: what the admin can reach depends on whether they are signed in.

Signed out, every URL shows the sign-in form, and once signed in the admin is on the page they
asked for, with what they were typing on it (``drafts``). Signed in, the navigation lists the
pages built so far; a page the admin's role cannot use is not listed, and the services
refuse it anyway. Each page is a small script under ``screens/`` (not ``pages/``, which Streamlit would also run as pages of its older kind) (so that Streamlit, and its
``AppTest``, can address it by file) that runs its view from ``views/``; every view draws the
header (``header``) itself, so that the page's elements are all of one script run.
"""

from __future__ import annotations

import streamlit as st

from govmobile_console import session
from govmobile_console.context import page_context
from govmobile_console.views.sign_in import sign_in_page


def run() -> None:
    st.set_page_config(page_title="GovMobile", layout="wide")
    context = page_context()
    _ = context._
    signed_in = session.current()
    pages = [
        st.Page("screens/overview.py", title=_("Overview"), url_path="overview", default=True),
        st.Page("screens/account.py", title=_("My account"), url_path="account"),
    ]
    page = st.navigation(pages, position="top" if signed_in is not None else "hidden")
    if signed_in is None:
        # Whatever page was asked for: the admin signs in, then is on that page.
        sign_in_page()
        return
    page.run()
