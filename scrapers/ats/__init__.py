"""Public job boards of applicant-tracking systems: Greenhouse, Lever, Ashby (collect, shapes, sandboxes)."""
