"""The web console served by ``convmem serve`` at ``/console`` (``docs/console.md``): pages over
the same services as the API, signed in with the account's own credentials."""
