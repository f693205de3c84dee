"""The data plane: nginx's configuration, rendered from routes and settings, and the nginx process."""
