"""The playbooks family: endorsed answers to a query, recorded and retired."""

from lakehouse.playbooks._api import Playbooks
from lakehouse.playbooks._family import PLAYBOOKS, PlaybooksFamily
from lakehouse.playbooks._plugin import PLUGIN

__all__ = ["PLAYBOOKS", "PLUGIN", "Playbooks", "PlaybooksFamily"]
