"""``govmobile-admin``: the admin API from a terminal, for people and scripts.

It reaches the appliance only through ``govmobile_client`` (STYLE rule 4): every command is a
few calls on the typed client, a table or ``--json`` for the answer, and one line on stderr
with an exit code when something fails.
"""
