"""Realtime push (contract §8): the hub that fans committed events out, and its transports.

``hub`` owns the ordered feed and the subscribers; ``broker`` carries events between server
instances over Redis; ``websocket`` and ``sse`` are the two endpoints; ``interest`` is the pure
matching of events against what a subscription asked for.
"""
