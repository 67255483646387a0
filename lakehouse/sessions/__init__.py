"""The sessions family: whole coordinator/validator sessions, recorded once."""

from lakehouse.sessions._api import Sessions
from lakehouse.sessions._family import SESSIONS, SessionsFamily
from lakehouse.sessions._plugin import PLUGIN

__all__ = ["PLUGIN", "SESSIONS", "Sessions", "SessionsFamily"]
