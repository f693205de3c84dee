"""The secure access gateway: the only part of GovMobile on the internet.

Data plane and control plane (ARCHITECTURE.md, "Gateway"):

- nginx terminates TLS and mutual TLS, enforces the CA's CRL, strips identity headers clients
  send, proxies to the appliance's services and to intranet apps, and caches authorization
  decisions for a few seconds, so Python is off the per-request path when a decision is cached.
- This package is the control plane: it renders and reloads nginx's configuration from the
  routes, the CA chain and the CRL (``dataplane``), answers authorization sub-requests
  (``decisions``), signs identity assertions for upstream apps (``assertions``), watches for
  revocations and device changes (``watcher``), and summarises the access log into the audit
  store off the hot path (``access_log``).
"""
