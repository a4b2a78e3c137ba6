"""Slack for customers: direct messages, mentions and ``/threadline``, on slack-bolt."""

from channels.slack.channel import SlackChannel

__all__ = ["SlackChannel"]
