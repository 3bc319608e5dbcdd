"""SQLAlchemy 2 models: the target metadata of the Alembic migrations."""

from app.models.base import Base
from app.models.consular import ConsularRequest
from app.models.content import ContentVersion
from app.models.conversation import Conversation

__all__ = ["Base", "ConsularRequest", "ContentVersion", "Conversation"]
