"""Web chat: the embeddable widget, signed sessions and the chat WebSocket."""

from channels.webchat.channel import WebchatChannel
from channels.webchat.identity import customer_hmac

__all__ = ["WebchatChannel", "customer_hmac"]
