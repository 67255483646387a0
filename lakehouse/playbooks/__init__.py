"""The playbooks family: endorsed answers to a query, recorded and retired."""

from lakehouse.playbooks._api import Playbooks
from lakehouse.playbooks._family import PLAYBOOKS, PlaybooksFamily

__all__ = ["PLAYBOOKS", "Playbooks", "PlaybooksFamily"]
