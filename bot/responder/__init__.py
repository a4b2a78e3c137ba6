"""Writing the bot's replies: the offline responder and its operator-editable templates."""

from bot.responder.offline import OfflineResponder, Reply
from bot.responder.templates import MissingField, TemplateError, Templates

__all__ = ["MissingField", "OfflineResponder", "Reply", "TemplateError", "Templates"]
