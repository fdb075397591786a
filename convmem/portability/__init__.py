"""Portability: a store as JSON Lines (``convmem export`` / ``import-store``) and one profile's
complete record through the API (``…/Profiles/{profileId}/Export``, a convmem extension)."""
