"""models: the paragraph classifier (training, data recipe, artefact, metrics) and the technology taxonomy data."""
