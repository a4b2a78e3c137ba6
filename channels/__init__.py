"""Channel adapters: each turns one platform's traffic into ``bot.messages`` types and back.

Platform SDK types never leave this package; adapters import only ``bot.messages``.
"""
