"""The paragraph classifier: data recipe (``dataset``), features (``features``), training
(``train``, also ``jobreqs train-classifier``) and the versioned artefacts (``artifact``,
``artifacts/<version>/model.skops`` + ``metrics.json``, ``artifacts/CURRENT``)."""
