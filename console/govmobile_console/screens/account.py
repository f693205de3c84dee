"""My account: the script Streamlit runs for this page (the page is ``views.account``)."""

from govmobile_console.views.account import account_page

account_page()
