"""Profile history: every change of trait values and identifiers, read per trait or as of an instant."""
