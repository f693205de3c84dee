"""The shared core: settings, database, errors, tenancy, accounts and the audit log.

Nothing here imports a service, a web framework or Streamlit; services build on it.
"""
