"""What every GovMobile HTTP service shares: the one place where domain errors become
responses, admin bearer authentication, request size limits, and how servers start.

Depends on ``govmobile.core`` and the web framework; no service imports another's routes.
"""
