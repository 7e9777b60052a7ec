"""The one settings object. Built once at start-up; nothing else reads the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Optional


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_prefix: str
    public_base_url: str
    twilio_account_sid: str
    twilio_auth_token: str
    meta_app_secret: str
    meta_verify_token: str
    x_consumer_secret: str
    telegram_secret_token: str
    jetdesk_signing_secret: str
    session_secret: str   # keys chat sessions and status links: never shared with integrators or the mail relay
    jwt_secret: str = ""
    jwt_issuer: str = "jetdesk-local"
    jwt_audience: str = "jetdesk-agents"
    jwks_url: str = ""
    aws_endpoint_url: Optional[str] = None
    twilio_api_base: str = ""
    meta_api_base: str = "https://graph.facebook.com/v21.0"
    meta_access_token: str = ""
    x_api_base: str = "https://api.x.com"
    x_access_token: str = ""
    telegram_api_base: str = "https://api.telegram.org"
    telegram_bot_token: str = ""
    ses_endpoint_url: Optional[str] = None
    support_email: str = "support@jetdesk.local"
    chat_websocket_endpoint: str = ""
    attachments_bucket_name: str = ""   # deployed stages: the bucket CloudFormation created   # https://{api-id}.execute-api.{region}.amazonaws.com/{stage}
    monitor_only: frozenset = frozenset()
    sink_url: str = ""
    agent_alert_topic_arn: str = ""
    alert_sms_from: str = ""   # the number pages to on-duty agents come from
    integration_webhook_url: str = ""
    stream_arns: Mapping[str, str] = field(default_factory=dict)
    # Body limits (413 above them): provider webhooks; relayed raw mail (Lambda takes 6 MB a request
    # and API Gateway passes mail base64, so 4 MiB; larger mail comes by SES + S3); agent and chat JSON.
    max_body_bytes: int = 256 * 1024
    max_mail_bytes: int = 4 * 1024 * 1024
    max_api_body_bytes: int = 64 * 1024
    signature_tolerance_seconds: int = 300
    lease_seconds: int = 120
    reopen_days: int = 7
    status_link_days: int = 14
    known_agent_days: int = 7          # a follow-up within this long is offered to the customer's own agent first
    known_agent_offer_seconds: int = 120   # then, unclaimed, it goes to its queue
    queue_page_size: int = 25
    bot_enabled: bool = False           # the bot's first answers (on by default on the local stage)
    bot_knowledge: str = ""             # a knowledge base file other than the packaged one
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.stage == "local"

    def table_name(self, name: str) -> str:
        return f"{self.table_prefix}-{name}"

    def stream_arn(self, table: str) -> str:
        """The stream a handler is wired to on deploy; the local pump finds streams itself."""
        return self.stream_arns.get(table) or (
            f"arn:aws:dynamodb:{self.region}:000000000000:table/{self.table_name(table)}/stream/local")

    @property
    def attachments_bucket(self) -> str:
        """S3 bucket for raw mail and attachments."""
        return self.attachments_bucket_name or f"{self.table_prefix}-attachments"

    @property
    def inbound_mail_topic(self) -> str:
        """SNS topic SES receipt rules publish inbound mail to."""
        return f"{self.table_prefix}-inbound-mail"

    @property
    def notify_retry_queue(self) -> str:
        """SQS queue of notifications to try again (its redrive target is ``-dlq``)."""
        return f"{self.table_prefix}-notify-retry"

    @property
    def stream_failures_queue(self) -> str:
        """SQS queue the streams' event source mappings send a batch they gave up on (``handle_stream_failure``)."""
        return f"{self.table_prefix}-stream-failures"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        def need(name: str) -> str:
            value = env.get(name, "")
            if not value:
                raise SettingsError(f"missing setting {name}")
            return value

        if "AWS_LAMBDA_FUNCTION_NAME" in env and not env.get("JETDESK_STAGE"):
            raise SettingsError("missing setting JETDESK_STAGE: on Lambda the local stage's shortcuts stay off")
        stage = env.get("JETDESK_STAGE", "local")
        host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
        public_base_url = env.get("PUBLIC_BASE_URL") or (
            f"http://{host}:{port}" if stage == "local" else need("PUBLIC_BASE_URL"))
        jwt_secret = env.get("JETDESK_JWT_SECRET", "")
        jwks_url = env.get("JETDESK_JWKS_URL", "")
        if not jwt_secret and not jwks_url:
            raise SettingsError("set JETDESK_JWT_SECRET (local issuer) or JETDESK_JWKS_URL (Cognito)")
        return cls(
            stage=stage,
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
            table_prefix=env.get("JETDESK_TABLE_PREFIX", f"jetdesk-{stage}"),
            public_base_url=public_base_url.rstrip("/"),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"),
            twilio_auth_token=need("TWILIO_AUTH_TOKEN"),
            meta_app_secret=need("META_APP_SECRET"),
            meta_verify_token=need("META_VERIFY_TOKEN"),
            x_consumer_secret=need("X_CONSUMER_SECRET"),
            telegram_secret_token=need("TELEGRAM_SECRET_TOKEN"),
            jetdesk_signing_secret=need("JETDESK_SIGNING_SECRET"),
            session_secret=need("JETDESK_SESSION_SECRET"),
            jwt_secret=jwt_secret,
            jwt_issuer=env.get("JETDESK_JWT_ISSUER", "jetdesk-local"),
            jwt_audience=env.get("JETDESK_JWT_AUDIENCE", "jetdesk-agents"),
            jwks_url=jwks_url,
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            twilio_api_base=env.get("TWILIO_API_BASE", "").rstrip("/"),
            meta_api_base=env.get("META_API_BASE", "https://graph.facebook.com/v21.0").rstrip("/"),
            meta_access_token=env.get("META_ACCESS_TOKEN", ""),
            x_api_base=env.get("X_API_BASE", "https://api.x.com").rstrip("/"),
            x_access_token=env.get("X_ACCESS_TOKEN", ""),
            telegram_api_base=env.get("TELEGRAM_API_BASE", "https://api.telegram.org").rstrip("/"),
            telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN", ""),
            ses_endpoint_url=env.get("SES_ENDPOINT_URL") or None,
            support_email=env.get("JETDESK_SUPPORT_EMAIL", "support@jetdesk.local"),
            chat_websocket_endpoint=env.get("JETDESK_CHAT_WEBSOCKET_ENDPOINT", ""),
            attachments_bucket_name=env.get("JETDESK_ATTACHMENTS_BUCKET", ""),
            monitor_only=frozenset(c.strip() for c in env.get("JETDESK_MONITOR_ONLY", "").split(",") if c.strip()),
            sink_url=env.get("JETDESK_SINK_URL", "").rstrip("/"),
            agent_alert_topic_arn=env.get("JETDESK_AGENT_ALERT_TOPIC_ARN", ""),
            alert_sms_from=env.get("JETDESK_ALERT_SMS_FROM", ""),
            integration_webhook_url=env.get("JETDESK_INTEGRATION_WEBHOOK_URL", ""),
            stream_arns={t: env[f"JETDESK_{t.upper()}_STREAM_ARN"] for t in ("inbound", "outbox")
                         if env.get(f"JETDESK_{t.upper()}_STREAM_ARN")},
            max_body_bytes=int(env.get("JETDESK_MAX_BODY_BYTES", 256 * 1024)),
            max_mail_bytes=int(env.get("JETDESK_MAX_MAIL_BYTES", 4 * 1024 * 1024)),
            max_api_body_bytes=int(env.get("JETDESK_MAX_API_BODY_BYTES", 64 * 1024)),
            lease_seconds=int(env.get("JETDESK_LEASE_SECONDS", 120)),
            reopen_days=int(env.get("JETDESK_REOPEN_DAYS", 7)),
            status_link_days=int(env.get("JETDESK_STATUS_LINK_DAYS", 14)),
            bot_enabled=_switch(env.get("JETDESK_BOT", ""), default=stage == "local"),
            bot_knowledge=env.get("JETDESK_BOT_KNOWLEDGE", ""),
            known_agent_days=int(env.get("JETDESK_KNOWN_AGENT_DAYS", 7)),
            known_agent_offer_seconds=int(env.get("JETDESK_KNOWN_AGENT_OFFER_SECONDS", 120)),
        )


def _switch(value: str, default: bool) -> bool:
    if not value:
        return default
    if value.lower() in ("on", "true", "1", "yes"):
        return True
    if value.lower() in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"expected on or off, not {value!r}")


_settings: Optional[Settings] = None


def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env(os.environ)
    return _settings


def override_settings(settings: Optional[Settings]) -> None:
    """For the local stack and tests: install a settings object built elsewhere."""
    global _settings
    _settings = settings
