"""The register in the database: projections of the log's events, and the services
that are the only way to change them."""
