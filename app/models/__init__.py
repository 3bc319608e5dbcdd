"""SQLAlchemy 2 models: the target metadata of the Alembic migrations."""

from app.models.admin import ROLES, AdminKey, AuditEntry
from app.models.base import Base
from app.models.consular import (
    REQUEST_STATUSES,
    ConsularMessage,
    ConsularRequest,
    OutboundMessage,
)
from app.models.content import ContentVersion
from app.models.conversation import Conversation
from app.models.gaps import UnansweredQuestion

__all__ = [
    "REQUEST_STATUSES",
    "ROLES",
    "AdminKey",
    "AuditEntry",
    "Base",
    "ConsularMessage",
    "ConsularRequest",
    "ContentVersion",
    "Conversation",
    "OutboundMessage",
    "UnansweredQuestion",
]
