"""The persona speaking first: check-ins after a silence (checkins.py), reminders."""
