"""The classifier core that the server, training, benchmarks and tests share, free of Flask.

`classify` (a released model folder -> label, confidence, status; also a command line),
`model_card` (model.json: parse and check), `cells/` (the cell finder and the framing a model
declares), `find_cells` (the finder's command line). It needs numpy, scipy, Pillow and
ai-edge-litert; it imports neither `backend` nor `training`. `pwa/js/classifier/` holds its
JavaScript twin.
"""
