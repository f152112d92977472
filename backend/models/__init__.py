"""The database models; importing this package registers every table with `db`."""

from backend.models.audit import AuditEntry
from backend.models.blob import Blob
from backend.models.correction import TechnicianCorrection
from backend.models.model_version import ModelVersion
from backend.models.prediction import Prediction
from backend.models.review import Review
from backend.models.security import LoginThrottle, TokenBlocklist
from backend.models.slide import Slide
from backend.models.user import ROLES, User

__all__ = [
    "ROLES",
    "AuditEntry",
    "Blob",
    "LoginThrottle",
    "ModelVersion",
    "Prediction",
    "Review",
    "Slide",
    "TechnicianCorrection",
    "TokenBlocklist",
    "User",
]
