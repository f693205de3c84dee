"""GovMobile's web console for admins: a multi-page Streamlit app on the typed admin API client.

It is a distribution of its own (``console/``, ``govmobile-console``): it reaches the appliance
only through ``govmobile_client`` over HTTPS, with the signed-in admin's session token as its only
secret, and imports nothing of the server package. The services enforce every role and tenant
scope; the console only hides what an admin may not use.
"""
