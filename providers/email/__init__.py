"""The built-in ``email`` provider: escalations become ticket emails sent through SMTP,
and agents' replies come back through an inbound-mail service.

Modules: ``config`` (the instance's settings), ``references`` (ticket ids, Message-IDs),
``compose`` (the emails), ``sender`` (SMTP with retries and typed errors), ``replies``,
``quotes`` and ``html_text`` (reading a reply), ``inbound`` (the HTTP route), ``memory``
(what one process remembers), ``provider`` (the adapter).
"""

from providers.email.config import EmailConfig
from providers.email.provider import EmailProvider

__all__ = ["EmailConfig", "EmailProvider"]
