"""Thin adapters from the live observers (``pa.live``) to UI frameworks.

``pyairtable_integration.ui.solara`` binds them to Solara (needs the ``ui`` extra). Nothing here
is imported by the core: importing this package imports no UI framework.
"""
