"""Hyperliquid, in one place: the info client, the wire types, the order rules, the signing, and the config.

The market feed, the producers, the collectors and the live venue all read from here; nothing here reads them.
"""
