"""The console's Streamlit script: ``streamlit run`` runs this file on every interaction."""

from govmobile_console.navigation import run

run()
