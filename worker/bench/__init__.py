"""`python -m worker.bench`: our engine against stock KerasCV, from one run.

Both sides run the same parts (the stock ``StableDiffusion`` object is handed the
engine's networks, so there is one UNet and no download) at the same size:

    python -m worker.bench --size 128x128 --steps 10 --vocab merges.txt.gz

Random weights by default (noise, not pictures; the speed is the same); ``--weights
download`` or a folder for the real ones. Counts are measured: UNet calls through a
counter on the stock model and an in-graph counter in ours. A second table repeats the
source documents' four variants (standard, mixed precision, XLA, both) for both sides.
"""
