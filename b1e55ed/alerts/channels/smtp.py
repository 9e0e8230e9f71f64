"""Email through the standard library's ``smtplib``, in a worker thread (smtplib blocks; there is no asyncio here).

STARTTLS (``security: starttls``) or implicit TLS (``tls``) with the system's certificate checks; ``none`` only
for a relay on loopback (the config refuses it elsewhere). The password comes from ``B1E55ED_KEYS__SMTP_PASSWORD``
and is masked in every message this module builds.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import trio

from b1e55ed.alerts.channels import DeliveryFailed
from b1e55ed.alerts.triggers import Notice
from b1e55ed.alerts_config import SmtpConfig
from b1e55ed.secret import Secret


class SmtpChannel:
    name = "email"
    limited = True

    def __init__(self, config: SmtpConfig, password: Secret) -> None:
        self._config = config
        self._password = password

    async def send(self, notice: Notice) -> None:
        message = EmailMessage()
        message["From"] = self._config.sender
        message["To"] = ", ".join(self._config.recipients)
        message["Subject"] = f"b1e55ed {notice.severity}: {notice.trigger}"
        message.set_content(notice.render() + "\n")
        # abandoned on cancellation: the thread ends by its own socket timeout
        await trio.to_thread.run_sync(self._send, message, abandon_on_cancel=True)

    def _send(self, message: EmailMessage) -> None:
        config = self._config
        try:
            if config.security == "tls":
                context = ssl.create_default_context()
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout_s, context=context
                )
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
            with smtp:
                if config.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if config.username:
                    smtp.login(config.username, self._password.reveal())
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(self._describe(exc), permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(self._describe(exc), permanent=500 <= exc.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(self._describe(exc)) from None

    def _describe(self, exc: BaseException) -> str:
        text = f"smtp {self._config.host}:{self._config.port}: {type(exc).__name__}: {exc}"
        secret = self._password.reveal()
        return text.replace(secret, "***") if secret else text
