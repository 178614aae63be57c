"""jobreqs core: configuration, the warehouse, the lake and the record schemas shared by every stage."""
