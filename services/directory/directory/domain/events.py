"""The directory's events are all published: :mod:`confide.contracts.directory` defines them once."""
from confide.contracts.directory import *  # noqa: F401,F403
from confide.contracts.directory import DIRECTORY_EVENTS, Member, Patient, Payer  # noqa: F401
