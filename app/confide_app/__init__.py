"""The Confide application: the ``confide`` command, the demo and the supervisor of the services.

This is the one package that may import everything (the shared library and every service); the
shared library and the services never import it (``make lint`` checks the layers).
"""
