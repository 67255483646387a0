"""The sessions family: whole coordinator/validator sessions, recorded once."""

from lakehouse.sessions._api import Sessions
from lakehouse.sessions._family import SESSIONS, SessionsFamily

__all__ = ["SESSIONS", "Sessions", "SessionsFamily"]
