"""The overview dashboard: the script Streamlit runs for this page (the page is ``views.overview``)."""

from govmobile_console.views.overview import overview_page

overview_page()
