"""Typed settings, read from the environment (secrets only from there)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET = "threadline-demo-secret-change-me"


class Settings(BaseSettings):
    """Every setting Threadline reads; the README lists them in a table."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/threadline.db",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    secret: str = Field(
        default=DEFAULT_SECRET,
        validation_alias="THREADLINE_SECRET",
        description="Signs web-chat sessions and verifies the shop's customer HMAC.",
    )
    host: str = Field(default="127.0.0.1", validation_alias="THREADLINE_HOST")
    port: int = Field(default=8080, validation_alias="THREADLINE_PORT")
    policies_path: Path | None = Field(
        default=None,
        validation_alias="THREADLINE_POLICIES",
        description="Policy file or folder of *.yaml; default: the shipped policy.",
    )
    intents_path: Path | None = Field(
        default=None,
        validation_alias="THREADLINE_INTENTS",
        description="Intent examples for offline understanding; default: the shipped ones.",
    )
    knowledge_path: Path | None = Field(
        default=None,
        validation_alias="THREADLINE_KNOWLEDGE",
        description="Folder of knowledge entries (*.md, *.yaml); default: the demo shop's.",
    )
    templates_path: Path | None = Field(
        default=None,
        validation_alias="THREADLINE_TEMPLATES",
        description="Reply templates (YAML) overriding the shipped ones.",
    )
    embedded_worker: bool = Field(
        default=True,
        validation_alias="THREADLINE_EMBEDDED_WORKER",
        description="Process messages inside the web process (off when a worker runs).",
    )
    max_message_chars: int = Field(default=4000, validation_alias="THREADLINE_MAX_MESSAGE_CHARS")
    webchat_rate_limit: int = Field(
        default=20,
        ge=1,
        validation_alias="THREADLINE_WEBCHAT_RATE_LIMIT",
        description="Messages one chat window may send in any 10 seconds (flood protection).",
    )
    log_level: str = Field(default="INFO", validation_alias="THREADLINE_LOG_LEVEL")
    demo: bool = Field(
        default=False,
        validation_alias="THREADLINE_DEMO",
        description="Serve the demo shop page at / (set by `threadline demo`).",
    )

    staff_tokens: str | None = Field(
        default=None,
        validation_alias="THREADLINE_STAFF_TOKENS",
        description="Staff console sign-in: name:token pairs, comma-separated.",
    )
    # Telegram (a channel without its settings is off)
    telegram_bot_token: str | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: str | None = Field(
        default=None, validation_alias="TELEGRAM_WEBHOOK_SECRET"
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org", validation_alias="TELEGRAM_API_URL"
    )
    # Slack (customers write to the shop's Slack app)
    slack_bot_token: str | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_app_token: str | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    # Slack for staff: handoff cards and threads (needs the Slack app settings above)
    slack_staff_channel: str | None = Field(
        default=None,
        validation_alias="SLACK_STAFF_CHANNEL",
        description="Channel id for handoff cards; a queue's `slack_channel` overrides it.",
    )
    slack_staff_users: str | None = Field(
        default=None,
        validation_alias="SLACK_STAFF_USERS",
        description="Slack user → staff name, e.g. U01ABC:alice,U02DEF:bob (same names as "
        "the console); when set, only these users act on handoffs.",
    )
    slack_staff_mention: str = Field(
        default="<!here>",
        validation_alias="SLACK_STAFF_MENTION",
        description="Who an unclaimed handoff past its time to claim pings, e.g. <!subteam^S01>.",
    )
    # LLM through litellm (off when no model is set: the offline responder answers)
    model: str | None = Field(default=None, validation_alias="THREADLINE_MODEL")
    llm_api_base: str | None = Field(default=None, validation_alias="THREADLINE_LLM_API_BASE")
    llm_api_key: str | None = Field(default=None, validation_alias="THREADLINE_LLM_API_KEY")
    llm_fallback_models: str | None = Field(
        default=None,
        validation_alias="THREADLINE_LLM_FALLBACKS",
        description="Comma-separated litellm models tried in order when the main one fails.",
    )
    llm_timeout: float = Field(default=20.0, validation_alias="THREADLINE_LLM_TIMEOUT")
    prompts_path: Path | None = Field(
        default=None,
        validation_alias="THREADLINE_PROMPTS",
        description="Folder of prompt files overriding the shipped ones.",
    )

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
