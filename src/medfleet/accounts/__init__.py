"""Organizations, sites, departments, users, roles, authentication and e-signatures."""
