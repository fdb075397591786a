"""convmem: a self-hostable server for the Twilio Conversation Memory API v1."""

__version__ = "0.1.0"
