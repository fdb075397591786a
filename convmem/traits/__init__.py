"""The flattened, paginated view of a profile's traits."""
